"""The router: open each canonical record, decide per recipient, minimise, seal to the recipient, sign.

Per record: for every allowed recipient an envelope on ``crx.out.<recipient>`` plus a DISCLOSURE audit
event; for every refused candidate (or for the record as a whole when nobody may receive it) a REFUSAL
audit event naming the rule and reason. A record that cannot be opened or decoded is dead-lettered.

Requests and responses are cases (``services.cases.book``): a REQUEST the policy lets through opens a case
per requested state before it is disclosed (its DISCLOSURE carries the deadline); a RESPONSE, a cancellation
or more information is disclosed only if it follows an open case, else refused with NO_OPEN_REQUEST.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Any

from aiokafka import ConsumerRecord
from prometheus_client import CollectorRegistry, Counter

from schemas.records import CriminalRecord
from services.cases.book import CASE_TYPES, NO_OPEN_REQUEST, CaseBook
from services.cases.deadlines import DeadlineRules
from services.cases.store import CaseStore
from services.kernel.audit_events import AuditEventType
from services.kernel.envelope import SealContext, routing_headers
from services.kernel.kafka import OutRecord
from services.kernel.metrics import ServiceMetrics
from services.kernel.runtime import Ports, Runtime
from services.kernel.service import StreamService, Wiring
from services.kernel.stage import RecordStage
from services.ledger.lifecycle import LIFECYCLE_TYPES, Lifecycle, Step, key_of
from services.ledger.retention import retention_end
from services.ledger.store import Disclosure, DisclosureLedger
from services.ledger.view import LedgerView
from services.router.minimise import minimisation, minimise
from services.router.policy import Decision, Policy

NAME = "router"
RECORD_CONTENT_TYPE = "avro/crx.v1.CriminalRecord"
RECORD_KEY_BYTES = 16  # services.kernel.recordkey


class Router(RecordStage):
    """The router's handler."""

    def __init__(
        self,
        runtime: Runtime,
        policy: Policy,
        metrics: ServiceMetrics,
        cases: CaseBook | None = None,
        registry: CollectorRegistry | None = None,
        ledger: DisclosureLedger | None = None,
    ) -> None:
        super().__init__(NAME, runtime, metrics)
        settings = runtime.settings
        self._policy = policy
        self._cases = cases
        self._lifecycle = Lifecycle(ledger, policy, frozenset(settings.jurisdictions)) if ledger is not None else None
        self._view: LedgerView | None = None  # the ledger as this batch sees it, while a batch is handled
        self._refusals = Counter(
            "crx_refusals", "Recipients refused by the router, by reason (a record refused to nobody: recipient '-')",
            ["reason"], registry=registry,
        )  # fmt: skip

    @contextmanager
    def batch(self, records: list[ConsumerRecord]) -> Iterator[None]:
        """The batch's ledger: every record key of the batch read in one transaction before its first record
        is decided (the Kafka key is the record key: a hint only, a key it misses is read when met), every
        disclosure of the batch written in one transaction after its last, before anything of it is produced
        (so a correction always finds every holder). Raises TransientError when the ledger does not answer."""
        if self._lifecycle is None:
            yield
            return
        hints = {rec.key.hex() for rec in records if isinstance(rec.key, bytes) and len(rec.key) == RECORD_KEY_BYTES}
        self._view = LedgerView(self._lifecycle.ledger, hints)
        try:
            yield
            self._view.flush()
        finally:
            self._view = None

    def record(self, record: CriminalRecord, submission_id: str, rec: Any, now: dt.datetime) -> list[OutRecord]:
        """Per recipient a sealed minimised view and its DISCLOSURE, or a REFUSAL."""
        return self._route(record, submission_id, rec.key, now)

    def _route(
        self, record: CriminalRecord, submission_id: str, key: bytes | None, now: dt.datetime
    ) -> list[OutRecord]:
        outputs: list[OutRecord] = []
        lifecycle = self._lifecycle is not None and record["header"]["message_type"] in LIFECYCLE_TYPES
        view = self._view
        if lifecycle:
            assert self._lifecycle is not None
            view = view or LedgerView(self._lifecycle.ledger)  # a record handled outside a batch: its own view
            steps = self._lifecycle.steps(record, now, view)
        else:
            steps = [Step(d, record) for d in self._policy.decide(record)]
        disclosed: list[Disclosure] = []
        views: dict[Hashable, bytes] = {}  # this record's encoded views, each encoded once for all its recipients
        for step in steps:
            decision, sent = step.decision, step.record
            if decision.allowed and decision.recipient not in self._settings.jurisdictions:
                decision = Decision(decision.recipient, False, decision.rule, "RECIPIENT_NOT_CONFIGURED")
            deadline = None
            if decision.allowed and self._cases is not None and record["header"]["message_type"] in CASE_TYPES:
                decision, deadline = self._case(record, decision, submission_id, now)
            if not decision.allowed:
                outputs.append(self._refuse(record, decision, submission_id, now))
                continue
            retention = retention_end(sent, decision.agreement, now) if lifecycle else None
            encoded = self._encoded_view(sent, decision, step.bare, retention, views)
            outputs.extend(self._disclose(sent, encoded, decision, submission_id, key, now, deadline, retention))
            if lifecycle:
                disclosed.append(self._ledger_row(sent, decision, now, retention))
        if view is not None:
            view.add(disclosed)  # seen by the batch's later records; written before anything of it is produced
            if view is not self._view:
                view.flush()
        return outputs

    @staticmethod
    def _ledger_row(
        sent: CriminalRecord, decision: Decision, now: dt.datetime, retention: dt.date | None
    ) -> Disclosure:
        header = sent["header"]
        assert decision.recipient is not None  # allowed implies a recipient
        return Disclosure(
            record_key=key_of(sent),
            recipient=decision.recipient,
            version=header["source_record_version"],
            message_id=str(header["message_id"]),
            message_type=header["message_type"],
            agreement=decision.agreement.id if decision.agreement else None,
            disclosed_at=now,
            retention_end=retention,
        )

    def _case(
        self, record: CriminalRecord, decision: Decision, submission_id: str, now: dt.datetime
    ) -> tuple[Decision, dt.datetime | None]:
        """The decision for a request or response once the case book has had its say, and the case deadline
        to audit with a disclosure that opens a case (None otherwise). Raises TransientError (the batch
        waits) when the case store does not answer."""
        assert self._cases is not None and decision.recipient is not None  # allowed implies a recipient
        header = record["header"]
        if header["message_type"] == "REQUEST" and header["case_message"] is None:
            agreement = decision.agreement.id if decision.agreement else None
            case = self._cases.open(record, decision.recipient, agreement, submission_id, now)
            return decision, case.deadline
        verdict = self._cases.follow(record, decision.recipient, submission_id, now)
        if verdict.allowed:
            return Decision(decision.recipient, True, f"{decision.rule}/{verdict.rule}", None, decision.agreement), None
        refused = Decision(
            decision.recipient, False, f"{decision.rule}/{verdict.rule}", NO_OPEN_REQUEST, decision.agreement
        )
        return refused, None

    def _encoded_view(
        self,
        record: CriminalRecord,
        decision: Decision,
        bare: bool,
        retention: dt.date | None,
        views: dict[Hashable, bytes],
    ) -> bytes:
        """The encoded view of ``record`` for ``decision``'s recipient: the record as sent when ``bare`` (else
        minimised under its agreement's profile) with every conviction's ``retention_end`` set to ``retention``
        when there is one. Encoded once per distinct view in ``views`` (keyed by the record object, which outlives
        ``views``, and what decides the view): recipients with the same view get the same bytes, as they would
        encoding it each. Raises ValidationError when the view does not fit the schema."""
        agreement = decision.agreement
        assert bare or agreement is not None  # allowed implies an agreement, or a bare deletion
        minimised = None if bare or agreement is None else minimisation(agreement)
        key = (id(record), minimised, retention)
        view = views.get(key)
        if view is None:
            shown = record if agreement is None or minimised is None else minimise(record, agreement)
            if retention is not None:  # the recipient's erase-by date, whatever the profile: an instruction
                shown = {**shown, "convictions": [{**c, "retention_end": retention} for c in shown["convictions"]]}
            view = views[key] = self._codec.encode(shown)
        return view

    def _disclose(
        self,
        record: CriminalRecord,
        view: bytes,
        decision: Decision,
        submission_id: str,
        key: bytes | None,
        now: dt.datetime,
        deadline: dt.datetime | None = None,
        retention: dt.date | None = None,
    ) -> list[OutRecord]:
        """The sealed envelope of the encoded ``view`` of ``record`` to ``decision``'s recipient, and its DISCLOSURE
        (committing to ``view``). Raises KeyUnavailable when a key is missing."""
        assert decision.recipient is not None  # allowed implies a recipient
        header = record["header"]
        recipient = decision.recipient
        ctx = SealContext(
            channel=f"out.{recipient}",
            message_id=str(header["message_id"]),
            correlation_id=submission_id,
            sender=self._settings.broker_party,
            recipient=recipient,
            content_type=RECORD_CONTENT_TYPE,
            schema_fingerprint=self._codec.fingerprint,
        )
        sealed = self._sealer.seal(view, ctx, now)
        audit = self.record_event(
            AuditEventType.DISCLOSURE,
            header,
            now=now,
            submission_id=submission_id,
            recipients=[recipient],
            rule=decision.rule,
            payload=view,
            deadline=deadline,
            **self._lifecycle_fields(record, retention),
        )
        self._log.info("disclosed", recipient=recipient, rule=decision.rule)
        out = OutRecord(self._settings.topic(ctx.channel), sealed, key=key, headers=routing_headers(ctx))
        return [out, audit]

    def _lifecycle_fields(self, record: CriminalRecord, retention: dt.date | None) -> dict[str, Any]:
        """Record key, version and retention end for the audit event of a notification, update or deletion."""
        header = record["header"]
        if self._lifecycle is None or header["message_type"] not in LIFECYCLE_TYPES:
            return {}
        version = header["source_record_version"]
        return {"record_key": key_of(record), "record_version": version, "retention_end": retention}

    def _refuse(self, record: CriminalRecord, decision: Decision, submission_id: str, now: dt.datetime) -> OutRecord:
        header = record["header"]
        self._log.info("refused", reason=decision.reason, rule=decision.rule)
        self._refusals.labels(decision.reason or "-").inc()
        return self.record_event(
            AuditEventType.REFUSAL,
            header,
            now=now,
            outcome="refused",
            submission_id=submission_id,
            recipients=[decision.recipient] if decision.recipient else [],
            reason=decision.reason,
            rule=decision.rule,
            **self._lifecycle_fields(record, None),
        )


def build(runtime: Runtime, *, ports: Ports) -> StreamService:
    """The router as a runnable service, deciding under the agreements file named in the settings.

    Raises PolicyError when the agreements file is invalid.
    """
    settings, wiring = runtime.settings, Wiring.of(runtime, NAME, ports)
    policy = Policy.load(settings.agreements_file)
    cases = CaseBook(CaseStore.open(settings), DeadlineRules.load(settings.agreements_file), runtime.audit_secret)
    ledger = DisclosureLedger.open(settings)
    router = Router(runtime, policy, wiring.metrics, cases, wiring.registry, ledger)
    outs = [settings.topic(f"out.{j}") for j in settings.jurisdictions]
    return StreamService(
        wiring,
        topics=[settings.topic("records")],
        output_topics=[*outs, settings.topic("audit"), settings.topic("dlq")],
        handler=router.handle,
    )
