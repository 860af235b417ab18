"""The partner client: consume ``crx.out.<party>``, verify, open, decode, deliver, and send a signed receipt.

Deduplicates by message id across restarts (a delivered message id is never delivered twice to the sink;
its receipt is re-sent, with the same receipt id, so the audit log stays idempotent). Records that fail
verification or decryption are rejected with a negative receipt and skipped: never a crash.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from aiokafka import ConsumerRecord
from prometheus_client import CollectorRegistry, Counter

from schemas import CANONICAL_RECORD, CASE_NOTICE, RECEIPT
from services.cases.notices import COMPONENT as NOTICE_COMPONENT
from services.cases.notices import CONTENT_TYPE as NOTICE_CONTENT_TYPE
from services.kernel.audit_events import disclosure_event_id, receipt_event_id, stable_id
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.envelope import Opener, attach_signature
from services.kernel.errors import CrxError
from services.kernel.kafka import OutRecord
from services.kernel.lifecycle import cancel
from services.kernel.logging import bind_message_id, get_logger
from services.kernel.metrics import ServiceMetrics
from services.kernel.runtime import Ports, Runtime
from services.kernel.service import StreamService
from services.kernel.suites import signature_alg
from services.keys.ring import KeyRing
from services.partner.jsonout import to_json
from services.partner.logwatch import CheckResult, LogWatcher
from services.translog.trust import VKEY_FILE, load_verifiers


class Sink(Protocol):
    """Where a partner's decoded records go. ``delivered`` must survive restarts for deduplication."""

    def delivered(self, message_id: str) -> bool:
        """True when ``message_id`` was delivered before."""
        ...

    def deliver(self, message_id: str, record: dict[str, Any]) -> None:
        """Hand over one record; must be durable when it returns. A case notice (a reminder or an overdue
        notice about a request this party was asked) arrives as ``{"case_notice": {...}}``."""
        ...


