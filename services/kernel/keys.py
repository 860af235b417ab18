"""File-based key registry (public keys of every party) and private key store (this node's own keys).

Registry layout (``<keys_dir>/registry.json``)::

    {"version": 1, "parties": {"FR": [{"key_id": "...", "purpose": "encryption", "algorithm":
      "P256-SHA256-AES256GCM", "public_key": "<PEM>", "status": "active", "not_before": "...",
      "not_after": null, "public_key_format": "spki-pem"}]}}

Public key formats (``public_key_format``; an entry without the field is ``spki-pem``, as written before
the field existed):

- ``spki-pem``: SubjectPublicKeyInfo PEM (P-256 and X25519 HPKE keys, ECDSA P-256 and Ed25519 signing keys);
- ``kem-raw-base64``: base64 of the KEM's SerializePublicKey output, used for the hybrid
  ``MLKEM768-X25519-SHA256-AES256GCM``, which has no single SPKI: ``pk_MLKEM768 (1184 bytes) ||
  pk_X25519 (32 bytes)`` (1216 bytes; the order of draft-ietf-hpke-pq / X-Wing).

``key_id`` is the first 16 bytes (hex) of SHA-256 over the key's canonical public encoding: the
SubjectPublicKeyInfo DER for PEM-able keys, the 1216-byte concatenation for the hybrid. A partner pins it.

Private keys live in ``<keys_dir>/private/<party>/<key_id>.pem``, mode 0600 in a 0700 directory, as PKCS#8
PEM encrypted with the configured passphrase (``BestAvailableEncryption``: PBES2, AES-256-CBC, PBKDF2 with
cryptography's fixed 2048 rounds, which cryptography 50 does not let a PKCS#8 writer raise) when there is one;
so the passphrase must be a high-entropy secret, not a memorable password. A hybrid key is
two PKCS#8 PEM blocks in that one file, in this order: the ML-KEM-768 key (seed form, OID
id-alg-ml-kem-768) and the X25519 key, each encrypted the same way. Loading checks that the key matches its
key id; a missing, unreadable or wrongly decrypted key raises the one opaque ``KeyError_``.

Lifecycle: ``USES`` below is the one place that says which key may be used for what (see ``allowed``).
Statuses only move forward, active -> retiring -> revoked. Rotation keeps old private keys so old records
stay readable; revoked keys' private files are kept too (for forensic decryption by an operator) but crx
never uses them.

Hot reload: a running process sees registry changes without a restart. Lookups check the file's identity
(inode, size, mtime, ctime) at most once per ``reload_interval`` (1 s), and at once when a key id is not
found; a changed file is parsed whole and swapped in atomically. A file that is momentarily invalid or
missing keeps the last good registry (a warning is logged).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import fcntl
import functools
import hashlib
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal, get_args

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from services.kernel.errors import KeyError_
from services.kernel.logging import get_logger
from services.kernel.suites import (
    DEFAULT_HPKE,
    DEFAULT_SIGNATURE,
    HPKE_SUITES,
    SIGNATURE_ALGS,
    HybridPrivateKey,
    HybridPublicKey,
    PrivateKey,
    PublicKey,
    hpke_suite,
    signature_alg,
)

Purpose = Literal["encryption", "signing"]
Status = Literal["active", "retiring", "revoked"]
PublicFormat = Literal["spki-pem", "kem-raw-base64"]
Use = Literal["seal", "open", "sign", "verify"]

STATUS_ORDER: dict[str, int] = {"active": 0, "retiring": 1, "revoked": 2}


@dataclass(frozen=True)
class UseRule:
    """Which keys may serve one use: their purpose, the statuses allowed, whether the validity window applies."""

    purpose: Purpose
    statuses: frozenset[str]
    within_validity: bool


# The key lifecycle rules, in one place:
# - seal:   the broker seals only to an active encryption key that is valid now (never retiring or revoked);
# - open:   a party opens records sealed to its active or retiring keys, even after not_after (records sealed
#           while the key was valid stay readable); never with a revoked key;
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
        if now < _parse_time(self.not_before):
            return False
        return self.not_after is None or now < _parse_time(self.not_after)

    def usable_at(self, now: dt.datetime) -> bool:
        """True when not revoked and ``now`` falls within the validity window."""
        return self.status != "revoked" and self.valid_at(now)

    def check(self) -> None:
        """Raise ValueError unless the entry is self-consistent: known purpose, status and algorithm, a public
        key of that algorithm's type in the format it requires, and the key id derived from that key."""
        if self.purpose not in get_args(Purpose) or self.status not in STATUS_ORDER:
            raise ValueError("unknown purpose or status")
        _parse_time(self.not_before)
        if self.not_after is not None:
            _parse_time(self.not_after)
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
def _parse_time(text: str) -> dt.datetime:
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


# --- the registry -----------------------------------------------------------------------------------------

_ENTRY_FIELDS = frozenset(f.name for f in fields(KeyEntry)) - {"party"}
FileIdentity = tuple[int, int, int, int]


def _identity(st: os.stat_result) -> FileIdentity:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _read_registry(path: Path) -> tuple[list[KeyEntry], FileIdentity]:
    """Parse the registry file. Raises FileNotFoundError, or KeyError_ when it is not a valid registry."""
    with path.open("rb") as handle:
        identity = _identity(os.fstat(handle.fileno()))
        raw = handle.read()
    try:
        data = json.loads(raw)
        entries = []
        for party, keys in data["parties"].items():
            for entry in keys:
                if not isinstance(entry, dict) or not set(entry) <= _ENTRY_FIELDS:
                    raise ValueError("unexpected entry fields")
                parsed = KeyEntry(party=party, **entry)
                if parsed.purpose not in get_args(Purpose) or parsed.status not in STATUS_ORDER:
                    raise ValueError("unknown purpose or status")
                entries.append(parsed)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise KeyError_(f"key registry {path} is not valid") from None
    return entries, identity


