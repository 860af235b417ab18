"""Frozen settings, built once in ``__main__`` from an optional TOML file and ``CRX_`` environment.

Library code never reads the environment: it receives a ``Settings``. Precedence: defaults < file <
environment < explicit overrides. Secrets are ``Secret`` and print masked.
"""

from __future__ import annotations

import dataclasses
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.kernel.errors import ConfigError

ENV_PREFIX = "CRX_"


@dataclass(frozen=True)
class Secret:
    """A secret string that never shows itself in repr, str or logs."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        """Return the secret value. Call only where the value is used."""
        return self._value

    def __str__(self) -> str:
        return "**********"

    def __repr__(self) -> str:
        return "Secret('**********')"


TRANSACTION_MODES = ("auto", "on", "off")
INTERNAL_FORMATS = (1, 2)


# What sealing adds to a payload, with room to spare: the envelope's fields and ids (< 1 KiB), an HPKE
# encapsulated key (ML-KEM-768 + X25519: 1,120 bytes), the AEAD tag, a signature (< 200 bytes).
ENVELOPE_OVERHEAD_BYTES = 16_384


@dataclass(frozen=True)
class Settings:
    """Everything a crx process needs to know, fixed for the life of the process."""

    # Kafka: plain Kafka everywhere; SASL/TLS settings apply to Apache Kafka (see deploy/).
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: Secret | None = None
    kafka_ssl_cafile: str | None = None
    # Topics: names, partitions, replicas; how often every service checks that its topics exist and
    # recreates missing ones (0: never).
    topic_prefix: str = "crx"
    topic_partitions: int = 4
    topic_replication: int = 1
    topic_check_seconds: float = 10.0
    # "auto": consume-transform-produce services commit outputs and input offsets in one Kafka transaction
    # where the broker grants transactions (Apache Kafka), else at-least-once (Tansu); "on": require them
    # (a service refuses to start without); "off": at-least-once everywhere.
    kafka_transactions: str = "auto"
    # The most each shutdown step may take (finish the batch in flight, leave the group, flush the producer)
    # before the process gives up on it, says so in the log and goes on exiting: Kafka may be gone.
    shutdown_seconds: float = 10.0
    # This replica's stable name, part of its transactional id (fencing a crashed predecessor needs the same
    # id after a restart: a StatefulSet pod name, say). Empty: the host name.
    instance_id: str = ""
    # Clients: records per handled batch, the consumers' fetch wait and group timings, the producer's largest
    # request.
    batch_max_records: int = 500
    fetch_max_wait_ms: int = 20
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    max_request_bytes: int = 2_097_152

    # Parties and files.
    broker_party: str = "crx"
    jurisdictions: tuple[str, ...] = ("DE", "FR", "PL", "US")
    data_dir: Path = Path("var/crx")
    agreements_file: Path | None = None
    key_passphrase: Secret | None = None
    audit_secret: Secret | None = None
    audit_db: str | None = None  # a SQLite file path, or a "postgresql://" URI for the PostgreSQL store
    audit_pg_schema: str = "crx_audit"  # the PostgreSQL schema holding the audit tables
    audit_origin: str | None = None  # the log's checkpoint origin line; None: "<broker_party>/audit"
    audit_checkpoint_entries: int = 100  # sign a checkpoint once this many entries are unsigned ...
    audit_checkpoint_seconds: float = 10.0  # ... or once the oldest unsigned entry is this old (and on stop)
    audit_api_host: str = "127.0.0.1"
    audit_api_port: int = 8089  # read-only proofs: /v1/checkpoint, /v1/proof/{event_id}, /v1/consistency
    audit_api_url: str | None = None  # partner side: the broker's audit API, to prove own deliveries are logged
    partner_log_check_seconds: float = 5.0

    # Limits and input rules.
    max_payload_bytes: int = 1_000_000
    strict_mapping: tuple[str, ...] = ()  # jurisdictions whose records with unmapped codes are dead-lettered

    # Intake: HTTP API and the drop directory for batch files.
    intake_host: str = "127.0.0.1"
    intake_port: int = 8088
    drop_poll_ms: int = 500
    idempotency_ttl_seconds: float = 7 * 86_400.0  # how long an Idempotency-Key's answer is replayed
    # Store-and-forward: every accepted submission is kept (services/intake/outbox.py) until the audit log
    # shows it settled; unsettled after ``reconcile_after_seconds`` it is published again (the same bytes),
    # then again after twice as long, and so on; after ``reconcile_attempts`` it is dead-lettered
    # (UNDELIVERED). ``reconcile_after_seconds`` 0 turns the reconciler off (the outbox is still written).
    intake_db: str | None = None  # None: intake-outbox.sqlite3 in the data directory; or a postgresql:// URI
    intake_pg_schema: str = "crx_intake"
    outbox_max_submissions: int = 200_000
    reconcile_after_seconds: float = 300.0
    reconcile_interval_seconds: float = 5.0
    reconcile_attempts: int = 5
    # A national system's side of the intake (``crx submissions show``): the broker's intake URL and this
    # jurisdiction's bearer token (``crx intake token``). Unset: the command reads the local audit log.
    intake_url: str | None = None
    intake_token: Secret | None = None

    # Cases (services/cases): one per REQUEST and requested state, with a deadline in the requested state's
    # working days (the rules are in the agreements file). The router writes the case book as it routes
    # requests and responses; the case service sends reminders and overdue notices, checking every
    # ``case_check_seconds``.
    cases_db: str | None = None  # None: cases.sqlite3 in the data directory; or a postgresql:// URI
    cases_pg_schema: str = "crx_cases"
    case_check_seconds: float = 30.0

    # The disclosure ledger (services/ledger): which version of which record went to whom, written by the router.
    ledger_db: str | None = None  # None: ledger.sqlite3 in the data directory; or a postgresql:// URI
    ledger_pg_schema: str = "crx_ledger"

    # Retention (services/retention): how long crx keeps its own copies, in days. The services purge what is
    # due every ``retention_check_seconds`` (0: never; ``crx retention run`` does it on demand).
    done_retention_days: float = 30.0  # the drop directory's done/ and failed/ files (national payloads in clear)
    intake_retention_days: float = 30.0  # the intake store's sealed submissions, once settled
    topic_retention_days: float = 7.0  # retention.ms of the feed, records, out and receipts topics
    dlq_retention_days: float = 30.0  # retention.ms of crx.dlq (dead letters wait to be replayed)
    audit_topic_retention_days: float = 30.0  # retention.ms of crx.audit (the audit writer may be down a while)
    retention_check_seconds: float = 3600.0
    # A recipient owes an erasure receipt by the retention end it was given plus this grace (its client purges
    # hourly); later, ``crx audit report --table erasures`` lists it as overdue.
    erasure_grace_days: float = 2.0
    # Crypto-shredding: the broker's own encryption key (feed and records topics, dead letters) is rotated
    # every epoch and destroyed once nothing sealed to it may still be needed (services/keys/epochs.py).
    broker_key_epoch_days: float = 7.0
    # What crx's own components write on its internal topics (feed.<J> from the intake, records from the
    # normaliser): 2, internal hops format 2 (one HPKE wrap per data key, AES-GCM per record, authenticated by
    # the batch signature; schemas/ENVELOPE.md); 1, the format-1 envelope (an HPKE seal and a signature per
    # record). Every reader reads both. A rolling upgrade from a version that cannot read format 2 sets 1
    # until every consumer is upgraded. Dead letters, out.<J> and a jurisdiction's own ``crx push`` stay 1.
    internal_format: int = 2

    # Lookups (services/lookup): hit/no-hit over keyed pseudonyms. The lookup service indexes the records it
    # reads from crx.records and answers ``POST /v1/lookups`` (bearer tokens of the intake, per jurisdiction).
    lookup_db: str | None = None  # None: lookup.sqlite3 in the data directory; or a postgresql:// URI
    lookup_pg_schema: str = "crx_lookup"
    lookup_host: str = "127.0.0.1"
    lookup_port: int = 8090
    lookup_url: str | None = None  # ``crx lookup``: the running service; unset, the local store in the data dir
    lookup_rate_per_minute: float = 60.0  # lookups a jurisdiction may make per minute (token bucket) ...
    lookup_burst: int = 20  # ... and at once
    lookup_require_birth_date: bool = False  # refuse queries without a birth date (names alone hit more namesakes)

    # Observability.
    metrics_host: str = "127.0.0.1"
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        """Raises ConfigError for a value no other check covers."""
        if self.kafka_transactions not in TRANSACTION_MODES:
            raise ConfigError(f"setting kafka_transactions must be one of {', '.join(TRANSACTION_MODES)}")
        if self.internal_format not in INTERNAL_FORMATS:
            raise ConfigError("setting internal_format must be 1 or 2")
        if self.max_request_bytes < self.max_payload_bytes + 3 * ENVELOPE_OVERHEAD_BYTES:
            raise ConfigError(
                "max_request_bytes must hold a payload of max_payload_bytes sealed twice (a dead letter keeps the"
                f" sealed feed envelope): at least max_payload_bytes + {3 * ENVELOPE_OVERHEAD_BYTES}"
            )

    @property
    def max_envelope_bytes(self) -> int:
        """The largest envelope a payload within ``max_payload_bytes`` can become (its plaintext is checked
        against ``max_payload_bytes`` once opened)."""
        return self.max_payload_bytes + ENVELOPE_OVERHEAD_BYTES

    @property
    def instance_name(self) -> str:
        """``instance_id``, or the host name when it is empty."""
        return self.instance_id or socket.gethostname()

    @property
    def keys_dir(self) -> Path:
        """Directory of the key registry and private keys."""
        return self.data_dir / "keys"

    @property
    def intake_tokens_path(self) -> Path:
        """Digests of the intake bearer tokens, per jurisdiction."""
        return self.data_dir / "intake-tokens.json"

    @property
    def drop_dir(self) -> Path:
        """Root of the watched drop directory."""
        return self.data_dir / "drop"

    @property
    def audit_db_path(self) -> str:
        """The audit store location: a SQLite path (default ``<data_dir>/audit.sqlite3``) or a PostgreSQL URI."""
        return self.audit_db or str(self.data_dir / "audit.sqlite3")

    @property
    def audit_log_origin(self) -> str:
        """The audit log's origin: the first line of its checkpoints and the name of its note key."""
        return self.audit_origin or f"{self.broker_party}/audit"

    def topic(self, logical: str) -> str:
        """Physical topic for a logical channel: ``records`` -> ``crx.records``, ``out.FR`` -> ``crx.out.FR``."""
        return f"{self.topic_prefix}.{logical}"

    def group(self, service: str) -> str:
        """Consumer group of a service, prefixed like the topics: ``router`` -> ``crx.router``, ``partner.FR`` ->
        ``crx.partner.FR``; two deployments (or test runs) with different prefixes on one Kafka stay apart."""
        return f"{self.topic_prefix}.{service}"

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied (validated like any other source)."""
        return _build({**_as_dict(self), **changes})


def _as_dict(settings: Settings) -> dict[str, Any]:
    return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}


_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _boolean(raw: Any) -> bool:
    """A bool as is; a string by its word (``true``/``false``, ``yes``/``no``, ``on``/``off``, ``1``/``0``).
    Raises ValueError for anything else."""
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word not in _BOOLEANS:
        raise ValueError("not a boolean")
    return _BOOLEANS[word]


def _coerce(name: str, raw: Any, annotation: str) -> Any:
    if raw is None or isinstance(raw, Secret | Path | tuple):
        return raw
    try:
        if "Secret" in annotation:
            return Secret(str(raw))
        if "Path" in annotation:
            return Path(str(raw))
        if "tuple" in annotation:
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            return tuple(str(i).strip().upper() for i in items if str(i).strip())
        if annotation.startswith("bool"):
            return _boolean(raw)
        if annotation.startswith("int"):
            return int(raw)
        if annotation.startswith("float"):
            return float(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name} has an invalid value") from None


def _build(values: Mapping[str, Any]) -> Settings:
    known = {f.name: str(f.type) for f in dataclasses.fields(Settings)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(unknown)}")
    coerced = {k: _coerce(k, v, known[k]) for k, v in values.items()}
    return Settings(**coerced)


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build Settings from defaults, then the TOML file at ``path``, then ``CRX_*`` in ``environ``.

    Raises ConfigError for an unreadable file, an unknown key or a value of the wrong type.
    """
    values: dict[str, Any] = {}
    if path is not None:
        try:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read settings file {path}: {type(exc).__name__}") from None
    known = {f.name for f in dataclasses.fields(Settings)}
    for key, value in (environ or {}).items():
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :].lower() in known:
            values[key[len(ENV_PREFIX) :].lower()] = value
    values.update({k: v for k, v in overrides.items() if v is not None})
    return _build(values)
