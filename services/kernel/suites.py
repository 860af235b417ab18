"""Named HPKE suites and signature algorithms: the only place crx maps names to primitives.

Everything comes from ``cryptography`` (>= 50 for the hybrid KEM); nothing is hand-rolled.

The post-quantum hybrid suite uses the KEM MLKEM768-X25519 (0x647a, draft-ietf-hpke-pq; the X-Wing
construction): its public key is ``pk_MLKEM768 (1184 bytes) || pk_X25519 (32 bytes)`` (the KEM's
SerializePublicKey) and its ``enc`` is ``ct_MLKEM768 (1088) || ephemeral X25519 key (32)``. cryptography's
``hpke.MLKEM768X25519PrivateKey`` cannot give back its halves, so crx holds a hybrid key as the pair
``HybridPrivateKey`` / ``HybridPublicKey`` (serialisable halves) and hands cryptography the combined object
(``hpke_key()``) only to seal or open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mlkem, x25519

from services.kernel.errors import ConfigError

PrivateKey = Any  # ec.EllipticCurvePrivateKey | x25519.X25519PrivateKey | ed25519.Ed25519PrivateKey | HybridPrivateKey
PublicKey = Any

MLKEM768_PUBLIC_LENGTH = 1184
X25519_PUBLIC_LENGTH = 32


@dataclass(frozen=True)
class HybridPublicKey:
    """An MLKEM768-X25519 public key, kept as its two halves."""

    mlkem: mlkem.MLKEM768PublicKey
    x25519: x25519.X25519PublicKey

    def raw(self) -> bytes:
        """The canonical encoding: ``pk_MLKEM768 || pk_X25519`` (1216 bytes, draft-ietf-hpke-pq order)."""
        return self.mlkem.public_bytes_raw() + self.x25519.public_bytes_raw()

    @classmethod
    def from_raw(cls, data: bytes) -> HybridPublicKey:
        """Parse the canonical encoding. Raises ValueError when it is not one."""
        if len(data) != MLKEM768_PUBLIC_LENGTH + X25519_PUBLIC_LENGTH:
            raise ValueError("not an MLKEM768-X25519 public key")
        return cls(
            mlkem.MLKEM768PublicKey.from_public_bytes(data[:MLKEM768_PUBLIC_LENGTH]),
            x25519.X25519PublicKey.from_public_bytes(data[MLKEM768_PUBLIC_LENGTH:]),
        )

    def hpke_key(self) -> hpke.MLKEM768X25519PublicKey:
        """The object cryptography's HPKE seals to."""
        return hpke.MLKEM768X25519PublicKey(self.mlkem, self.x25519)


@dataclass(frozen=True)
class HybridPrivateKey:
    """An MLKEM768-X25519 private key, kept as its two halves (each PKCS#8-serialisable on its own)."""

    mlkem: mlkem.MLKEM768PrivateKey
    x25519: x25519.X25519PrivateKey

    @classmethod
    def generate(cls) -> HybridPrivateKey:
        """A fresh key pair from the operating system's random source."""
        return cls(mlkem.MLKEM768PrivateKey.generate(), x25519.X25519PrivateKey.generate())

    def public_key(self) -> HybridPublicKey:
        """The public half."""
        return HybridPublicKey(self.mlkem.public_key(), self.x25519.public_key())

    def hpke_key(self) -> hpke.MLKEM768X25519PrivateKey:
        """The object cryptography's HPKE opens with."""
        return hpke.MLKEM768X25519PrivateKey(self.mlkem, self.x25519)

    def __repr__(self) -> str:
        return "HybridPrivateKey(<MLKEM768-X25519>)"


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

    @property
    def hybrid(self) -> bool:
        """True for the ML-KEM hybrid, whose keys have no single PEM form."""
        return bool(self.kem == hpke.KEM.MLKEM768_X25519)

    def generate(self) -> PrivateKey:
        """A fresh private key of the KEM's type (``HybridPrivateKey`` for the hybrid)."""
        if self.kem == hpke.KEM.P256:
            return ec.generate_private_key(ec.SECP256R1())
        if self.kem == hpke.KEM.X25519:
            return x25519.X25519PrivateKey.generate()
        if self.hybrid:
            return HybridPrivateKey.generate()
        raise ConfigError(f"no key generator for suite {self.name}")

    def public_matches(self, public: PublicKey) -> bool:
        """True when ``public`` (a ``HybridPublicKey`` for the hybrid) is a key of this suite's KEM."""
        if self.kem == hpke.KEM.P256:
            return isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve, ec.SECP256R1)
        if self.kem == hpke.KEM.X25519:
            return isinstance(public, x25519.X25519PublicKey)
        return self.hybrid and isinstance(public, HybridPublicKey)

    def encrypt(self, plaintext: bytes, public: PublicKey, info: bytes) -> bytes:
        """SealBase single shot to ``public`` (the hybrid's halves are combined here); ``enc || ct``."""
        key = public.hpke_key() if isinstance(public, HybridPublicKey) else public
        return self.suite().encrypt(plaintext, key, info)

    def decrypt(self, sealed: bytes, private: PrivateKey, info: bytes) -> bytes:
        """OpenBase single shot. Raises cryptography's InvalidTag when it does not open."""
        key = private.hpke_key() if isinstance(private, HybridPrivateKey) else private
        return self.suite().decrypt(sealed, key, info)


HPKE_SUITES: dict[str, HpkeSuite] = {
    s.name: s
    for s in (
        HpkeSuite("P256-SHA256-AES256GCM", hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM),
        HpkeSuite("X25519-SHA256-AES256GCM", hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM),
        HpkeSuite(
            "MLKEM768-X25519-SHA256-AES256GCM", hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM
        ),
    )
}
DEFAULT_HPKE = "P256-SHA256-AES256GCM"


_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())  # immutable: one for every signature, not one per call


@dataclass(frozen=True)
class SignatureAlg:
    """A signature algorithm: ECDSA P-256 with SHA-256 (default) or Ed25519."""

    name: str

    def generate(self) -> PrivateKey:
        """A fresh signing key."""
        if self.name == "ECDSA-P256-SHA256":
            return ec.generate_private_key(ec.SECP256R1())
        return ed25519.Ed25519PrivateKey.generate()

    def public_matches(self, public: PublicKey) -> bool:
        """True when ``public`` is a verification key of this algorithm."""
        if self.name == "ECDSA-P256-SHA256":
            return isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve, ec.SECP256R1)
        return isinstance(public, ed25519.Ed25519PublicKey)

    def sign(self, key: PrivateKey, data: bytes) -> bytes:
        """Sign ``data`` (DER-encoded ECDSA signature, or raw 64-byte Ed25519)."""
        if self.name == "ECDSA-P256-SHA256":
            return bytes(key.sign(data, _ECDSA_SHA256))
        return bytes(key.sign(data))

    def verify(self, public: PublicKey, signature: bytes, data: bytes) -> None:
        """Raise ``cryptography.exceptions.InvalidSignature`` unless ``signature`` is valid."""
        if self.name == "ECDSA-P256-SHA256":
            if not isinstance(public, ec.EllipticCurvePublicKey):
                raise TypeError("key type does not match algorithm")
            public.verify(signature, data, _ECDSA_SHA256)
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
