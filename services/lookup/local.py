"""A lookup on the broker's own host, without the running service: ``crx lookup`` with no ``CRX_LOOKUP_URL``.

The same core as the API (``lookups.Lookups``) over the local index in the data directory (``lookup_db``), with
the broker's index keys, and the same audit: the LOOKUP event is produced to ``crx.audit`` on the configured
broker, signed as the lookup component. When no broker answers the lookup is refused: no unaudited lookup.
No rate limit applies here: whoever runs it holds the broker's keys already.
"""

from __future__ import annotations

from typing import Any

from services.kernel.audit_events import AuditEmitter
from services.kernel.config import Settings
from services.kernel.errors import ConfigError
from services.kernel.kafka import Producer
from services.kernel.runtime import Runtime
from services.lookup.feed import NAME
from services.lookup.keyadmin import key_store, open_index
from services.lookup.lookups import Lookups, parse_request
from services.router.policy import Policy


async def local_lookup(settings: Settings, requester: str, body: Any) -> dict[str, Any]:
    """Answer the lookup request ``body`` for ``requester`` from the local index, once audited.

    Raises ConfigError (``requester`` not a configured jurisdiction), InvalidLookup, PurposeNotAgreed,
    KeyUnavailable, TransientError, LookupUnavailable (the audit event was not acknowledged), KafkaError
    (no broker answers: nothing was looked up).
    """
    if requester not in settings.jurisdictions:
        raise ConfigError(f"{requester} is not a configured jurisdiction ({', '.join(settings.jurisdictions)})")
    request = parse_request(body, require_birth_date=settings.lookup_require_birth_date)
    runtime = Runtime.create(settings)
    index = open_index(settings)
    producer = Producer(settings, signer=runtime.signer(NAME))
    try:
        await producer.start()
        emitter = AuditEmitter(NAME, settings.topic("audit"), runtime.audit_secret)
        policy = Policy.load(settings.agreements_file)
        lookups = Lookups(index, key_store(settings), emitter, producer.send_all, policy, runtime.clock)
        answer = await lookups.lookup(requester, request)
        return answer.as_dict()
    finally:
        await producer.stop()
        index.close()
