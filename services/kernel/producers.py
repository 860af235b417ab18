"""Who may produce what: the broker's components, the registry parties that name them, and per topic the
producers a consumer accepts.

Every record crx puts on a topic is authenticated by the component that produced it (``batchauth``). A
component signs with a key registered for the party ``<broker party>.<component>`` (``crx.intake``,
``crx.normaliser``, ``crx.router``, ``crx.cases``, ``crx.audit``, ``crx.dlq``, ``crx.lookup``): a party id with
a dot can never be a jurisdiction (ISO 3166-1 alpha-2), so these ids never collide with a partner's. A national
system that runs ``crx push`` with its own key store is the intake of its own jurisdiction: it signs with that
jurisdiction's signing key, and may write only what concerns its own jurisdiction.

``ProducerRules.allowed`` is the one table of who may produce on which topic:

===================  ==========================================================================================
topic                producers accepted
===================  ==========================================================================================
``feed.<J>``         intake, dlq (``crx dlq replay``), and J itself (its own ``crx push``)
``records``          normaliser, dlq (``crx dlq replay``)
``out.<J>``          router, cases (its reminders; partners need not check: the envelope is the broker's signed one)
``dlq``              intake, normaliser, router, cases, audit, dlq, lookup; J for letters refused at its own door (stage
                     ``intake``, jurisdiction J)
``audit``            by event type, see ``EVENT_PRODUCERS``; J for COLLECTION and DEAD_LETTER events about J.
                     An ``AuditBatch`` only from a producer allowed for every event it carries.
                     DELIVERY_RECEIPT, KEY_CHANGE, POLICY_CHANGE, ERASURE: nobody (the audit writer appends its
                     own events to the store directly, never through the topic)
``receipts``         nobody here: receipts carry the partner's own signature, checked by the audit writer
===================  ==========================================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from schemas import AUDIT_EVENT, DEAD_LETTER
from schemas.records import AuditEvent
from services.kernel.audit_events import AuditEventType
from services.kernel.auditbatch import audit_leaves
from services.kernel.codec import typed_codec
from services.kernel.config import Settings
from services.kernel.deadletter import RECONCILER_STAGE
from services.kernel.errors import ConfigError, CrxError

COMPONENTS: tuple[str, ...] = ("intake", "normaliser", "router", "cases", "audit", "dlq", "lookup")
"""The broker's producing components, each with a signing key of its own."""

COMPONENT_SIGNATURE = "Ed25519"
"""The signature algorithm of a component key (fast to sign and verify; one key per component)."""

EVENT_PRODUCERS: Mapping[AuditEventType, frozenset[str]] = MappingProxyType(
    {
        AuditEventType.COLLECTION: frozenset({"intake", "dlq"}),
        AuditEventType.NORMALISATION: frozenset({"normaliser"}),
        # cases: its reminders and overdue notices; lookup: its lookups (message type LOOKUP: the hit states)
        AuditEventType.DISCLOSURE: frozenset({"router", "cases", "lookup"}),
        AuditEventType.REFUSAL: frozenset({"router"}),
        AuditEventType.DEAD_LETTER: frozenset({"intake", "normaliser", "router", "audit", "dlq", "lookup"}),
        # refusals of unauthenticated input by the consumers that produce (the audit writer appends its own)
        AuditEventType.ERROR: frozenset({"normaliser", "router", "dlq", "lookup"}),
    }
)
"""The components that may put each audit event type on ``crx.audit``; a type not listed: none."""

NATIONAL_EVENTS = frozenset({AuditEventType.COLLECTION, AuditEventType.DEAD_LETTER})
"""What a national intake (``crx push`` at jurisdiction J) puts on ``crx.audit``, about J only."""


def component_party(broker_party: str, component: str) -> str:
    """The key-registry party of ``component`` of the broker ``broker_party`` (``crx.router``).

    Raises ConfigError for a name that is not one of ``COMPONENTS``.
    """
    if component not in COMPONENTS:
        raise ConfigError(f"unknown component {component!r}; components: {', '.join(COMPONENTS)}")
    return f"{broker_party}.{component}"


def component_of(party: str) -> str | None:
    """The component that the party id ``party`` names (``crx.router`` -> ``router``), else None."""
    head, dot, tail = party.rpartition(".")
    return tail if dot and head and tail in COMPONENTS else None


