"""This node's private keys (encrypted PKCS#8 files), key generation, and the key ring that pairs them
with the registry."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from services.kernel.errors import KeyUnavailable
from services.kernel.suites import (
    DEFAULT_HPKE,
    DEFAULT_SIGNATURE,
    HybridPrivateKey,
    PrivateKey,
    hpke_suite,
    signature_alg,
)
from services.keys.entry import KeyEntry, Purpose, key_id_of, new_entry
from services.keys.registry import KeyRegistry, atomic_write

# --- private keys -----------------------------------------------------------------------------------------

_PEM_BLOCK = re.compile(rb"-----BEGIN [A-Z0-9 ]+-----\r?\n.+?-----END [A-Z0-9 ]+-----\r?\n?", re.DOTALL)


class PrivateKeyStore:
    """This node's private keys, by party and key id. Files are read on demand and cached once loaded, so
    keys added by another process (``crx keys rotate``) are found without a restart."""

    def __init__(self, keys_dir: Path, passphrase: bytes | None) -> None:
        self.root = keys_dir / "private"
        self._passphrase = passphrase
        self._cache: dict[tuple[str, str], PrivateKey] = {}

    @property
    def encrypted(self) -> bool:
        """True when private keys are written encrypted (a passphrase is configured)."""
        return bool(self._passphrase)

    def path(self, party: str, key_id: str) -> Path:
        """Where the private key file lives."""
        return self.root / party / f"{key_id}.pem"

    def manages(self, party: str) -> bool:
        """True when this node keeps private keys of ``party`` (its keys are made, rotated and destroyed here,
        never imported)."""
        return (self.root / party).is_dir()

    def holds(self, party: str, key_id: str) -> bool:
        """True when this node has the private key file of ``key_id``."""
        return self.path(party, key_id).exists()

    def store(self, party: str, key_id: str, key: PrivateKey) -> None:
        """Write ``key`` as PKCS#8 (encrypted when a passphrase is configured), mode 0600."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(self._passphrase)
            if self._passphrase
            else serialization.NoEncryption()
        )
        parts: list[Any] = [key.mlkem, key.x25519] if isinstance(key, HybridPrivateKey) else [key]
        pem = b"".join(
            part.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
            for part in parts
        )
        target = self.path(party, key_id)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(target, pem, mode=0o600)
        self._cache[(party, key_id)] = _usable(key)

    def load(self, party: str, key_id: str) -> PrivateKey:
        """The private key ``key_id`` of ``party`` (the combined HPKE key for the hybrid).

        Raises KeyUnavailable (one message for every cause) when absent, unreadable, not decryptable with the
        configured passphrase, or not the key ``key_id`` names.
        """
        cached = self._cache.get((party, key_id))
        if cached is not None:
            return cached
        try:
            key = self._read(self.path(party, key_id))
            if key_id_of(key.public_key()) != key_id:
                raise ValueError("key does not match its id")
        except (OSError, ValueError, TypeError, UnsupportedAlgorithm):
            raise KeyUnavailable(f"private key {key_id} of party {party} is missing or unreadable") from None
        usable = _usable(key)
        self._cache[(party, key_id)] = usable
        return usable

    def forget(self, party: str, key_id: str) -> None:
        """Drop this process's loaded copy of the key, if any (the file is untouched)."""
        self._cache.pop((party, key_id), None)

    def destroy(self, party: str, key_id: str) -> bool:
        """Irreversibly destroy the private key file of ``key_id``: overwrite it with random bytes, fsync,
        unlink, fsync the directory; and drop this process's loaded copy. Returns False when there was no file.

        Best effort below the file system: on a journaling or copy-on-write file system (ext4 data journaling,
        btrfs, ZFS), on an SSD (wear levelling) and in snapshots and backups the old blocks may survive the
        overwrite. The other layer is the passphrase encryption of the PKCS#8 file: a surviving block is useless
        without ``CRX_KEY_PASSPHRASE``. Other processes drop their copies when they meet the key's "destroyed"
        status (``Opener``). Raises OSError when the file cannot be overwritten or removed.
        """
        self.forget(party, key_id)
        return shred(self.path(party, key_id))

    def _read(self, path: Path) -> PrivateKey:
        blocks = _PEM_BLOCK.findall(path.read_bytes())
        keys = [serialization.load_pem_private_key(block, password=self._passphrase) for block in blocks]
        if len(keys) == 1:
            return keys[0]
        if (
            len(keys) == 2
            and isinstance(keys[0], mlkem.MLKEM768PrivateKey)
            and isinstance(keys[1], x25519.X25519PrivateKey)
        ):
            return HybridPrivateKey(keys[0], keys[1])
        raise ValueError("unexpected private key file layout")


def shred(path: Path) -> bool:
    """Overwrite the file at ``path`` with random bytes, fsync, unlink, fsync its directory. Returns False when
    there was no file. Best effort below the file system (see ``PrivateKeyStore.destroy``). Raises OSError when
    the file cannot be overwritten or removed."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    try:
        remaining = os.fstat(fd).st_size
        while remaining > 0:
            remaining -= os.write(fd, os.urandom(min(remaining, 1 << 16)))
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink()
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return True


def _usable(key: PrivateKey) -> PrivateKey:
    return key.hpke_key() if isinstance(key, HybridPrivateKey) else key


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
    encryption = generate_key(registry, store, party, "encryption", hpke, not_before=now)
    signing = generate_key(registry, store, party, "signing", signature, not_before=now)
    return encryption, signing


def generate_key(
    registry: KeyRegistry,
    store: PrivateKeyStore,
    party: str,
    purpose: Purpose,
    algorithm: str,
    *,
    not_before: dt.datetime,
) -> KeyEntry:
    """Make one key of ``algorithm`` (an HPKE suite or a signature algorithm, per ``purpose``), store its
    private half, register it as active from ``not_before``. The caller saves the registry."""
    private = hpke_suite(algorithm).generate() if purpose == "encryption" else signature_alg(algorithm).generate()
    entry = new_entry(party, purpose, algorithm, private.public_key(), not_before)
    store.store(party, entry.key_id, private)
    registry.add(entry)
    return entry


@dataclass(frozen=True)
class KeyRing:
    """The registry of public keys and this node's private keys, opened from the settings' keys dir."""

    registry: KeyRegistry
    store: PrivateKeyStore

    @classmethod
    def open(cls, keys_dir: Path, passphrase: bytes | None) -> KeyRing:
        """Open the registry at ``keys_dir/registry.json`` and the private keys beside it."""
        return cls(KeyRegistry.load(keys_dir / "registry.json"), PrivateKeyStore(keys_dir, passphrase))

    def holds_private_signing_key(self, party: str, now: dt.datetime) -> bool:
        """True when this node holds the private half of ``party``'s active signing key."""
        try:
            entry = self.registry.active(party, "signing", now)
        except KeyUnavailable:
            return False
        return self.store.holds(party, entry.key_id)
