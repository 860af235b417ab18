"""Envelopes: HPKE sealed to one recipient, context bound in info, signed, verified before opening."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import ENVELOPE
from services.kernel.codec import codec
from services.kernel.envelope import Opener, SealContext, Sealer, info_bytes, signed_part
from services.kernel.errors import EnvelopeError
from services.keys.ring import KeyEntry, KeyRing


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


BROKER = frozenset({"crx"})


def _ctx(**changes: str) -> SealContext:
    base = {
        "channel": "out.FR",
        "message_id": "m-1",
        "correlation_id": "s-1",
        "sender": "crx",
        "recipient": "FR",
        "content_type": "avro/crx.v1.CriminalRecord",
    }
    return SealContext(**{**base, **changes}, schema_fingerprint=b"12345678")


def test_round_trip_for_the_recipient(keyring: KeyRing) -> None:
    """The recipient opens what was sealed to it and sees the same plaintext."""
    sealed = Sealer(keyring.registry, keyring.store, "crx").seal(b"conviction", _ctx(), _now())
    opened = Opener(keyring.registry, keyring.store, "FR").open(sealed, channel="out.FR", now=_now(), signers=BROKER)
    assert opened.plaintext == b"conviction" and opened.message_id == "m-1"


def test_other_party_other_channel_and_unsigned_fail(keyring: KeyRing) -> None:
    """Another party's key, another channel, a missing required signer: one opaque EnvelopeError each."""
    sealed = Sealer(keyring.registry, keyring.store, "crx").seal(b"conviction", _ctx(), _now())
    unsigned = Sealer(keyring.registry, keyring.store, None).seal(b"conviction", _ctx(), _now())
    fr, pl = (Opener(keyring.registry, keyring.store, p) for p in ("FR", "PL"))
    attempts: list[Callable[[], object]] = [
        lambda: pl.open(sealed, channel="out.FR", now=_now(), signers=BROKER),
        lambda: fr.open(sealed, channel="out.PL", now=_now(), signers=BROKER),
        lambda: fr.open(sealed, channel="out.FR", now=_now(), signers=frozenset({"DE"})),
        lambda: fr.open(unsigned, channel="out.FR", now=_now(), signers=BROKER),
        lambda: fr.open(sealed, channel="out.FR", now=_now(), signers=BROKER, headers={"crx-recipient": b"PL"}),
    ]
    messages = set()
    for attempt in attempts:
        with pytest.raises(EnvelopeError) as info:
            attempt()
        messages.add(str(info.value))
    assert len(messages) == 1  # opaque: the cause is not revealed


def test_every_context_field_is_bound_into_info(keyring: KeyRing) -> None:
    """Changing any info field and re-signing (an insider with the signing key) still fails to decrypt."""
    sealer = Sealer(keyring.registry, keyring.store, None)
    sealed = sealer.seal(b"conviction", _ctx(), _now())
    env = codec(ENVELOPE).decode(sealed)
    fr = Opener(keyring.registry, keyring.store, "FR")
    for field, value in [
        ("message_id", "m-2"),
        ("correlation_id", "s-2"),
        ("sender", "DE"),
        ("content_type", "feed/json-v1"),
        ("schema_fingerprint", b"87654321"),
    ]:
        altered = dict(env, **{field: value})
        assert info_bytes(altered) != info_bytes(env)
        with pytest.raises(EnvelopeError):
            fr.open(codec(ENVELOPE).encode(altered), channel="out.FR", now=_now(), signers=None)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_flipped_bit_is_refused(keyring: KeyRing, position: int, bit: int) -> None:
    """Flipping any single bit of a signed envelope makes it unopenable."""
    sealed = Sealer(keyring.registry, keyring.store, "crx").seal(b"conviction" * 10, _ctx(), _now())
    data = bytearray(sealed)
    data[position % len(data)] ^= 1 << bit
    with pytest.raises(EnvelopeError):
        Opener(keyring.registry, keyring.store, "FR").open(bytes(data), channel="out.FR", now=_now(), signers=BROKER)


def test_revoked_signing_key_is_refused(keyring: KeyRing) -> None:
    """An envelope signed with a key that is later revoked no longer verifies."""
    sealed = Sealer(keyring.registry, keyring.store, "crx").seal(b"x", _ctx(), _now())
    entry = keyring.registry.active("crx", "signing", _now())
    keyring.registry.add(KeyEntry(**{**entry.__dict__, "status": "revoked"}))
    with pytest.raises(EnvelopeError):
        Opener(keyring.registry, keyring.store, "FR").open(sealed, channel="out.FR", now=_now(), signers=BROKER)


def test_signed_part_is_the_encoding_with_a_null_signature(keyring: KeyRing) -> None:
    """The signature input equals the envelope re-encoded with signature = null (the spec in ENVELOPE.md)."""
    sealed = Sealer(keyring.registry, keyring.store, "crx").seal(b"x", _ctx(), _now())
    env = codec(ENVELOPE).decode(sealed)
    assert signed_part(sealed, env["signature"]) == codec(ENVELOPE).encode(dict(env, signature=None))


def test_ciphertexts_differ_and_hide_the_plaintext(keyring: KeyRing) -> None:
    """Sealing is randomised (fresh HPKE encapsulation) and the plaintext does not appear in the output."""
    sealer = Sealer(keyring.registry, keyring.store, "crx")
    outputs = [sealer.seal(b"Distinctive Plaintext", _ctx(), _now()) for _ in range(3)]
    for a, b in itertools.combinations(outputs, 2):
        assert a != b
    assert all(b"Distinctive" not in o for o in outputs)
