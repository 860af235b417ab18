"""The audit log's checkpoint key: a dedicated Ed25519 note key, named after the log's origin.

C2SP signed notes are Ed25519, while the broker's registered signing key is ECDSA P-256 by default and
rotates with the key registry; so the log has its own key, in two files beside the key registry:

- ``<keys_dir>/audit-note.key``: the private key, PKCS#8 PEM, mode 0600, encrypted with the key passphrase
  when one is configured (as the other private keys are);
- ``<keys_dir>/audit-note.vkey``: the verifier key(s) in note form, ``<origin>+<hex key id>+<base64 key>``,
  one per line. This file is public: give it to partners and to whoever runs ``crx audit verify``. After a
  key change, keep the old line so that old checkpoints still verify.

The key is created on first use (the audit writer's start, or ``ensure_keys``), never replaced.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.kernel.config import Settings
from services.kernel.errors import KeyUnavailable
from services.kernel.runtime import passphrase_of
from services.translog.notes import NoteError, NoteSigner, NoteVerifier
from services.translog.trust import VKEY_FILE, load_verifiers

KEY_FILE = "audit-note.key"


def key_path(settings: Settings) -> Path:
    """Where the private note key lives."""
    return settings.keys_dir / KEY_FILE


def vkey_path(settings: Settings) -> Path:
    """Where the public verifier key(s) live."""
    return settings.keys_dir / VKEY_FILE


def ensure_note_key(settings: Settings, origin: str | None = None) -> NoteSigner:
    """The log's note signer, creating the key (and its verifier key file) on first use only.

    ``origin`` names the key (default: ``settings.audit_log_origin``); it should be the origin of the
    checkpoints it signs. A key is created only when neither ``audit-note.key`` nor ``audit-note.vkey`` exists:
    a new key for an existing log would let a rewritten history verify, so a missing key, or a key that the
    verifier file does not list, is refused instead. Raises KeyUnavailable for those, and when the key file
    cannot be read with the configured passphrase.
    """
    path, vkeys = key_path(settings), vkey_path(settings)
    trusted = vkeys.read_text(encoding="utf-8").split() if vkeys.exists() else []
    if not path.exists():
        if trusted:
            raise KeyUnavailable(
                f"the audit note key is missing while {VKEY_FILE} names one: restore it from backup "
                "(crx never makes a new key for an existing log)"
            )
        _create(settings, path)
    signer = load_note_signer(settings, origin)
    line = signer.verifier_key()
    if trusted and not any(t.rsplit("+", 1)[-1] == line.rsplit("+", 1)[-1] for t in trusted):
        raise KeyUnavailable(f"the audit note key is not one that {VKEY_FILE} lists: refusing to sign with it")
    if line not in trusted:  # first use, or the same key named after another origin
        with vkeys.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
    return signer


def _create(settings: Settings, path: Path) -> None:
    passphrase = passphrase_of(settings)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        with contextlib.suppress(FileExistsError):  # atomic create-if-absent: a concurrent start keeps its key
            os.link(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def load_note_signer(settings: Settings, origin: str | None = None) -> NoteSigner:
    """The log's note signer from ``audit-note.key``, named ``origin`` (default: the configured origin).

    Raises KeyUnavailable (opaque) if the key is missing or unreadable.
    """
    try:
        key = serialization.load_pem_private_key(key_path(settings).read_bytes(), password=passphrase_of(settings))
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("not an Ed25519 key")
        return NoteSigner(origin or settings.audit_log_origin, key)
    except (OSError, ValueError, TypeError, NoteError):
        raise KeyUnavailable("the audit note key is missing or unreadable") from None


def load_note_verifiers(settings: Settings) -> list[NoteVerifier]:
    """The trusted checkpoint keys from ``audit-note.vkey``. Raises KeyUnavailable if missing or malformed."""
    return load_verifiers(vkey_path(settings))
