"""Bearer tokens for the HTTP intake: one per jurisdiction, stored as SHA-256 digests only.

A jurisdiction's national system presents its token; the token decides who is submitting, so a jurisdiction
can only submit to its own feed. The file (``intake-tokens.json``: ``{"DE": "<sha256 hex>", ...}``) never
holds a token in clear: a lost token is replaced with ``crx intake token``, never recovered. A running intake
notices a changed file (``crx intake token`` run beside it) at the next request: no restart is needed, and a
replaced token stops working at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from services.kernel.errors import ConfigError

TOKEN_BYTES = 32


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenBook:
    """Jurisdiction -> digest of its current token."""

    def __init__(self, path: Path, digests: dict[str, str], stamp: tuple[int, int] | None = None) -> None:
        self._path = path
        self._digests = digests
        self._stamp = stamp

    @classmethod
    def open(cls, path: Path) -> TokenBook:
        """Load ``path`` (an absent file is an empty book). Raises ConfigError on a malformed file."""
        stamp = _stamp(path)
        return cls(path, _load(path) if stamp else {}, stamp)

    def issue(self, jurisdiction: str) -> str:
        """Make a new token for ``jurisdiction`` (replacing any old one), save, and return it in clear once."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        self._digests[jurisdiction] = _digest(token)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._digests, indent=2, sort_keys=True), encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(self._path)
        self._stamp = _stamp(self._path)
        return token

    def jurisdiction_of(self, token: str) -> str | None:
        """The jurisdiction whose current token is ``token``, or None. Compares digests in constant time.

        Reloads the file first when it changed since it was read; a file that became unreadable or
        malformed keeps the last good book (and the next request tries again).
        """
        stamp = _stamp(self._path)
        if stamp != self._stamp:
            with contextlib.suppress(ConfigError):
                self._digests, self._stamp = (_load(self._path) if stamp else {}), stamp
        presented = _digest(token)
        found = None
        for jurisdiction, digest in self._digests.items():
            if hmac.compare_digest(presented, digest):
                found = jurisdiction
        return found

    def __contains__(self, jurisdiction: str) -> bool:
        return jurisdiction in self._digests


def _stamp(path: Path) -> tuple[int, int] | None:
    """(mtime in ns, inode) of the file, or None when it does not exist: changes whenever it is replaced."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_mtime_ns, info.st_ino


def _load(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        digests = {str(k): str(v) for k, v in data.items()}
    except (OSError, ValueError, AttributeError):
        raise ConfigError(f"intake token file {path.name} is not a JSON object") from None
    if any(len(v) != 64 for v in digests.values()):
        raise ConfigError(f"intake token file {path.name}: every value must be a SHA-256 hex digest")
    return digests
