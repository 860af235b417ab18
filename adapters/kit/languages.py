"""Languages and scripts: ISO 639-1 language codes and ISO 15924 script codes of names and titles."""

from __future__ import annotations

import re

from adapters.kit.errors import Invalid
from adapters.kit.text import fullmatch

LATIN = "Latn"  # the script of a name unless a format says otherwise
LANGUAGE = re.compile(r"[a-z]{2}", re.ASCII)
SCRIPT = re.compile(r"[A-Z][a-z]{3}", re.ASCII)


def language(value: object, where: object, invalid: Invalid) -> str:
    """An ISO 639-1 code: two lower-case letters. Raises ``invalid(where, ...)`` for anything else."""
    return fullmatch(LANGUAGE, value, where, "an ISO 639-1 language code", invalid).group()


def script(value: object, where: object, invalid: Invalid) -> str:
    """An ISO 15924 code: one upper-case and three lower-case letters (``Latn``, ``Cyrl``). Raises
    ``invalid(where, ...)`` for anything else."""
    return fullmatch(SCRIPT, value, where, "an ISO 15924 script code", invalid).group()


def needs_transliteration(script_code: str, transliteration: str | None) -> bool:
    """True for a name in another script than Latin that comes without its Latin transliteration."""
    return script_code != LATIN and transliteration is None
