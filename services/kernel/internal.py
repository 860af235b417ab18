"""The broker's internal hops (``feed.<J>``, ``records``) in either format: one place that seals them as the
settings say and one that opens either.

Format 1 is the signed envelope (``envelope.Sealer``/``Opener``: an HPKE seal and a signature per record);
format 2 the internal hop (``hop.HopSealer``/``HopOpener``: a data key wrapped once, AES-GCM per record, no
per-record signature). A reader tells them apart by the first bytes (``hop.is_hop``) and reads both, whatever
``internal_format`` says: a record written before a switch stays readable after it.

A format-2 record proves nothing about who sealed it (anyone holding the broker's public key can wrap a data
key), so it is opened only once its batch signature has been checked (``batchauth``) and only when that
signature is one allowed to carry format 2 on its topic (``hop_sealers``): the component that seals it there,
or ``crx.dlq`` replaying the bytes of a dead letter (whose original the broker signed); the record must then
name as its producer the batch signer itself or, after a replay, one of the topic's sealers. A jurisdiction's
own feed (``crx push`` signed by J) is format 1 only: J's envelope signature is what authenticates it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from typing import Any

from schemas import ENVELOPE
from services.kernel.batchauth import BatchProof, BatchVerifier, Unauthenticated
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.envelope import Opened, Opener, SealContext, Sealer
from services.kernel.errors import CrxError, EnvelopeError
from services.kernel.hop import HopContext, HopOpener, HopRecord, HopSealer, is_hop
from services.kernel.producers import ProducerRules, component_of, component_party
from services.keys.ring import KeyRing

PURGE_SECONDS = 60.0
"""How often a reader drops the data keys it unwrapped under epoch keys no longer usable (``HopOpener.purge``)."""

FEED_SEALERS = ("intake", "dlq")
"""The components that seal format 2 on ``feed.<J>``: the intake, and ``crx dlq replay`` resubmitting a payload
refused at the door (through the intake's publisher)."""
RECORDS_SEALERS = ("normaliser",)
"""The component that seals format 2 on ``records``."""


def hop_sealers(settings: Settings) -> Mapping[str, frozenset[str]]:
    """Per full topic name, the parties that may seal format 2 on it (no entry: nobody, format 1 only)."""
    broker = settings.broker_party
    feed = frozenset(component_party(broker, c) for c in FEED_SEALERS)
    sealers = {settings.topic(f"feed.{j}"): feed for j in settings.jurisdictions}
    sealers[settings.topic("records")] = frozenset(component_party(broker, c) for c in RECORDS_SEALERS)
    return sealers


def batch_signer(rec: Any) -> str:
    """The party whose batch signature ``rec`` carries. Call it only on a record the input gate accepted
    (``gate.authenticate``): the proof is then verified, and so is the party it names. Raises Unauthenticated
    for a record without a well-formed proof."""
    return BatchProof.parse(rec.headers).signer


def channel_of(value: bytes) -> str | None:
    """The logical channel a format-1 envelope or a format-2 record names, read without opening or verifying
    anything (None when it is neither)."""
    if is_hop(value):
        try:
            return HopRecord.parse(value).channel
        except EnvelopeError:
            return None
    try:
        return str(codec(ENVELOPE).decode(value)["channel"])
    except CrxError:
        return None


class InternalSealer:
    """Seals what one component produces on an internal hop, in the format ``internal_format`` says: format 2
    under the component's own data key (one ``HopSealer`` per component instance, ``producer`` its party), or
    format 1 signed by ``signer`` (the broker, or a jurisdiction: then always format 1, see ``format2``)."""

    def __init__(self, settings: Settings, keyring: KeyRing, producer: str | None, signer: str | None) -> None:
        self._settings = settings
        self._sealer = Sealer(keyring.registry, keyring.store, signer)
        self.producer = producer
        self._hop = None if producer is None else HopSealer(keyring.registry, settings.broker_party, producer)

    @property
    def format2(self) -> bool:
        """Whether this sealer writes format 2: the setting says 2 and the producer is one of crx's components."""
        return self._hop is not None and self._settings.internal_format == 2

    def seal(self, plaintext: bytes, ctx: SealContext, now: dt.datetime) -> bytes:
        """``plaintext`` sealed to the broker (``ctx.recipient``; ``ctx.sender`` is format 1's alone) on
        ``ctx.channel``. Raises KeyUnavailable (retriable) when a key is missing, EnvelopeError for a context
        field longer than 65,535 bytes."""
        if self._hop is not None and self._settings.internal_format == 2:
            hop_ctx = HopContext(ctx.channel, ctx.message_id, ctx.correlation_id, ctx.content_type,
                                 ctx.schema_fingerprint)  # fmt: skip
            return self._hop.seal(plaintext, hop_ctx, now)
        return self._sealer.seal(plaintext, ctx, now)


def feed_sealer(settings: Settings, party: str | None) -> str | None:
    """``party`` when it is one of this broker's components that seal format 2 on ``feed.<J>`` (``crx.intake``,
    ``crx.dlq``), else None (a jurisdiction's own ``crx push``, no signer: format 1)."""
    component = None if party is None else component_of(party)
    if component not in FEED_SEALERS or component_party(settings.broker_party, str(component)) != party:
        return None
    return party


class InternalReader:
    """Opens the records of the broker's internal topics in either format, as the broker."""

    def __init__(self, settings: Settings, keyring: KeyRing) -> None:
        broker = settings.broker_party
        self._opener = Opener(keyring.registry, keyring.store, broker)
        self._hops = HopOpener(keyring.registry, keyring.store, broker)
        self._sealers = hop_sealers(settings)
        self._replayer = component_party(broker, "dlq")
        self._rules, self._verifier = ProducerRules(settings), BatchVerifier(keyring.registry)
        self._purged = time.monotonic()

    def open(
        self,
        rec: Any,
        *,
        channel: str,
        signers: frozenset[str],
        now: dt.datetime,
        authenticated: str | None = None,
    ) -> Opened:
        """Open the consumed record ``rec`` (its topic, value and headers), expected on logical ``channel``.

        Format 1: verified as signed by one of ``signers``, then opened. Format 2: ``authenticated`` is the
        batch signer the caller's input gate verified for ``rec``; None, and the batch proof is verified here
        against the producers allowed on the topic. Either way the signer must be one allowed to carry format 2
        there, and the record's producer must match it (``producers``). Raises EnvelopeError for any failure
        (a format-2 record without a valid batch proof, or from a party that may not seal it, included);
        KeyDestroyed when it is sealed to a destroyed broker key; KeyUnavailable (retriable) when a format-2
        record's epoch key is not here yet.
        """
        value: bytes = rec.value or b""
        headers = dict(rec.headers or ())
        if not is_hop(value):
            return self._opener.open(value, channel=channel, now=now, signers=signers, headers=headers)
        self._maintain(now)
        if authenticated is None:
            try:
                allowed = self._rules.allowed(rec.topic, value)
                authenticated = self._verifier.verify(rec.topic, rec.key, value, rec.headers, allowed=allowed, now=now)
            except Unauthenticated:
                raise EnvelopeError() from None
        return self._hops.open(
            value, channel=channel, now=now, producers=self.producers(rec.topic, authenticated), headers=headers
        )

    def producers(self, topic: str, signer: str) -> frozenset[str]:
        """The producers a format-2 record on ``topic`` whose batch ``signer`` signed may name: the signer
        itself when it seals format 2 there, any of the topic's sealers when it is ``crx.dlq`` (a replay).
        Raises EnvelopeError when ``signer`` may not carry format 2 on ``topic`` (a jurisdiction, say)."""
        sealers = self._sealers.get(topic, frozenset())
        if signer == self._replayer and sealers:
            return sealers
        if signer in sealers:
            return frozenset({signer})
        raise EnvelopeError()

    def _maintain(self, now: dt.datetime) -> None:
        """Every ``PURGE_SECONDS``: drop cached data keys whose epoch key can no longer open."""
        if time.monotonic() - self._purged >= PURGE_SECONDS:
            self._purged = time.monotonic()
            self._hops.purge(now)