class ProducerRules:
    """The producers a consumer accepts on each topic of one deployment (the table in the module docstring).

    No I/O, no keys. For ``crx.audit`` and ``crx.dlq`` the answer depends on the record (its event type,
    its stage and jurisdiction), read from the value; a value that does not decode is allowed from any
    component that writes the topic, so that a component's own malformed output is still handled as before
    (dead-lettered by the audit writer) while nobody else's is. The events of the last crx.audit message
    asked about stay decoded (``audit_events``), so the audit writer decodes each event once.
    """

    def __init__(self, settings: Settings) -> None:
        def parties(*components: str) -> frozenset[str]:
            return frozenset(component_party(settings.broker_party, c) for c in components)

        self._jurisdictions = frozenset(settings.jurisdictions)
        self._feeds = {settings.topic(f"feed.{j}"): j for j in settings.jurisdictions}
        self._feed_components = parties("intake", "dlq")
        self._fixed: dict[str, frozenset[str]] = {settings.topic("records"): parties("normaliser", "dlq")}
        self._fixed.update((settings.topic(f"out.{j}"), parties("router", "cases")) for j in settings.jurisdictions)
        self._audit, self._dlq = settings.topic("audit"), settings.topic("dlq")
        self._events = {kind: parties(*components) for kind, components in EVENT_PRODUCERS.items()}
        self._audit_any = frozenset().union(*self._events.values())
        self._dlq_components = parties("intake", "normaliser", "router", "cases", "audit", "dlq", "lookup")
        self._event_codec = typed_codec(AUDIT_EVENT)
        self._decoded: tuple[bytes, list[tuple[bytes, AuditEvent | None]]] | None = None
        self._letter_codec = typed_codec(DEAD_LETTER)

    def allowed(self, topic: str, value: bytes | None) -> frozenset[str]:
        """The parties whose batch signature is accepted for ``value`` on ``topic`` (empty: nobody's)."""
        jurisdiction = self._feeds.get(topic)
        if jurisdiction is not None:
            return self._feed_components | {jurisdiction}
        if topic == self._audit:
            return self._audit_producers(value or b"")
        if topic == self._dlq:
            return self._dlq_producers(value or b"")
        return self._fixed.get(topic, frozenset())

    def audit_events(self, value: bytes) -> list[tuple[bytes, AuditEvent | None]]:
        """The events of the crx.audit message ``value`` (``auditbatch.audit_leaves``), each with its decoded
        event, None for one that does not decode. The message ``allowed`` was last asked about is not decoded
        again. Raises CodecError for an ``AuditBatch`` that does not decode."""
        if self._decoded is not None and self._decoded[0] is value:
            return self._decoded[1]
        events: list[tuple[bytes, AuditEvent | None]] = []
        for leaf in audit_leaves(value):
            try:
                events.append((leaf, self._event_codec.decode(leaf)))
            except CrxError:
                events.append((leaf, None))
        self._decoded = (value, events)
        return events

    def _audit_producers(self, value: bytes) -> frozenset[str]:
        """Who may have produced the crx.audit message ``value``: for an ``AuditBatch``, the parties allowed
        for every event it carries (so no producer slips in an event it may not emit; an empty batch:
        nobody); for a single event, those allowed for it. An event or batch that does not decode: any audit
        producer (the writer dead-letters it)."""
        try:
            events = self.audit_events(value)
        except CrxError:
            return self._audit_any
        allowed: frozenset[str] | None = None
        for _, event in events:
            parties = self._audit_any if event is None else self._event_producers(event)
            allowed = parties if allowed is None else allowed & parties
        return allowed or frozenset()

    def _event_producers(self, event: AuditEvent) -> frozenset[str]:
        """The parties allowed to produce ``event``."""
        kind = AuditEventType(event["event_type"])
        allowed = self._events.get(kind, frozenset())
        source = event["source_jurisdiction"]
        if kind in NATIONAL_EVENTS and source in self._jurisdictions:
            allowed |= {source}
        return allowed

    def _dlq_producers(self, value: bytes) -> frozenset[str]:
        try:
            letter = self._letter_codec.decode(value)
        except CrxError:
            return self._dlq_components
        if letter["stage"] in ("intake", RECONCILER_STAGE) and letter["jurisdiction"] in self._jurisdictions:
            return self._dlq_components | {letter["jurisdiction"]}
        return self._dlq_components
