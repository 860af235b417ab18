"""Keys: the file-based registry of every party's public keys and this node's private key store.

This module is the public face; the parts live in ``keyentry`` (an entry, its encodings, the rules of use),
``keyregistry`` (the registry file, hot reload, locked edits) and ``keystore`` (private keys, generation,
the key ring).

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
key id; a missing, unreadable or wrongly decrypted key raises the one opaque ``KeyUnavailable``.

Lifecycle: ``USES`` below is the one place that says which key may be used for what (see ``allowed``).
Statuses only move forward, active -> retiring -> revoked -> destroyed. Rotation keeps old private keys so
old records stay readable; revoked keys' private files are kept too (for forensic decryption by an operator)
but crx never uses them. A destroyed key (crypto-shredding, ``services.keys.epochs``) has no private file any
more: its entry stays, with its public key, so its id stays known and no bundle can bring it back; an envelope
sealed to it raises ``KeyDestroyed``. The broker's own encryption key is rotated every epoch and destroyed once
nothing sealed to it may still be needed, so the copies Kafka keeps on disk become unreadable.

Hot reload: a running process sees registry changes without a restart. Lookups check the file's identity
(inode, size, mtime, ctime) at most once per ``reload_interval`` (1 s), and at once when a key id is not
found; a changed file is parsed whole and swapped in atomically. A file that is momentarily invalid or
missing keeps the last good registry (a warning is logged).
"""

from __future__ import annotations

from services.keys.entry import (
    ENDED,
    STATUS_ORDER,
    USES,
    KeyEntry,
    PublicFormat,
    Purpose,
    Status,
    Use,
    UseRule,
    allowed,
    canonical_public_bytes,
    decode_public,
    encode_public,
    key_id_of,
    new_entry,
)
from services.keys.registry import KeyRegistry, editing
from services.keys.store import KeyRing, PrivateKeyStore, generate_key, generate_party_keys

__all__ = [
    "ENDED",
    "STATUS_ORDER",
    "USES",
    "KeyEntry",
    "KeyRegistry",
    "KeyRing",
    "PrivateKeyStore",
    "PublicFormat",
    "Purpose",
    "Status",
    "Use",
    "UseRule",
    "allowed",
    "canonical_public_bytes",
    "decode_public",
    "editing",
    "encode_public",
    "generate_key",
    "generate_party_keys",
    "key_id_of",
    "new_entry",
]
