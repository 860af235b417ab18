"""TypedDicts of the crx message contracts: the records that flow through the services as dicts.

GENERATED from schemas/*.avsc by tools/avro_typeddict.py: do not edit. After changing a schema, run

    python -m tools.avro_typeddict

tests/schemas/test_records_types.py fails while this file and the schemas disagree. The tool's docstring says how Avro
maps to Python (every field a required key, enums as Literal, logical types). Top-level records: ``canonical_record`` ->
``CriminalRecord``, ``envelope`` -> ``Envelope``, ``audit_event`` -> ``AuditEvent``, ``receipt`` -> ``Receipt``,
``dead_letter`` -> ``DeadLetter``, ``case_notice`` -> ``CaseNotice``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal, TypedDict

# Symbols of the Avro enum ``crx.v1.MessageType``.
MessageTypeSymbol = Literal["NOTIFICATION", "UPDATE", "DELETION", "REQUEST", "RESPONSE", "RECEIPT", "ERROR"]


# Symbols of the Avro enum ``crx.v1.Urgency``.
UrgencySymbol = Literal["NORMAL", "URGENT"]


# Symbols of the Avro enum ``crx.v1.CaseMessage`` (enum default 'OTHER': decoding maps a symbol this version lacks to
# it).
CaseMessageSymbol = Literal["OTHER", "CANCELLATION", "MORE_INFORMATION_REQUEST", "MORE_INFORMATION"]


# Symbols of the Avro enum ``crx.v1.ResponseOutcome`` (enum default 'OTHER': decoding maps a symbol this version lacks
# to it).
ResponseOutcomeSymbol = Literal[
    "OTHER",
    "CONVICTIONS_FOUND",
    "NO_RECORD",
    "NOT_A_NATIONAL",
    "REFUSED_UNDER_NATIONAL_LAW",
    "MULTIPLE_MATCHES",
    "INSUFFICIENT_IDENTIFICATION",
]


class Header(TypedDict):
    """Avro record ``crx.v1.Header``."""

    # Stable: the same source record version yields the same id.
    message_id: str | uuid.UUID
    message_type: MessageTypeSymbol
    # ISO 3166-1 alpha-2 of the sending state.
    source_jurisdiction: str
    # The sender's own identifier of the conviction record.
    source_record_id: str
    source_record_version: int
    reply_to: str | None
    created_at: dt.datetime
    # The legal instrument the exchange rests on, e.g. 'EU-FD-2009/315'.
    legal_basis: str
    # Purpose code, e.g. 'CRIMINAL_PROCEEDINGS' (ECRIS 'A').
    purpose: str
    urgency: UrgencySymbol
    deadline: dt.datetime | None
    # Version of the common offence/penalty tables the categories refer to.
    reference_tables: str
    # States the sender addressed the message to (ISO 3166-1 alpha-2): the requested states of a REQUEST, the requester
    # of a RESPONSE. Empty for notifications, whose recipients the rules derive.
    addressed_to: list[str]
    # The sender's own identifier of the message (e.g. an ECRIS message identifier), kept for correlation with the
    # national system.
    external_message_id: str | None
    # The authority on whose behalf a REQUEST is made (a court, a prosecutor's office), as the requesting state names
    # it: an institution, never a person. Null for other message types.
    requesting_authority: str | None
    # Null for an ordinary message: a REQUEST opens a case, a RESPONSE answers one.
    case_message: CaseMessageSymbol | None
    # The outcome of a RESPONSE; null for other message types. A format that does not say gets CONVICTIONS_FOUND or
    # NO_RECORD from its adapter, by the convictions it carries.
    outcome: ResponseOutcomeSymbol | None
    # The crx lookup (hit/no-hit, POST /v1/lookups) a REQUEST follows: the lookup_id its answer gave. Null when the
    # request follows no lookup, and for other message types.
    lookup_id: str | None


# Symbols of the Avro enum ``crx.v1.NameKind``.
NameKindSymbol = Literal["CURRENT", "BIRTH", "FORMER", "ALIAS"]


class PersonName(TypedDict):
    """Avro record ``crx.v1.PersonName``."""

    kind: NameKindSymbol
    given: str | None
    family: str
    # ISO 15924 script of given/family.
    script: str
    # Latin transliteration when script is not Latn.
    transliteration: str | None


# Symbols of the Avro enum ``crx.v1.Sex``.
SexSymbol = Literal["MALE", "FEMALE", "OTHER", "UNKNOWN"]


class PartialDate(TypedDict):
    """Avro record ``crx.v1.PartialDate``. A date whose precision is explicit: year, month and day may each be unknown
    (null).
    """

    year: int | None
    month: int | None
    day: int | None


class Place(TypedDict):
    """Avro record ``crx.v1.Place``."""

    town: str | None
    # ISO 3166-1 alpha-2.
    country: str | None


class NationalIdentifier(TypedDict):
    """Avro record ``crx.v1.NationalIdentifier``."""

    # e.g. 'PESEL', 'NIR', 'FBI', 'SID'.
    scheme: str
    value: str
    # ISO 3166-1 alpha-2 or agency code.
    issuer: str


class Person(TypedDict):
    """Avro record ``crx.v1.Person``."""

    names: list[PersonName]
    sex: SexSymbol
    birth_date: PartialDate
    birth_place: Place | None
    # ISO 3166-1 alpha-2 codes.
    nationalities: list[str]
    national_identifiers: list[NationalIdentifier]
    parent_names: list[str]
    fingerprint_reference: str | None


class Court(TypedDict):
    """Avro record ``crx.v1.Court``."""

    name: str
    place: str | None


# Symbols of the Avro enum ``crx.v1.Completion``.
CompletionSymbol = Literal["COMPLETED", "ATTEMPTED", "PREPARATION", "UNKNOWN"]


# Symbols of the Avro enum ``crx.v1.Participation``.
ParticipationSymbol = Literal["PERPETRATOR", "CO_PERPETRATOR", "ACCESSORY", "INSTIGATOR", "UNKNOWN"]


class Offence(TypedDict):
    """Avro record ``crx.v1.Offence``."""

    national_code: str
    national_title: str
    # The statute or article when the source gives one besides the code (e.g. 'CA PC 459').
    legal_reference: str | None
    # ISO 639-1 language of national_title.
    title_language: str
    # Common offence category code, or 'UNKNOWN' when unmapped.
    category: str
    completion: CompletionSymbol
    participation: ParticipationSymbol
    committed_on: PartialDate | None
    place: Place | None


class Duration(TypedDict):
    """Avro record ``crx.v1.Duration``."""

    years: int
    months: int
    days: int
    hours: int


class Sanction(TypedDict):
    """Avro record ``crx.v1.Sanction``."""

    national_code: str | None
    # Common penalty category code, or 'UNKNOWN'.
    category: str
    duration: Duration | None
    # Decimal string, no float rounding.
    amount: str | None
    # ISO 4217.
    currency: str | None
    suspended: bool
    probation: Duration | None


# Symbols of the Avro enum ``crx.v1.LaterDecisionKind``.
LaterDecisionKindSymbol = Literal[
    "PARDON",
    "AMNESTY",
    "REHABILITATION",
    "REVERSAL",
    "SENTENCE_MODIFICATION",
    "SUSPENSION_REVOKED",
    "EXPUNGEMENT",
    "OTHER",
]


class LaterDecision(TypedDict):
    """Avro record ``crx.v1.LaterDecision``."""

    kind: LaterDecisionKindSymbol
    decision_date: dt.date
    effective_from: dt.date | None


class Conviction(TypedDict):
    """Avro record ``crx.v1.Conviction``."""

    conviction_id: str
    court: Court
    decision_date: dt.date
    date_final: dt.date | None
    file_number: str | None
    offences: list[Offence]
    sanctions: list[Sanction]
    later_decisions: list[LaterDecision]
    retention_end: dt.date | None


# Symbols of the Avro enum ``crx.v1.ChargeStage`` (enum default 'OTHER': decoding maps a symbol this version lacks to
# it).
ChargeStageSymbol = Literal["ARREST", "PROSECUTION", "COURT", "OTHER"]


class OtherCharge(TypedDict):
    """Avro record ``crx.v1.OtherCharge``."""

    stage: ChargeStageSymbol
    national_code: str
    national_title: str
    # ISO 639-1 language of national_title.
    title_language: str
    legal_reference: str | None
    # Common offence category code, or 'UNKNOWN' when unmapped.
    category: str
    # The source's disposition text or code (e.g. 'DISMISSED', 'PENDING').
    disposition: str | None
    disposition_date: PartialDate | None
    # The arresting or prosecuting agency or court.
    agency: str | None


class CriminalRecord(TypedDict):
    """Avro record ``crx.v1.CriminalRecord``. One criminal-record message in the crx canonical model (ECRIS-shaped,
    generalised). Personal data: always sealed on the wire.
    """

    header: Header
    person: Person
    convictions: list[Conviction]
    # Non-conviction information (charges that did not end in a conviction: arrests, dismissed or pending charges). Sent
    # only to recipients whose agreement allows non-conviction information.
    other_charges: list[OtherCharge]


class Envelope(TypedDict):
    """Avro record ``crx.v1.Envelope``. A payload sealed with HPKE (RFC 9180, base mode, single shot) to one recipient
    key, and signed. See schemas/ENVELOPE.md for the info encoding and the signature input.
    """

    # 1 for this layout.
    format_version: int
    message_id: str
    # The submission this payload descends from (opaque UUID).
    correlation_id: str
    # Logical channel: 'feed.DE', 'records', 'out.FR', 'dlq'. Not the physical topic name.
    channel: str
    # Party id of the sealer: 'crx' for the broker, or a jurisdiction code.
    sender: str
    # Party id that alone can open it.
    recipient: str
    recipient_key_id: str
    # HPKE suite name, e.g. 'P256-SHA256-AES256GCM'.
    suite: str
    # 'avro/crx.v1.CriminalRecord' or 'feed/<adapter-name>'.
    content_type: str
    # CRC-64-AVRO of the payload's writer schema; empty for raw feed payloads.
    schema_fingerprint: bytes
    created_at: dt.datetime
    # HPKE single-shot output: enc || ciphertext.
    sealed: bytes
    # Party id of the signer.
    signer: str | None
    signer_key_id: str | None
    # Over the single-object encoding of this envelope with signature = null.
    signature: bytes | None


# Symbols of the Avro enum ``crx.v1.AuditEventType``.
AuditEventTypeSymbol = Literal[
    "COLLECTION",
    "NORMALISATION",
    "REFUSAL",
    "DISCLOSURE",
    "DELIVERY_RECEIPT",
    "DEAD_LETTER",
    "ERROR",
    "ERASURE",
    "KEY_CHANGE",
    "POLICY_CHANGE",
]


class AuditEvent(TypedDict):
    """Avro record ``crx.v1.AuditEvent``. One audited act. Never carries personal data in clear: only ids, codes and a
    salted commitment to the payload.
    """

    # Stable: redelivery of the same act yields the same id.
    event_id: str | uuid.UUID
    event_type: AuditEventTypeSymbol
    occurred_at: dt.datetime
    component: str
    # The party that acted: 'crx' or a jurisdiction code.
    actor: str
    recipients: list[str]
    legal_basis: str | None
    purpose: str | None
    message_id: str | None
    submission_id: str | None
    reply_to: str | None
    source_jurisdiction: str | None
    # 'ok', 'refused', 'dead_lettered', 'accepted', 'rejected'.
    outcome: str
    # Typed reason code; never record content.
    reason: str | None
    # The policy rule that decided, where one did.
    rule: str | None
    # SHA-256(salt || payload), salt derived from the audit secret and message id.
    payload_commitment: bytes | None
    # The message type of the record acted on (NOTIFICATION, REQUEST, RESPONSE, ...), with its case message after a '/'
    # when it has one (REQUEST/CANCELLATION); CASE_NOTICE/<kind> for a case notice.
    message_type: str | None
    # For a REQUEST, the authority that asked (an institution, never a person): ECRIS-TCN Art. 31, CJIS 5.4.
    requesting_authority: str | None
    # For a REQUEST's disclosure and a case notice, the case's deadline (the requested state's working days).
    deadline: dt.datetime | None
    # The record's opaque key: hex of the first 16 bytes of SHA-256(source jurisdiction 0x1F source record id), the
    # Kafka partition key; never personal data. Set on the router's disclosures and refusals of notifications, updates
    # and deletions (the disclosure ledger is rebuilt from it).
    record_key: str | None
    # The version of the record acted on (source_record_version).
    record_version: int | None
    # For a disclosure, the day the recipient must erase the record: the record's own retention end, bounded by the
    # agreement's retention_days.
    retention_end: dt.date | None
    # For a lookup (event_type DISCLOSURE, message_type LOOKUP), the jurisdictions the answer named as holding a
    # matching record: what the lookup disclosed to the requesting state. Null on every other event.
    hits: list[str] | None


# Symbols of the Avro enum ``crx.v1.ReceiptOutcome``.
ReceiptOutcomeSymbol = Literal["ACCEPTED", "REJECTED"]


# Symbols of the Avro enum ``crx.v1.ReceiptOperation`` (enum default 'OTHER': decoding maps a symbol this version lacks
# to it).
ReceiptOperationSymbol = Literal["OTHER", "STORED", "REPLACED", "ERASED", "UNCHANGED", "STALE"]


class Receipt(TypedDict):
    """Avro record ``crx.v1.Receipt``. A partner's signed acknowledgement of one delivered envelope."""

    # Stable per (party, message id).
    receipt_id: str
    message_id: str
    correlation_id: str
    party: str
    channel: str
    outcome: ReceiptOutcomeSymbol
    reason: str | None
    # SHA-256 of the envelope bytes as received.
    envelope_sha256: bytes
    received_at: dt.datetime
    signer_key_id: str
    # Null on a REJECTED receipt and on receipts of partner clients built before it existed. Placed before signature,
    # which must stay the last field.
    operation: ReceiptOperationSymbol | None
    # Over the single-object encoding with signature = null.
    signature: bytes | None


