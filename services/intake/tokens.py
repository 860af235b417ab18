"""Bearer tokens for the HTTP intake, stored as SHA-256 digests only.

A jurisdiction's national system presents its token; the token decides who is submitting, so a jurisdiction
can only submit to its own feed. The file (``intake-tokens.json``: ``{"DE": ["<sha256 hex>", ...], ...}``;
a single string per jurisdiction, the older form, is read too) never holds a token in clear: a lost token is
replaced with ``crx intake token``, never recovered. A jurisdiction holds at most two tokens: ``--keep-old``
issues a new one beside the current one (the national system switches, then ``crx intake revoke --old``
retires the old one); without it the new token replaces every old one at once. ``crx intake revoke`` drops a
jurisdiction's tokens. A running intake notices a changed file at the next request: no restart is needed.
A file that cannot be read or parsed fails closed: every request is refused (503) and the error is logged
until the file is fixed, so a broken edit never keeps a revoked token alive.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from services.kernel.errors import ConfigError
from services.kernel.logging import get_logger

TOKEN_BYTES = 32
MAX_TOKENS = 2  # the current token and, during a rotation, the one it replaces


def bearer(authorization: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value, "" for any other (or none)."""
    return authorization[7:] if authorization[:7].lower() == "bearer " else ""


CHALLENGE = {"WWW-Authenticate": 'Bearer realm="crx"'}
"""The header of a 401 answer."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenBook:
    """Jurisdiction -> digests of its valid tokens (newest last)."""

    def __init__(self, path: Path, digests: dict[str, list[str]], stamp: tuple[int, int] | None = None) -> None:
        self._path = path
        self._digests = digests
        self._stamp = stamp
        self._broken: str | None = None
        self._log = get_logger("intake.tokens")

    @classmethod
    def open(cls, path: Path) -> TokenBook:
        """Load ``path`` (an absent file is an empty book). Raises ConfigError on a malformed file."""
        stamp = _stamp(path)
        return cls(path, _load(path) if stamp else {}, stamp)

    def issue(self, jurisdiction: str, *, keep_old: bool = False) -> str:
        """Make a new token for ``jurisdiction``, save, and return it in clear once. With ``keep_old`` the
        newest previous token stays valid beside it (a rotation without downtime), else every old one ends."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        kept = self._digests.get(jurisdiction, [])[-(MAX_TOKENS - 1) :] if keep_old else []
        self._digests[jurisdiction] = [*kept, _digest(token)]
        self._save()
        return token

    def revoke(self, jurisdiction: str, *, old_only: bool = False) -> int:
        """Drop ``jurisdiction``'s tokens (``old_only``: all but the newest); save; return how many ended."""
        current = self._digests.get(jurisdiction, [])
        keep = current[-1:] if old_only else []
        if keep:
            self._digests[jurisdiction] = keep
        else:
            self._digests.pop(jurisdiction, None)
        self._save()
        return len(current) - len(keep)

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._digests, indent=2, sort_keys=True), encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(self._path)
        self._stamp, self._broken = _stamp(self._path), None

    def jurisdiction_of(self, token: str) -> str | None:
        """The jurisdiction one of whose valid tokens is ``token``, or None. Compares digests in constant time.

        Reloads the file first when it changed since it was read. Raises ConfigError while the file is
        unreadable or malformed (logged once per change of the file): the intake refuses every request then.
        """
        stamp = _stamp(self._path)
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._digests, self._broken = (_load(self._path) if stamp else {}), None
            except ConfigError as exc:
                self._digests, self._broken = {}, exc.detail
                self._log.error("intake token file unusable: every submission is refused", problem=exc.detail)
        if self._broken is not None:
            raise ConfigError(self._broken)
        presented = _digest(token)
        found = None
        for jurisdiction, digests in self._digests.items():
            for digest in digests:
                if hmac.compare_digest(presented, digest):
                    found = jurisdiction
        return found

    def requester(self, authorization: str) -> str | None:
        """The jurisdiction of the bearer token in an ``Authorization`` header value, or None (no bearer token,
        or not a valid one). Raises ConfigError while the token file is unusable (``jurisdiction_of``)."""
        token = bearer(authorization)
        return self.jurisdiction_of(token) if token else None

    def __contains__(self, jurisdiction: str) -> bool:
        return bool(self._digests.get(jurisdiction))


def _stamp(path: Path) -> tuple[int, int] | None:
    """(mtime in ns, inode) of the file, or None when it does not exist: changes whenever it is replaced."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_mtime_ns, info.st_ino


def _load(path: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        digests = {str(k): [v] if isinstance(v, str) else [str(d) for d in v] for k, v in data.items()}
    except (OSError, ValueError, AttributeError, TypeError):
        raise ConfigError(f"intake token file {path.name} is not a JSON object of digest lists") from None
    if any(not 0 < len(v) <= MAX_TOKENS or any(len(d) != 64 for d in v) for v in digests.values()):
        raise ConfigError(f"intake token file {path.name}: 1 or 2 SHA-256 hex digests per jurisdiction")
    return digests
