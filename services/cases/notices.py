"""Case notices: the reminder before a case's deadline and the notice when it has passed.

A notice is a ``crx.v1.CaseNotice`` (ids, states, purpose and instants, never the person), sealed to the
requested state alone and signed by the broker like every record on ``crx.out.<state>``, plus its DISCLOSURE
audit event (component ``cases``, message type ``CASE_NOTICE/<KIND>``, reply-to the request). The notice id
is stable per (case, kind), so a notice sent again after a crash is the same message: the partner delivers
it once and the audit writer logs it once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from schemas import CASE_NOTICE
from schemas.records import CaseNotice, CaseNoticeKindSymbol
from services.cases.store import Case
from services.kernel.audit_events import AuditEmitter, AuditEventType, stable_id
from services.kernel.codec import typed_codec
from services.kernel.config import Settings
from services.kernel.envelope import SealContext, Sealer, routing_headers
from services.kernel.kafka import OutRecord

COMPONENT = "cases"
CONTENT_TYPE = "avro/crx.v1.CaseNotice"


def notice_id(case_id: str, kind: CaseNoticeKindSymbol, deadline: dt.datetime) -> str:
    """The id of the ``kind`` notice of a case for this ``deadline`` (a resumed case has a new deadline, so
    its reminder is a new notice)."""
    return stable_id("case-notice", case_id, kind, deadline.isoformat())


@dataclass(frozen=True)
class NoticeMaker:
    """Makes the sealed notice and its audit event for one case, sealed by the broker (``sealer``), audited
    through ``emitter``."""

    settings: Settings
    sealer: Sealer
    emitter: AuditEmitter

    def outputs(self, case: Case, kind: CaseNoticeKindSymbol, now: dt.datetime) -> list[OutRecord]:
        """The notice on ``crx.out.<requested>`` and its DISCLOSURE event. Raises KeyUnavailable when the
        requested state has no active encryption key (the caller retries later)."""
        nid = notice_id(case.case_id, kind, case.deadline)
        notice: CaseNotice = {
            "notice_id": nid,
            "kind": kind,
            "case_id": case.case_id,
            "request_message_id": case.request_message_id,
            "request_external_id": case.external_id,
            "requesting_state": case.requesting,
            "requested_state": case.requested,
            "purpose": case.purpose,
            "received_at": case.received_at,
            "deadline": case.deadline,
            "issued_at": now,
        }
        notices = typed_codec(CASE_NOTICE)
        payload = notices.encode(notice)
        ctx = SealContext(
            channel=f"out.{case.requested}",
            message_id=nid,
            correlation_id=case.case_id,
            sender=self.settings.broker_party,
            recipient=case.requested,
            content_type=CONTENT_TYPE,
            schema_fingerprint=notices.fingerprint,
        )
        sealed = self.sealer.seal(payload, ctx, now)
        event = self.emitter.event(
            AuditEventType.DISCLOSURE,
            occurred_at=now,
            actor=self.settings.broker_party,
            outcome="ok",
            message_id=nid,
            submission_id=case.case_id,
            recipients=[case.requested],
            legal_basis=case.legal_basis,
            purpose=case.purpose,
            reply_to=case.request_message_id,
            source_jurisdiction=case.requesting,
            rule=f"cases/{kind.lower()}",
            payload=payload,
            message_type=f"CASE_NOTICE/{kind}",
            deadline=case.deadline,
        )
        topic = self.settings.topic(ctx.channel)
        return [OutRecord(topic, sealed, key=case.case_id.encode(), headers=routing_headers(ctx)), event]