class DeadLetter(TypedDict):
    """Avro record ``crx.v1.DeadLetter``. A record that could not be processed: typed reason in clear, the original
    bytes sealed to the broker so it can be replayed.
    """

    # Stable per (source topic, partition, offset) or per refused submission.
    dead_letter_id: str
    # 'intake', 'reconciler' (the intake's, for a submission it gave up on), 'normaliser', 'router', 'lookup', 'audit'.
    stage: str
    source_topic: str
    source_partition: int
    source_offset: int
    submission_id: str | None
    jurisdiction: str | None
    error_class: str
    reason_code: str
    # Human-readable, written by crx, never containing record content.
    detail: str
    retriable: bool
    occurred_at: dt.datetime
    payload_size: int
    payload_sha256: bytes
    # Single-object Envelope sealed to the broker (channel 'dlq') holding the original bytes; null when too large to
    # keep.
    sealed_payload: bytes | None


# Symbols of the Avro enum ``crx.v1.CaseNoticeKind`` (enum default 'OTHER': decoding maps a symbol this version lacks to
# it).
CaseNoticeKindSymbol = Literal["OTHER", "REMINDER", "OVERDUE"]


class CaseNotice(TypedDict):
    """Avro record ``crx.v1.CaseNotice``. What crx tells a requested state about an open case: a reminder before the
    deadline, a notice when it has passed. No personal data: the request is named by its ids, the person never.
    """

    # Stable: the same notice of the same case always has the same id.
    notice_id: str | uuid.UUID
    # REMINDER: the deadline is near; OVERDUE: it has passed. OTHER: what a reader gets for a kind added after it was
    # built.
    kind: CaseNoticeKindSymbol
    # crx's id of the case: one per (request, requested state).
    case_id: str
    # The crx message id of the REQUEST (what its RESPONSE names in reply_to).
    request_message_id: str
    # The requesting state's own id of the request, e.g. its ECRIS message identifier.
    request_external_id: str | None
    # ISO 3166-1 alpha-2.
    requesting_state: str
    # ISO 3166-1 alpha-2: the recipient of this notice.
    requested_state: str
    purpose: str
    # When crx delivered the request to the requested state: the day the deadline runs from.
    received_at: dt.datetime
    # The end of the last working day of the answer period, in the requested state's calendar.
    deadline: dt.datetime
    issued_at: dt.datetime