class KeyRegistry:
    """Read and update the registry file. Lookups are in memory and see file changes (hot reload).

    ``save()`` writes atomically. Entries added in memory and not saved are dropped when the file changes.
    """

    def __init__(self, path: Path, entries: list[KeyEntry] | None = None, *, reload_interval: float = 1.0) -> None:
        self.path = path
        self.reload_interval = reload_interval
        self._entries: tuple[KeyEntry, ...] = tuple(entries or ())
        self._identity: FileIdentity | None = None
        self._checked_at = time.monotonic()
        self._reloading = threading.Lock()
        self._log = get_logger("keys")

    @classmethod
    def load(cls, path: Path, *, reload_interval: float = 1.0) -> KeyRegistry:
        """Load the registry at ``path`` (empty if the file does not exist). Raises KeyError_ if corrupt."""
        registry = cls(path, reload_interval=reload_interval)
        try:
            entries, identity = _read_registry(path)
        except FileNotFoundError:
            return registry
        registry._entries, registry._identity = tuple(entries), identity
        return registry

    def refresh(self, *, force: bool = False) -> bool:
        """Reload the file if it changed (checked at most once per ``reload_interval`` unless ``force``).

        Returns True when new entries were swapped in. An invalid or missing file keeps the current entries.
        """
        now = time.monotonic()
        if not force and now - self._checked_at < self.reload_interval:
            return False
        if not self._reloading.acquire(blocking=False):
            return False
        try:
            self._checked_at = now
            try:
                identity: FileIdentity | None = _identity(os.stat(self.path))
            except FileNotFoundError:
                identity = None
            if identity == self._identity:
                return False
            try:
                entries, identity = _read_registry(self.path)
            except (FileNotFoundError, KeyError_):
                self._identity = identity  # warn once per change; a later valid write is picked up
                self._log.warning("key_registry_invalid_kept_last_good", path=str(self.path), kept=len(self._entries))
                return False
            self._entries, self._identity = tuple(entries), identity
            self._log.info("key_registry_reloaded", path=str(self.path), entries=len(entries))
            return True
        finally:
            self._reloading.release()

    def save(self) -> None:
        """Write the registry atomically (temp file + rename)."""
        parties: dict[str, list[dict[str, Any]]] = {}
        for entry in self._entries:
            record = asdict(entry)
            parties.setdefault(record.pop("party"), []).append(record)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.path, json.dumps({"version": 1, "parties": parties}, indent=2).encode())
        with contextlib.suppress(FileNotFoundError):
            self._identity = _identity(os.stat(self.path))

    def add(self, entry: KeyEntry) -> None:
        """Register ``entry``; an entry with the same key id is replaced in place."""
        entries = list(self._entries)
        for i, existing in enumerate(entries):
            if existing.key_id == entry.key_id:
                entries[i] = entry
                break
        else:
            entries.append(entry)
        self._entries = tuple(entries)

    def entries(self, party: str | None = None) -> list[KeyEntry]:
        """All entries, or those of one party."""
        self.refresh()
        return [e for e in self._entries if party is None or e.party == party]

    def get(self, party: str, key_id: str) -> KeyEntry:
        """The entry of ``party`` with ``key_id``. Raises KeyError_ if there is none.

        A key id not found makes the registry look at its file at once: a key just rotated in elsewhere.
        """
        self.refresh()
        for attempt in range(2):
            for entry in self._entries:
                if entry.party == party and entry.key_id == key_id:
                    return entry
            if attempt == 0 and not self.refresh(force=True):
                break
        raise KeyError_(f"no key {key_id} for party {party}")

    def active(self, party: str, purpose: Purpose, now: dt.datetime) -> KeyEntry:
        """The key to seal to (encryption) or sign with (signing) now: the newest by not_before among the
        party's active keys valid at ``now`` (a key scheduled for later takes over when it becomes valid).
        Raises KeyError_."""
        use: Use = "seal" if purpose == "encryption" else "sign"
        entries = self.entries(party)
        candidates = [(i, e) for i, e in enumerate(entries) if allowed(e, use, now)]
        if not candidates:
            raise KeyError_(f"no active {purpose} key for party {party}")
        return max(candidates, key=lambda c: (_parse_time(c[1].not_before), c[0]))[1]

    def for_use(self, party: str, key_id: str, use: Use, now: dt.datetime) -> KeyEntry:
        """The entry ``key_id`` of ``party`` if the rules allow ``use`` at ``now``. Raises KeyError_."""
        entry = self.get(party, key_id)
        if not allowed(entry, use, now):
            raise KeyError_(f"key {key_id} of party {party} may not be used to {use}")
        return entry


@contextlib.contextmanager
def editing(path: Path) -> Iterator[KeyRegistry]:
    """Read-modify-write the registry under an exclusive lock (``<registry>.lock``); saved on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / f"{path.name}.lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            registry = KeyRegistry.load(path)
            yield registry
            registry.save()
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


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
        _atomic_write(target, pem, mode=0o600)
        self._cache[(party, key_id)] = _usable(key)

    def load(self, party: str, key_id: str) -> PrivateKey:
        """The private key ``key_id`` of ``party`` (the combined HPKE key for the hybrid).

        Raises KeyError_ (one message for every cause) when absent, unreadable, not decryptable with the
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
            raise KeyError_(f"private key {key_id} of party {party} is missing or unreadable") from None
        usable = _usable(key)
        self._cache[(party, key_id)] = usable
        return usable

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
        return self.store.holds(party, entry.key_id)
