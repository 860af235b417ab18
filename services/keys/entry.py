"""One registry entry: a party's public key with purpose, suite, validity, status, and the rules of its use.

Public key formats and key ids are described in ``services/keys/ring.py``; ``USES`` below is the one place
that says which key may be used for what.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
from dataclasses import dataclass
from typing import Literal, get_args

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from services.kernel.suites import (
    HPKE_SUITES,
    SIGNATURE_ALGS,
    HybridPublicKey,
    PublicKey,
)

Purpose = Literal["encryption", "signing"]
Status = Literal["active", "retiring", "revoked", "destroyed"]
PublicFormat = Literal["spki-pem", "kem-raw-base64"]
Use = Literal["seal", "open", "sign", "verify"]

STATUS_ORDER: dict[str, int] = {"active": 0, "retiring": 1, "revoked": 2, "destroyed": 3}
# Statuses after which a key is never used for anything again. "destroyed": its private half was overwritten
# and deleted (``services.keys.epochs.destroy``, crypto-shredding); the entry stays, so the key id is known,
# every status change is audited, and a bundle import cannot bring the key back.
ENDED: frozenset[str] = frozenset({"revoked", "destroyed"})


@dataclass(frozen=True)
class UseRule:
    """Which keys may serve one use: their purpose, the statuses allowed, whether the validity window applies."""

    purpose: Purpose
    statuses: frozenset[str]
    within_validity: bool


# The key lifecycle rules, in one place:
# - seal:   the broker seals only to an active encryption key that is valid now (never retiring or revoked);
# - open:   a party opens records sealed to its active or retiring keys, even after not_after (records sealed
#           while the key was valid stay readable); never with a revoked or destroyed key (a destroyed key's
#           envelopes raise the typed KeyDestroyed: see services.kernel.envelope.Opener);
# - sign:   only an active signing key that is valid now signs;
# - verify: a signature verifies only under an active or retiring key that is valid now, so revoking or
#           letting a signing key expire makes every envelope it signed refused.
USES: dict[Use, UseRule] = {
    "seal": UseRule("encryption", frozenset({"active"}), within_validity=True),
    "open": UseRule("encryption", frozenset({"active", "retiring"}), within_validity=False),
    "sign": UseRule("signing", frozenset({"active"}), within_validity=True),
    "verify": UseRule("signing", frozenset({"active", "retiring"}), within_validity=True),
}


def allowed(entry: KeyEntry, use: Use, now: dt.datetime) -> bool:
    """True when ``entry`` may serve ``use`` at ``now`` under the rules in ``USES``."""
    rule = USES[use]
    if entry.purpose != rule.purpose or entry.status not in rule.statuses:
        return False
    return not rule.within_validity or entry.valid_at(now)


# --- public key encodings ---------------------------------------------------------------------------------


def canonical_public_bytes(public: PublicKey) -> bytes:
    """The bytes a key id is computed over: SPKI DER, or ``pk_MLKEM768 || pk_X25519`` for the hybrid."""
    if isinstance(public, HybridPublicKey):
        return public.raw()
    der: bytes = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


def key_id_of(public: PublicKey) -> str:
    """The key id: hex of the first 16 bytes of SHA-256 over the canonical public encoding."""
    return hashlib.sha256(canonical_public_bytes(public)).hexdigest()[:32]


def encode_public(public: PublicKey) -> tuple[PublicFormat, str]:
    """The registry's text form of ``public`` and its format tag."""
    if isinstance(public, HybridPublicKey):
        return "kem-raw-base64", base64.b64encode(public.raw()).decode("ascii")
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "spki-pem", pem.decode("ascii")


@functools.lru_cache(maxsize=1024)
def decode_public(fmt: str, text: str) -> PublicKey:
    """Parse a registry public key (``HybridPublicKey`` for the hybrid). Raises ValueError when invalid."""
    if fmt == "spki-pem":
        try:
            return serialization.load_pem_public_key(text.encode("ascii"))
        except (UnicodeEncodeError, TypeError, UnsupportedAlgorithm) as exc:
            raise ValueError("not a PEM public key") from exc
    if fmt == "kem-raw-base64":
        try:
            raw = base64.b64decode(text.encode("ascii"), validate=True)
        except (UnicodeEncodeError, binascii.Error) as exc:
            raise ValueError("not base64") from exc
        return HybridPublicKey.from_raw(raw)
    raise ValueError(f"unknown public key format {fmt!r}")


@dataclass(frozen=True)
class KeyEntry:
    """One public key of one party, as the registry records it."""

    party: str
    key_id: str
    purpose: Purpose
    algorithm: str
    public_key: str
    status: Status
    not_before: str
    not_after: str | None = None
    public_key_format: PublicFormat = "spki-pem"

    def load_public(self) -> PublicKey:
        """The public key as cryptography takes it (the combined HPKE key for the hybrid); parsed once."""
        public = decode_public(self.public_key_format, self.public_key)
        return public.hpke_key() if isinstance(public, HybridPublicKey) else public

    def valid_at(self, now: dt.datetime) -> bool:
        """True when ``now`` falls within [not_before, not_after)."""
        if now < parse_time(self.not_before):
            return False
        return self.not_after is None or now < parse_time(self.not_after)

    def usable_at(self, now: dt.datetime) -> bool:
        """True when neither revoked nor destroyed and ``now`` falls within the validity window."""
        return self.status not in ENDED and self.valid_at(now)

    def check(self) -> None:
        """Raise ValueError unless the entry is self-consistent: known purpose, status and algorithm, a public
        key of that algorithm's type in the format it requires, and the key id derived from that key."""
        if self.purpose not in get_args(Purpose) or self.status not in STATUS_ORDER:
            raise ValueError("unknown purpose or status")
        parse_time(self.not_before)
        if self.not_after is not None:
            parse_time(self.not_after)
        public = decode_public(self.public_key_format, self.public_key)
        if self.purpose == "encryption":
            suite = HPKE_SUITES.get(self.algorithm)
            if suite is None or not suite.public_matches(public):
                raise ValueError("public key does not match the HPKE suite")
        else:
            alg = SIGNATURE_ALGS.get(self.algorithm)
            if alg is None or not alg.public_matches(public):
                raise ValueError("public key does not match the signature algorithm")
        if key_id_of(public) != self.key_id:
            raise ValueError("key id does not match the public key")


@functools.lru_cache(maxsize=1024)
def parse_time(text: str) -> dt.datetime:
    """An ISO 8601 time from the registry; a time without offset is UTC."""
    parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def new_entry(party: str, purpose: Purpose, algorithm: str, public: PublicKey, not_before: dt.datetime) -> KeyEntry:
    """An active registry entry for a freshly made key."""
    fmt, text = encode_public(public)
    return KeyEntry(
        party=party,
        key_id=key_id_of(public),
        purpose=purpose,
        algorithm=algorithm,
        public_key=text,
        status="active",
        not_before=not_before.isoformat(),
        public_key_format=fmt,
    )
