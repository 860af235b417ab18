"""Which log keys a party trusts: the verifier-key file (``audit-note.vkey``) that a log operator publishes.

One note verifier key per line, ``<origin>+<hex key id>+<base64 key>`` (C2SP signed-note form). After a key
change the old line stays, so that old checkpoints still verify.
"""

from __future__ import annotations

from pathlib import Path

from services.kernel.errors import KeyUnavailable
from services.translog.notes import NoteError, NoteVerifier

VKEY_FILE = "audit-note.vkey"


def load_verifiers(path: Path) -> list[NoteVerifier]:
    """The trusted checkpoint keys in ``path``. Raises KeyUnavailable if it is missing or malformed."""
    try:
        lines = path.read_text(encoding="utf-8").split()
        return [NoteVerifier.from_vkey(line) for line in lines]
    except (OSError, NoteError):
        raise KeyUnavailable("the audit verifier key file is missing or malformed") from None