class DirectorySink:
    """Writes each record as ``<dir>/<message id>.json`` atomically; the file's presence marks delivery."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def delivered(self, message_id: str) -> bool:
        """True when ``message_id`` was delivered before (survives restarts)."""
        return (self.directory / f"{message_id}.json").exists()

    def deliver(self, message_id: str, record: dict[str, Any]) -> None:
        """Write the record as JSON, durably before it returns (the receipt follows): temp file, fsync,
        rename, fsync of the directory, so a power loss cannot leave a receipted record unwritten."""
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(to_json(record))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.directory / f"{message_id}.json")
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


class CallbackSink:
    """Hands each record to ``callback`` (the partner's own system), then notes its message id in a ledger.

    The ledger (SQLite, ``ledger_path``) makes deduplication survive restarts. Delivery is at-least-once: if
    the process dies after ``callback`` returned but before the id was noted, the record is offered again
    after the restart, so ``callback`` must itself be idempotent on the message id (it is given it). A
    callback that raises is not noted; the batch is retried.
    """

    def __init__(self, callback: Callable[[str, dict[str, Any]], None], ledger_path: Path) -> None:
        self._callback = callback
        ledger_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(ledger_path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS delivered (message_id TEXT PRIMARY KEY, at TEXT NOT NULL)")
        self._lock = threading.Lock()

    def delivered(self, message_id: str) -> bool:
        """True when ``message_id`` was handed over before (survives restarts)."""
        with self._lock:
            row = self._db.execute("SELECT 1 FROM delivered WHERE message_id = ?", (message_id,)).fetchone()
        return row is not None

    def deliver(self, message_id: str, record: dict[str, Any]) -> None:
        """Call the callback, then note the message id durably."""
        self._callback(message_id, record)
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO delivered VALUES (?, ?)", (message_id, dt.datetime.now(dt.UTC).isoformat())
            )

    def close(self) -> None:
        """Close the ledger."""
        with self._lock:
            self._db.close()


class PartnerClient:
    """The partner's handler: one instance per receiving party."""

    def __init__(
        self,
        settings: Settings,
        keyring: KeyRing,
        party: str,
        sink: Sink,
        metrics: ServiceMetrics,
        registry: CollectorRegistry,
        watcher: LogWatcher | None = None,
    ) -> None:
        self.party = party
        self.watcher = watcher
        self._settings = settings
        self._keyring = keyring
        self._opener = Opener(keyring.registry, keyring.store, party)
        self._sink = sink
        self._codec = codec(CANONICAL_RECORD)
        self._receipt_codec = codec(RECEIPT)
        self._notice_codec = codec(CASE_NOTICE)
        self._metrics = metrics
        self._broker = frozenset({settings.broker_party})
        self._channel = f"out.{party}"
        self._log = get_logger(f"partner-{party}")
        self.rejected = Counter(
            "crx_partner_rejected", "Deliveries refused by the partner client", ["party", "reason"], registry=registry
        )
        self.accepted = Counter("crx_partner_accepted", "Deliveries accepted", ["party"], registry=registry)

    async def handle(self, records: list[ConsumerRecord]) -> list[OutRecord]:
        """Deliver one batch; returns the receipts to send."""
        now = dt.datetime.now(dt.UTC)
        expected: list[tuple[str, str, str]] = []
        receipts = [self._one(rec, now, expected) for rec in records]
        if self.watcher is not None:
            self.watcher.expect(expected)  # one transaction per batch
        return receipts

    def _one(self, rec: Any, now: dt.datetime, expected: list[tuple[str, str, str]]) -> OutRecord:
        value: bytes = rec.value or b""
        try:
            opened = self._opener.open(
                value, channel=self._channel, now=now, signers=self._broker, headers=dict(rec.headers or ())
            )
            with bind_message_id(message_id=opened.message_id):
                notice = opened.envelope["content_type"] == NOTICE_CONTENT_TYPE
                payload_codec = self._notice_codec if notice else self._codec
                fingerprint = opened.envelope["schema_fingerprint"]
                if not payload_codec.knows(fingerprint) or opened.plaintext[2:10] != fingerprint:
                    raise CrxError("unknown payload schema", reason_code="CODEC")
                if not self._sink.delivered(opened.message_id):
                    record = payload_codec.decode(opened.plaintext)
                    named = record["notice_id"] if notice else record["header"]["message_id"]
                    if str(named) != opened.message_id:
                        raise CrxError("record and envelope name different messages", reason_code="MISMATCH")
                    self._sink.deliver(opened.message_id, {"case_notice": record} if notice else record)
                self.accepted.labels(self.party).inc()
                self._log.info("delivered", channel=self._channel)
                correlation_id = str(opened.envelope["correlation_id"])
                receipt_id = self._receipt_id(opened.message_id, "ACCEPTED")
                receipt = self._receipt(opened.message_id, correlation_id, value, "ACCEPTED", None, now, receipt_id)
                message_id = opened.message_id
                component = NOTICE_COMPONENT if notice else "router"
                disclosure = disclosure_event_id(message_id, correlation_id, self.party, component)
                expected.append((disclosure, "DISCLOSURE", message_id))
                receipt_event = receipt_event_id(message_id, correlation_id, self.party, receipt_id)
                expected.append((receipt_event, "DELIVERY_RECEIPT", message_id))
                return receipt
        except CrxError as exc:
            self.rejected.labels(self.party, exc.reason_code).inc()
            self._metrics.errors.labels(f"partner-{self.party}", type(exc).__name__).inc()
            self._log.warning("delivery rejected", reason=exc.reason_code, offset=rec.offset)
            env = self._peek(value)
            message_id = str(env.get("message_id") or stable_id("unreadable", rec.topic, str(rec.offset)))
            return self._receipt(
                message_id, str(env.get("correlation_id") or message_id), value, "REJECTED", exc.reason_code, now
            )

    def _peek(self, value: bytes) -> dict[str, Any]:
        try:
            return self._opener.parse(value)
        except CrxError:
            return {}

    def _receipt_id(self, message_id: str, outcome: str) -> str:
        """The same for every receipt of one outcome of one message at this party, whatever the envelope's
        bytes: a record re-sealed and delivered again (after a key rotation, a retry) is receipted once."""
        return stable_id("receipt", self.party, message_id, outcome)

    def _receipt(
        self,
        message_id: str,
        correlation_id: str,
        value: bytes,
        outcome: str,
        reason: str | None,
        now: dt.datetime,
        receipt_id: str | None = None,
    ) -> OutRecord:
        entry = self._keyring.registry.active(self.party, "signing", now)
        receipt = {
            "receipt_id": receipt_id or self._receipt_id(message_id, outcome),
            "message_id": message_id,
            "correlation_id": correlation_id,
            "party": self.party,
            "channel": self._channel,
            "outcome": outcome,
            "reason": reason,
            "envelope_sha256": hashlib.sha256(value).digest(),
            "received_at": now,
            "signer_key_id": entry.key_id,
            "signature": None,
        }
        unsigned = self._receipt_codec.encode(receipt)
        key = self._keyring.store.load(self.party, entry.key_id)
        signature = signature_alg(entry.algorithm).sign(key, unsigned)
        return OutRecord(
            self._settings.topic("receipts"), attach_signature(unsigned, signature), key=message_id.encode()
        )


def build(
    runtime: Runtime,
    *,
    ports: Ports,
    party: str,
    sink: Path | Sink,
    audit_url: Callable[[], str] | None = None,
) -> PartnerService:
    """A partner client for ``party`` writing JSON records to a directory (or any other sink).

    With an audit log URL (``audit_url``, else the configured ``audit_api_url``) the client also proves,
    every ``partner_log_check_seconds``, that its deliveries and receipts are in the audit log and that the
    log's history only ever grows (``logwatch``), against the log keys in ``<keys_dir>/audit-note.vkey``.
    Raises KeyUnavailable when a log is to be watched and that file is missing or malformed.
    """
    settings, registry = runtime.settings, runtime.new_registry()
    if audit_url is None and settings.audit_api_url:
        configured = settings.audit_api_url.rstrip("/")
        audit_url = lambda: configured  # noqa: E731 - a constant URL
    watcher = None
    if audit_url is not None:
        verifiers = load_verifiers(settings.keys_dir / VKEY_FILE)
        state = settings.data_dir / "logwatch" / f"{party}.sqlite3"  # each partner proves its own events
        watcher = LogWatcher(party, audit_url, verifiers, settings.audit_log_origin, state, registry)
    metrics = ServiceMetrics.create(registry, service=f"partner-{party}")
    client = PartnerClient(
        settings,
        runtime.keyring,
        party,
        DirectorySink(sink) if isinstance(sink, Path) else sink,
        metrics,
        registry,
        watcher,
    )
    return PartnerService(
        settings,
        watcher=watcher,
        name=f"partner-{party}",
        group_id=settings.group(f"partner.{party}"),
        topics=[settings.topic(f"out.{party}")],
        output_topics=[settings.topic("receipts")],
        handler=client.handle,
        metrics=metrics,
        registry=registry,
        metrics_port=ports.metrics,
    )


class PartnerService(StreamService):
    """The partner's stream service, plus the periodic audit-log check when a watcher is given."""

    def __init__(self, settings: Settings, *, watcher: LogWatcher | None, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.watcher = watcher
        self._period = settings.partner_log_check_seconds
        self._task: asyncio.Task[None] | None = None
        self.last_check: CheckResult | None = None

    async def start(self) -> None:
        """Start consuming, then the log checks."""
        await super().start()
        if self.watcher is not None and self._task is None:
            self._task = asyncio.create_task(self._checks(), name=f"{self.name}-logwatch")

    async def stop(self) -> None:
        """Stop the log checks, then drain and stop consuming."""
        task, self._task = self._task, None
        await cancel(task)
        await super().stop()

    async def _checks(self) -> None:
        assert self.watcher is not None
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            while True:
                await asyncio.sleep(self._period)
                try:
                    self.last_check = await self.watcher.check_once(session)
                except (aiohttp.ClientError, TimeoutError) as exc:  # the log is unreachable: try again later
                    self._log.warning("audit log unreachable", error_class=type(exc).__name__)
