"""Named HPKE suites and signature algorithms: the only place crx maps names to primitives.

Everything comes from ``cryptography`` (>= 47); nothing is hand-rolled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519

from services.kernel.errors import ConfigError

PrivateKey = Any  # ec.EllipticCurvePrivateKey | x25519.X25519PrivateKey | ed25519.Ed25519PrivateKey
PublicKey = Any


@dataclass(frozen=True)
class HpkeSuite:
    """An HPKE suite (RFC 9180 base mode) with the key type its KEM uses."""

    name: str
    kem: Any
    kdf: Any
    aead: Any

    def suite(self) -> hpke.Suite:
        """The cryptography Suite object that seals and opens."""
        return hpke.Suite(self.kem, self.kdf, self.aead)

    def generate(self) -> PrivateKey:
        """A fresh private key of the KEM's type."""
        if self.kem == hpke.KEM.P256:
            return ec.generate_private_key(ec.SECP256R1())
        if self.kem == hpke.KEM.X25519:
            return x25519.X25519PrivateKey.generate()
        raise ConfigError(f"no key generator for suite {self.name}")


HPKE_SUITES: dict[str, HpkeSuite] = {
    s.name: s
    for s in (
        HpkeSuite("P256-SHA256-AES256GCM", hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM),
        HpkeSuite("X25519-SHA256-AES256GCM", hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM),
    )
}
DEFAULT_HPKE = "P256-SHA256-AES256GCM"


@dataclass(frozen=True)
class SignatureAlg:
    """A signature algorithm: ECDSA P-256 with SHA-256 (default) or Ed25519."""

    name: str

    def generate(self) -> PrivateKey:
        """A fresh signing key."""
        if self.name == "ECDSA-P256-SHA256":
            return ec.generate_private_key(ec.SECP256R1())
        return ed25519.Ed25519PrivateKey.generate()

    def sign(self, key: PrivateKey, data: bytes) -> bytes:
        """Sign ``data`` (DER-encoded ECDSA signature, or raw 64-byte Ed25519)."""
        if self.name == "ECDSA-P256-SHA256":
            return bytes(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return bytes(key.sign(data))

    def verify(self, public: PublicKey, signature: bytes, data: bytes) -> None:
        """Raise ``cryptography.exceptions.InvalidSignature`` unless ``signature`` is valid."""
        if self.name == "ECDSA-P256-SHA256":
            if not isinstance(public, ec.EllipticCurvePublicKey):
                raise TypeError("key type does not match algorithm")
            public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            if not isinstance(public, ed25519.Ed25519PublicKey):
                raise TypeError("key type does not match algorithm")
            public.verify(signature, data)


SIGNATURE_ALGS: dict[str, SignatureAlg] = {
    a.name: a for a in (SignatureAlg("ECDSA-P256-SHA256"), SignatureAlg("Ed25519"))
}
DEFAULT_SIGNATURE = "ECDSA-P256-SHA256"


def hpke_suite(name: str) -> HpkeSuite:
    """Look up an HPKE suite by name. Raises ConfigError listing the valid names."""
    try:
        return HPKE_SUITES[name]
    except KeyError:
        raise ConfigError(f"unknown HPKE suite {name!r}; valid: {', '.join(HPKE_SUITES)}") from None


def signature_alg(name: str) -> SignatureAlg:
    """Look up a signature algorithm by name. Raises ConfigError listing the valid names."""
    try:
        return SIGNATURE_ALGS[name]
    except KeyError:
        raise ConfigError(f"unknown signature algorithm {name!r}; valid: {', '.join(SIGNATURE_ALGS)}") from None
