"""The internal hops in either format (``services.kernel.internal``): which format a component writes, who may
carry format 2 on which topic, and the channel a record names without opening it. Real keys, no broker."""

from __future__ import annotations

import datetime as dt

import pytest

from services.kernel.config import Settings
from services.kernel.envelope import SealContext
from services.kernel.errors import ConfigError, EnvelopeError
from services.kernel.hop import is_hop
from services.kernel.internal import InternalReader, InternalSealer, channel_of, feed_sealer
from services.keys.ring import KeyRing

CTX = SealContext("feed.DE", "m-1", "s-1", "DE", "crx", "feed/json-v1")


@pytest.mark.parametrize(
    ("fmt", "producer", "hop"), [(2, "crx.intake", True), (1, "crx.intake", False), (2, None, False)]
)
def test_the_setting_and_the_producer_choose_the_format(
    settings: Settings, keyring: KeyRing, fmt: int, producer: str | None, hop: bool
) -> None:
    """Format 2 when ``internal_format`` is 2 and the sealer is a component's; format 1 (signed) otherwise."""
    sealer = InternalSealer(settings.replace(internal_format=fmt), keyring, producer, "crx")
    sealed = sealer.seal(b"payload", CTX, dt.datetime.now(dt.UTC))
    assert sealer.format2 == hop and is_hop(sealed) == hop
    assert channel_of(sealed) == "feed.DE"


def test_internal_format_is_1_or_2(settings: Settings) -> None:
    assert settings.internal_format == 2
    with pytest.raises(ConfigError):
        settings.replace(internal_format=3)


def test_channel_of_something_else_is_none() -> None:
    assert channel_of(b"\x00garbage") is None and channel_of(b"CRX\x02\x00") is None


@pytest.mark.parametrize(
    ("party", "expected"),
    [("crx.intake", "crx.intake"), ("crx.dlq", "crx.dlq"), ("crx.router", None), ("DE", None), ("other.intake", None),
     (None, None)],
)  # fmt: skip
def test_only_the_intake_and_dlq_seal_feeds_in_format2(settings: Settings, party: str | None, expected: str) -> None:
    assert feed_sealer(settings, party) == expected


@pytest.mark.parametrize(
    ("topic", "signer", "producers"),
    [
        ("records", "crx.normaliser", {"crx.normaliser"}),
        ("records", "crx.dlq", {"crx.normaliser"}),
        ("records", "crx.intake", None),
        ("feed.DE", "crx.intake", {"crx.intake"}),
        ("feed.DE", "crx.dlq", {"crx.intake", "crx.dlq"}),
        ("feed.DE", "DE", None),
        ("out.FR", "crx.dlq", None),
    ],
)
def test_who_may_carry_format2_on_which_topic(
    settings: Settings, keyring: KeyRing, topic: str, signer: str, producers: set[str] | None
) -> None:
    """The producers a format-2 record may name under each batch signer; None: refused whatever it names."""
    reader = InternalReader(settings, keyring)
    if producers is None:
        with pytest.raises(EnvelopeError):
            reader.producers(settings.topic(topic), signer)
    else:
        assert reader.producers(settings.topic(topic), signer) == producers
