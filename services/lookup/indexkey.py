"""The lookup index keys: 32-byte random secrets in the broker's private key store, never beside the index.

Each key is one file ``<keys_dir>/private/<broker party>/index-<key id>.key`` (mode 0600 in a 0700
directory, written atomically), a small JSON document. ``key_id`` is the first 8 bytes (hex) of
``HMAC-SHA256(secret, "crx.lookup.key-id")``: it names the key without revealing anything about it, and a
loaded file is checked against it.

With a passphrase configured (``key_passphrase``) the secret is stored encrypted: AES-256-GCM under a key
derived from the passphrase with scrypt (n = 2**15, r = 8, p = 1, a random 16-byte salt per file), with the
party, key id and creation time as associated data (a file renamed to another key id or party does not
open). Why not cryptography's PKCS#8 ``BestAvailableEncryption`` as the private keys use: it serialises
asymmetric keys only, and its PBKDF2 with 2,048 rounds is weak against a guessable passphrase; scrypt is
memory-hard and costs ~0.1 s once per process (keys are cached). RFC 3394 key wrap would still need a
key-encryption key; GCM authenticates as well. Without a passphrase the secret is stored in the clear, as
the private keys are, and the file mode is the only protection.

Lifecycle (no state besides the files): every key file present is *live*: lookups ask with every live key,
and records are indexed under every live key. The newest live key (by creation time) is *active*, the others
*retiring*. A rotation creates a new key (active at once), re-indexes the records under it (``crx lookup
reindex``), then destroys the old one: its file is overwritten and deleted (``services.keys.store.shred``),
a tombstone ``index-<key id>.destroyed`` (key id and times, no key material) records that it was, and the
index drops its rows (``LookupIndex.drop_key``). A destroyed key's pseudonyms can no longer be recomputed by
anyone, so whatever copy of its rows survives (a backup) is retired for good. ``states`` lists every key
with its status, read from the files alone (no secret is decrypted): what ``crx lookup keys list`` prints
and what the audit writer logs as KEY_CHANGE events (``services/audit/observed.py``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from services.kernel.errors import ConfigError, KeyUnavailable
from services.keys.registry import atomic_write
from services.keys.store import shred

SECRET_BYTES = 32
FORMAT = "crx-index-key-v1"
TOMBSTONE_FORMAT = "crx-index-key-destroyed-v1"
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_FILE = re.compile(r"index-([0-9a-f]{16})\.key")
_TOMBSTONE = re.compile(r"index-([0-9a-f]{16})\.destroyed")

IndexKeyStatus = Literal["active", "retiring", "destroyed"]


@dataclass(frozen=True)
class IndexKey:
    """One index key: its id, its secret (never printed) and when it was made."""

    key_id: str
    secret: bytes = field(repr=False)
    created_at: dt.datetime


@dataclass(frozen=True)
class IndexKeyState:
    """What is public about one index key: its id, status and times. Never key material."""

    key_id: str
    status: IndexKeyStatus
    created_at: dt.datetime
    destroyed_at: dt.datetime | None = None


def key_id_of(secret: bytes) -> str:
    """The public id of an index key: 16 hex characters of HMAC-SHA256(secret, label)."""
    return hmac.digest(secret, b"crx.lookup.key-id", "sha256")[:8].hex()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class IndexKeyStore:
    """The index keys of one party in a keys directory. Reads the directory on every call (a key made by
    ``crx`` in another process is seen at once) and caches decrypted keys by id."""

    def __init__(self, keys_dir: Path, party: str, passphrase: bytes | None) -> None:
        self.root = keys_dir / "private" / party
        self._party = party
        self._passphrase = passphrase or None
        self._cache: dict[str, IndexKey] = {}

    def path(self, key_id: str) -> Path:
        """Where key ``key_id`` is stored."""
        return self.root / f"index-{key_id}.key"

    def create(self, now: dt.datetime) -> IndexKey:
        """Make a new random key, store it (encrypted when a passphrase is set); it is active from now on."""
        secret = secrets.token_bytes(SECRET_BYTES)
        key = IndexKey(key_id_of(secret), secret, now.astimezone(dt.UTC).replace(microsecond=0))
        document: dict[str, Any] = {"format": FORMAT, "key_id": key.key_id, "created_at": key.created_at.isoformat()}
        if self._passphrase is None:
            document["secret"] = _b64(secret)
        else:
            salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
            sealed = AESGCM(self._kek(salt)).encrypt(nonce, secret, self._aad(key.key_id, document["created_at"]))
            document |= {"kdf": {"name": "scrypt", "salt": _b64(salt), **_SCRYPT}, "nonce": _b64(nonce),
                         "ciphertext": _b64(sealed)}  # fmt: skip
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(self.path(key.key_id), json.dumps(document, indent=1).encode(), mode=0o600)
        self._cache[key.key_id] = key
        return key

    def key_ids(self) -> list[str]:
        """The ids of every key file present, in no particular order."""
        if not self.root.is_dir():
            return []
        return [m.group(1) for p in self.root.iterdir() if (m := _FILE.fullmatch(p.name))]

    def load(self, key_id: str) -> IndexKey:
        """Key ``key_id``. Raises KeyUnavailable (one message for every cause: missing, unreadable, wrong
        passphrase, not the key its name says)."""
        cached = self._cache.get(key_id)
        if cached is not None and self.path(key_id).exists():
            return cached
        try:
            key = self._read(key_id)
        except (OSError, ValueError, KeyError, TypeError, InvalidTag):
            raise KeyUnavailable(f"index key {key_id} of party {self._party} is missing or unreadable") from None
        self._cache[key_id] = key
        return key

    def live(self) -> list[IndexKey]:
        """Every live key, oldest first. Raises KeyUnavailable when one cannot be read."""
        return sorted((self.load(key_id) for key_id in self.key_ids()), key=lambda k: (k.created_at, k.key_id))

    def active(self) -> IndexKey:
        """The newest live key (new entries are indexed under it). Raises KeyUnavailable when there is none."""
        keys = self.live()
        if not keys:
            raise KeyUnavailable(f"no index key for party {self._party}: run a rotation to create one")
        return keys[-1]

    def tombstone(self, key_id: str) -> Path:
        """Where the record that key ``key_id`` was destroyed is kept."""
        return self.root / f"index-{key_id}.destroyed"

    def destroy(self, key_id: str, now: dt.datetime) -> bool:
        """Destroy key ``key_id`` for good: overwrite and delete its file (``shred``), then leave its tombstone
        (key id, creation and destruction times). Idempotent; returns False when there was no key file. The
        index's rows under it must be dropped too (``LookupIndex.drop_key``). Raises OSError when the file
        cannot be overwritten, removed or the tombstone written; KeyUnavailable for a key file whose creation
        time cannot be read."""
        self._cache.pop(key_id, None)
        path = self.path(key_id)
        if not path.exists():
            return False
        try:
            created_at = str(json.loads(path.read_bytes())["created_at"])
        except (ValueError, KeyError, TypeError):
            raise KeyUnavailable(f"index key {key_id} of party {self._party} is unreadable") from None
        shred(path)
        stamp = now.astimezone(dt.UTC).replace(microsecond=0).isoformat()
        document = {"format": TOMBSTONE_FORMAT, "key_id": key_id, "created_at": created_at, "destroyed_at": stamp}
        atomic_write(self.tombstone(key_id), json.dumps(document, indent=1).encode(), mode=0o600)
        return True

    def states(self) -> list[IndexKeyState]:
        """Every index key this store has held, oldest first, with its status: the newest live key active, the
        other live keys retiring, destroyed keys (by their tombstones) destroyed. Reads creation times from the
        files without decrypting anything. A file that cannot be read is left out (``live`` raises for it)."""
        if not self.root.is_dir():
            return []
        live: list[tuple[dt.datetime, str]] = []
        dead: list[IndexKeyState] = []
        for entry in self.root.iterdir():
            if (m := _FILE.fullmatch(entry.name)) is not None:
                document = _document(entry)
                if document is not None:
                    live.append((dt.datetime.fromisoformat(document["created_at"]), m.group(1)))
            elif (m := _TOMBSTONE.fullmatch(entry.name)) is not None and (document := _document(entry)) is not None:
                created, destroyed = document["created_at"], document["destroyed_at"]
                at = dt.datetime.fromisoformat
                dead.append(IndexKeyState(m.group(1), "destroyed", at(created), at(destroyed)))
        live.sort()
        states = dead + [
            IndexKeyState(key_id, "active" if i == len(live) - 1 else "retiring", created)
            for i, (created, key_id) in enumerate(live)
        ]
        return sorted(states, key=lambda s: (s.created_at, s.key_id))

    def _read(self, key_id: str) -> IndexKey:
        document = json.loads(self.path(key_id).read_bytes())
        if document["format"] != FORMAT or document["key_id"] != key_id:
            raise ValueError("not this index key")
        if "secret" in document:
            secret = base64.b64decode(document["secret"], validate=True)
        else:
            if self._passphrase is None:
                raise ValueError("encrypted index key and no passphrase")
            kdf = document["kdf"]
            if kdf["name"] != "scrypt":
                raise ValueError("unknown key derivation")
            kek = self._kek(base64.b64decode(kdf["salt"]), n=int(kdf["n"]), r=int(kdf["r"]), p=int(kdf["p"]))
            aad = self._aad(key_id, document["created_at"])
            secret = AESGCM(kek).decrypt(
                base64.b64decode(document["nonce"]), base64.b64decode(document["ciphertext"]), aad
            )
        if len(secret) != SECRET_BYTES or key_id_of(secret) != key_id:
            raise ValueError("key does not match its id")
        return IndexKey(key_id, secret, dt.datetime.fromisoformat(document["created_at"]))

    def _kek(self, salt: bytes, n: int = _SCRYPT["n"], r: int = _SCRYPT["r"], p: int = _SCRYPT["p"]) -> bytes:
        return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(self._passphrase or b"")

    def _aad(self, key_id: str, created_at: str) -> bytes:
        return f"{FORMAT}\x1f{self._party}\x1f{key_id}\x1f{created_at}".encode()


def _document(path: Path) -> dict[str, Any] | None:
    """The JSON document of a key file or tombstone, None when it cannot be read or lacks a creation time."""
    try:
        document = json.loads(path.read_bytes())
        dt.datetime.fromisoformat(document["created_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return document if isinstance(document, dict) else None


def check_apart(index_location: str, keys_dir: Path) -> None:
    """Refuse an index database inside the keys directory: a copy of one must never carry the other.
    Raises ConfigError."""
    if "://" in index_location:
        return
    index = Path(index_location).resolve()
    if index.is_relative_to(keys_dir.resolve()):
        raise ConfigError("the lookup index database must not be inside the keys directory")
