"""File-based key registry (public keys of every party) and private key store (this node's own keys).

Registry layout (``<keys_dir>/registry.json``)::

    {"version": 1, "parties": {"FR": [{"key_id": "...", "purpose": "encryption", "algorithm":
      "P256-SHA256-AES256GCM", "public_key": "<PEM>", "status": "active", "not_before": "...",
      "not_after": null}]}}

``key_id`` is the first 16 bytes (hex) of SHA-256 over the SubjectPublicKeyInfo DER, so a partner can pin
it. Private keys live in ``<keys_dir>/private/<party>/<key_id>.pem`` as PKCS#8, encrypted with the
configured passphrase when there is one, mode 0600. Rotation keeps old private keys so old records stay
readable; revoked keys are refused.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization

from services.kernel.errors import KeyError_
from services.kernel.suites import (
    DEFAULT_HPKE,
    DEFAULT_SIGNATURE,
    PrivateKey,
    PublicKey,
    hpke_suite,
    signature_alg,
)

Purpose = Literal["encryption", "signing"]
Status = Literal["active", "retiring", "revoked"]


def key_id_of(public: PublicKey) -> str:
    """The key id: hex of the first 16 bytes of SHA-256(SubjectPublicKeyInfo DER)."""
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:32]


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

    def load_public(self) -> PublicKey:
        """The public key object (parsed once per entry)."""
        return _parse_public(self.public_key)

    def usable_at(self, now: dt.datetime) -> bool:
        """True when not revoked and ``now`` falls within the validity window."""
        if self.status == "revoked":
            return False
        if now < _parse_time(self.not_before):
            return False
        return self.not_after is None or now < _parse_time(self.not_after)


@functools.lru_cache(maxsize=1024)
def _parse_public(pem: str) -> PublicKey:
    return serialization.load_pem_public_key(pem.encode("ascii"))


@functools.lru_cache(maxsize=1024)
def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


class KeyRegistry:
    """Read and update the registry file. Lookups are in memory; ``save()`` writes atomically."""

    def __init__(self, path: Path, entries: list[KeyEntry] | None = None) -> None:
        self.path = path
        self._entries: list[KeyEntry] = list(entries or [])

    @classmethod
    def load(cls, path: Path) -> KeyRegistry:
        """Load the registry at ``path`` (empty if the file does not exist). Raises KeyError_ if corrupt."""
        if not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = [KeyEntry(party=party, **entry) for party, keys in data["parties"].items() for entry in keys]
        except (ValueError, KeyError, TypeError):
            raise KeyError_(f"key registry {path} is not valid") from None
        return cls(path, entries)

    def save(self) -> None:
        """Write the registry atomically (temp file + rename)."""
        parties: dict[str, list[dict[str, Any]]] = {}
        for entry in self._entries:
            record = asdict(entry)
            parties.setdefault(record.pop("party"), []).append(record)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.path, json.dumps({"version": 1, "parties": parties}, indent=2).encode())

    def add(self, entry: KeyEntry) -> None:
        """Register ``entry``; an entry with the same key id is replaced."""
        self._entries = [e for e in self._entries if e.key_id != entry.key_id] + [entry]

    def entries(self, party: str | None = None) -> list[KeyEntry]:
        """All entries, or those of one party."""
        return [e for e in self._entries if party is None or e.party == party]

    def get(self, party: str, key_id: str) -> KeyEntry:
        """The entry of ``party`` with ``key_id``. Raises KeyError_ if there is none."""
        for entry in self._entries:
            if entry.party == party and entry.key_id == key_id:
                return entry
        raise KeyError_(f"no key {key_id} for party {party}")

    def active(self, party: str, purpose: Purpose, now: dt.datetime) -> KeyEntry:
        """The newest active, currently valid key of ``party`` for ``purpose``. Raises KeyError_."""
        candidates = [
            e
            for e in self._entries
            if e.party == party and e.purpose == purpose and e.status == "active" and e.usable_at(now)
        ]
        if not candidates:
            raise KeyError_(f"no active {purpose} key for party {party}")
        return max(candidates, key=lambda e: e.not_before)


class PrivateKeyStore:
    """This node's private keys, by party and key id."""

    def __init__(self, keys_dir: Path, passphrase: bytes | None) -> None:
        self.root = keys_dir / "private"
        self._passphrase = passphrase
        self._cache: dict[tuple[str, str], PrivateKey] = {}

    def path(self, party: str, key_id: str) -> Path:
        """Where the private key file lives."""
        return self.root / party / f"{key_id}.pem"

    def store(self, party: str, key_id: str, key: PrivateKey) -> None:
        """Write ``key`` as PKCS#8 (encrypted when a passphrase is configured), mode 0600."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(self._passphrase)
            if self._passphrase
            else serialization.NoEncryption()
        )
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        target = self.path(party, key_id)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _atomic_write(target, pem, mode=0o600)
        self._cache[(party, key_id)] = key

    def load(self, party: str, key_id: str) -> PrivateKey:
        """The private key ``key_id`` of ``party``. Raises KeyError_ when absent or unreadable."""
        cached = self._cache.get((party, key_id))
        if cached is not None:
            return cached
        try:
            data = self.path(party, key_id).read_bytes()
            key = serialization.load_pem_private_key(data, password=self._passphrase)
        except (OSError, ValueError, TypeError):
            raise KeyError_(f"private key {key_id} of party {party} is missing or unreadable") from None
        self._cache[(party, key_id)] = key
        return key


def generate_party_keys(
    registry: KeyRegistry,
    store: PrivateKeyStore,
    party: str,
    *,
    now: dt.datetime,
    hpke: str = DEFAULT_HPKE,
    signature: str = DEFAULT_SIGNATURE,
) -> tuple[KeyEntry, KeyEntry]:
    """Create an encryption and a signing key for ``party``, register both as active, store the privates.

    Returns ``(encryption entry, signing entry)``. The caller saves the registry.
    """
    made = []
    for purpose, algorithm, private in (
        ("encryption", hpke, hpke_suite(hpke).generate()),
        ("signing", signature, signature_alg(signature).generate()),
    ):
        public = private.public_key()
        entry = KeyEntry(
            party=party,
            key_id=key_id_of(public),
            purpose=purpose,  # type: ignore[arg-type]  # the literal pairs above are Purpose values
            algorithm=algorithm,
            public_key=public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode("ascii"),
            status="active",
            not_before=now.isoformat(),
        )
        store.store(party, entry.key_id, private)
        registry.add(entry)
        made.append(entry)
    return made[0], made[1]


def _atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class KeyRing:
    """The registry of public keys and this node's private keys, opened from the settings' keys dir."""

    registry: KeyRegistry
    store: PrivateKeyStore

    @classmethod
    def open(cls, keys_dir: Path, passphrase: bytes | None) -> KeyRing:
        """Open the registry at ``keys_dir/registry.json`` and the private keys beside it."""
        return cls(KeyRegistry.load(keys_dir / "registry.json"), PrivateKeyStore(keys_dir, passphrase))

    def has_signing_key(self, party: str, now: dt.datetime) -> bool:
        """True when ``party`` has an active signing key registered."""
        try:
            self.registry.active(party, "signing", now)
        except KeyError_:
            return False
        return True

    def holds_private_signing_key(self, party: str, now: dt.datetime) -> bool:
        """True when this node holds the private half of ``party``'s active signing key."""
        try:
            entry = self.registry.active(party, "signing", now)
        except KeyError_:
            return False
        return self.store.path(party, entry.key_id).exists()
