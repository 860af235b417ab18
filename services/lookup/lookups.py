"""One lookup, as the API and ``crx lookup`` make it: the request checked, the index asked with every live
index key, the LOOKUP audit event produced, then the answer. No lookup is answered unaudited.

A request is ``{"query": {"names": [{"given", "family"}], "birth_date"?, "nationalities"?}, "purpose":
"<purpose code>", "requesting_authority": "<institution>"}``. Purpose and requesting authority are mandatory;
the purpose must be one the requesting state's agreements allow REQUESTs for (a lookup is the step before a
request). The answer is ``{"lookup_id": "<uuid>", "hits": [{"jurisdiction": "DE", "match": "exact"}]}`` and
nothing else. The requesting state itself is never among the hits: it knows its own register, and the
index holds the records of every source, its own included.

The audit event is a DISCLOSURE with message type ``LOOKUP`` (``audit_events.is_lookup``): actor and
recipient the requesting state, its purpose and requesting authority, message id the lookup id, a salted
commitment to the query (never the query) and the hit states in ``hits``. If it cannot be produced the lookup
fails (``LookupUnavailable``) and nothing is answered.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaError

from services.kernel.audit_events import LOOKUP, AuditEmitter, AuditEventType
from services.kernel.errors import CrxError, TransientError
from services.kernel.kafka import OutRecord
from services.lookup.feed import live_keys
from services.lookup.index import Hit, LookupIndex
from services.lookup.indexkey import IndexKeyStore
from services.lookup.pseudonyms import pseudonyms_of_query
from services.lookup.query import InvalidQuery, LookupQuery, parse_query
from services.router.policy import Policy

MAX_AUTHORITY_CHARS = 200
_PURPOSE = re.compile(r"[A-Z][A-Z0-9_]{0,63}", re.ASCII)


class InvalidLookup(CrxError, dead_letter=False, reason_code="INVALID_LOOKUP"):
    """A lookup request is malformed or incomplete. The message names the field, never its value; the reason
    code says which rule: MISSING_PURPOSE, MISSING_AUTHORITY, BIRTH_DATE_REQUIRED, INVALID_QUERY."""


class PurposeNotAgreed(CrxError, dead_letter=False, reason_code="PURPOSE_NOT_AGREED"):
    """No agreement lets the requesting state make requests for this purpose."""


class LookupUnavailable(TransientError, reason_code="AUDIT_UNAVAILABLE"):
    """The lookup's audit event could not be produced: the lookup is not answered (no unaudited lookup)."""


@dataclass(frozen=True)
class LookupRequest:
    """A checked lookup request."""

    query: LookupQuery
    purpose: str
    requesting_authority: str


def parse_request(body: Any, *, require_birth_date: bool = False) -> LookupRequest:
    """Check a lookup request's JSON body. Raises InvalidLookup naming the field (never its value)."""
    if not isinstance(body, Mapping):
        raise InvalidLookup("the body must be a JSON object", reason_code="INVALID_QUERY")
    unknown = set(body) - {"query", "purpose", "requesting_authority"}
    if unknown:
        raise InvalidLookup(f"unknown field(s): {', '.join(sorted(unknown))}", reason_code="INVALID_QUERY")
    purpose = body.get("purpose")
    if not isinstance(purpose, str) or not _PURPOSE.fullmatch(purpose):
        raise InvalidLookup("purpose is mandatory: a purpose code such as CRIMINAL_PROCEEDINGS",
                            reason_code="MISSING_PURPOSE")  # fmt: skip
    authority = body.get("requesting_authority")
    if not isinstance(authority, str) or not authority.strip() or len(authority) > MAX_AUTHORITY_CHARS:
        detail = f"requesting_authority is mandatory: the institution asking, at most {MAX_AUTHORITY_CHARS} characters"
        raise InvalidLookup(detail, reason_code="MISSING_AUTHORITY")
    try:
        query = parse_query(body.get("query"))  # type: ignore[arg-type]  # checked there
    except InvalidQuery as exc:
        raise InvalidLookup(f"query: {exc.detail}", reason_code="INVALID_QUERY") from None
    if require_birth_date and query.birth_date is None:
        raise InvalidLookup("query.birth_date is required here", reason_code="BIRTH_DATE_REQUIRED")
    return LookupRequest(query, purpose, authority.strip())


def query_bytes(query: LookupQuery) -> bytes:
    """The canonical bytes of a checked query: what the audit event commits to."""
    document = {
        "names": [{"given": given, "family": family} for given, family in query.names],
        "birth_date": query.birth_date.isoformat() if query.birth_date else None,
        "nationalities": list(query.nationalities),
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Answer:
    """A lookup's answer: its id and the hits (the requesting state excluded)."""

    lookup_id: str
    hits: tuple[Hit, ...]

    def as_dict(self) -> dict[str, Any]:
        """``{"lookup_id", "hits": [{"jurisdiction", "match"}]}``: the whole answer."""
        hits = [{"jurisdiction": h.jurisdiction, "match": h.match} for h in self.hits]
        return {"lookup_id": self.lookup_id, "hits": hits}


Send = Callable[[Sequence[OutRecord]], Awaitable[None]]


class Lookups:
    """Answers lookups over one index with the live index keys, auditing each through ``send``."""

    def __init__(
        self,
        index: LookupIndex,
        keys: IndexKeyStore,
        emitter: AuditEmitter,
        send: Send,
        policy: Policy | None,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._index = index
        self._keys = keys
        self._emitter = emitter
        self._send = send
        self._policy = policy
        self._clock = clock

    async def lookup(self, requester: str, request: LookupRequest) -> Answer:
        """Answer ``request`` for the requesting state ``requester`` once its audit event is acknowledged.

        Raises PurposeNotAgreed, KeyUnavailable (no index key), TransientError (the index does not answer),
        LookupUnavailable (the audit event was not acknowledged: nothing may be answered).
        """
        if self._policy is not None and not self._policy.may_request(requester, request.purpose):
            raise PurposeNotAgreed(f"no agreement lets {requester} make requests for purpose {request.purpose}")
        pseudonyms = pseudonyms_of_query(request.query, live_keys(self._keys))
        found = await asyncio.to_thread(self._index.lookup, pseudonyms)
        hits = tuple(h for h in found if h.jurisdiction != requester)
        lookup_id = str(uuid.uuid4())
        event = self._emitter.event(
            AuditEventType.DISCLOSURE,
            occurred_at=self._clock(),
            actor=requester,
            outcome="ok",
            message_id=lookup_id,
            recipients=[requester],
            purpose=request.purpose,
            requesting_authority=request.requesting_authority,
            message_type=LOOKUP,
            payload=query_bytes(request.query),
            hits=[h.jurisdiction for h in hits],
        )
        try:
            await self._send([event])
        except (CrxError, KafkaError) as exc:
            raise LookupUnavailable(f"the lookup's audit event was not acknowledged ({type(exc).__name__})") from None
        return Answer(lookup_id, hits)
