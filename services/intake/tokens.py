"""Bearer tokens for the HTTP intake: one per jurisdiction, stored as SHA-256 digests only.

A jurisdiction's national system presents its token; the token decides who is submitting, so a jurisdiction
can only submit to its own feed. The file (``intake-tokens.json``: ``{"DE": "<sha256 hex>", ...}``) never
holds a token in clear: a lost token is replaced with ``crx intake token``, never recovered.
"""

from __future__ import annotations

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

    def __init__(self, path: Path, digests: dict[str, str]) -> None:
        self._path = path
        self._digests = digests

    @classmethod
    def open(cls, path: Path) -> TokenBook:
        """Load ``path`` (an absent file is an empty book). Raises ConfigError on a malformed file."""
        if not path.exists():
            return cls(path, {})
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            digests = {str(k): str(v) for k, v in data.items()}
        except (OSError, ValueError, AttributeError):
            raise ConfigError(f"intake token file {path.name} is not a JSON object") from None
        if any(len(v) != 64 for v in digests.values()):
            raise ConfigError(f"intake token file {path.name}: every value must be a SHA-256 hex digest")
        return cls(path, digests)

    def issue(self, jurisdiction: str) -> str:
        """Make a new token for ``jurisdiction`` (replacing any old one), save, and return it in clear once."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        self._digests[jurisdiction] = _digest(token)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._digests, indent=2, sort_keys=True), encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(self._path)
        return token

    def jurisdiction_of(self, token: str) -> str | None:
        """The jurisdiction whose current token is ``token``, or None. Compares digests in constant time."""
        presented = _digest(token)
        found = None
        for jurisdiction, digest in self._digests.items():
            if hmac.compare_digest(presented, digest):
                found = jurisdiction
        return found

    def __contains__(self, jurisdiction: str) -> bool:
        return jurisdiction in self._digests
