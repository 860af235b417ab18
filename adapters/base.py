"""The adapter contract, its error type and the lazy entry-point registry.

An adapter is pure: bytes in, canonical records (``schemas.records.CriminalRecord``, the TypedDict of
``schemas/canonical_record.avsc``) out. No I/O beyond its own packaged data files, no globals that change, no
clock: the receive time is passed in. Every failure on bad input is an ``AdapterError`` with a reason code;
anything else escaping ``parse`` is a bug, and the shared conformance test looks for it. What adapters share
beyond this contract (value syntaxes, code tables, safe XML, country codes) is in ``adapters.kit``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from importlib import metadata
from typing import Protocol, runtime_checkable

from schemas.records import CriminalRecord
from services.kernel.errors import AdapterNotFound, CrxError

ENTRY_POINT_GROUP = "crx.adapters"
RECORD_NAMESPACE = uuid.UUID("0b6c7b2e-2f0e-5d5e-8c35-4d1f5b0b7a11")

CanonicalRecord = CriminalRecord  # each part typed where an adapter builds it (schemas.records)


class AdapterError(CrxError):
    """Bad input to an adapter. ``reason_code`` says what kind; the message never quotes the input."""

    reason_code = "ADAPTER"


# Reason codes adapters use (a closed list so metrics and the DLQ stay legible).
MALFORMED = "MALFORMED"  # not parseable at all (syntax, encoding)
MISSING_FIELD = "MISSING_FIELD"
INVALID_VALUE = "INVALID_VALUE"
UNKNOWN_JURISDICTION = "UNKNOWN_JURISDICTION"
SENDER_MISMATCH = "SENDER_MISMATCH"  # the payload claims another sender than the feed it came on
FORBIDDEN_CONSTRUCT = "FORBIDDEN_CONSTRUCT"  # a construct refused for safety (XML DTD, entity)
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"  # larger than the adapter accepts
LIMIT_EXCEEDED = "LIMIT_EXCEEDED"  # nesting depth, element count or a similar bound
BATCH_MISMATCH = "BATCH_MISMATCH"  # a batch whose trailer (count, checksum) does not match its records


@dataclass(frozen=True)
class ParseContext:
    """What the adapter is told about a payload: the feed's jurisdiction and when crx received it."""

    jurisdiction: str
    received_at: dt.datetime


@runtime_checkable
class Adapter(Protocol):
    """A feed format. ``name`` is its registry name (``json-v1``)."""

    name: str

    def parse(self, payload: bytes, ctx: ParseContext) -> list[CanonicalRecord]:
        """Return the canonical records in ``payload``. Raises AdapterError, and nothing else, on bad input."""
        ...

    def samples(self) -> list[tuple[str, bytes]]:
        """The synthetic sample payloads shipped with the adapter, as ``(file name, bytes)``."""
        ...


def record_message_id(source_jurisdiction: str, source_record_id: str, version: int) -> str:
    """The stable message id of one version of one source record (UUIDv5)."""
    return str(uuid.uuid5(RECORD_NAMESPACE, f"{source_jurisdiction}\x1f{source_record_id}\x1f{version}"))


def available() -> list[str]:
    """Names of every registered adapter, sorted."""
    return sorted(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))


_LOADED: dict[str, Adapter] = {}


def get_adapter(name: str) -> Adapter:
    """Load (once) and return the adapter registered as ``name``.

    Raises AdapterNotFound listing the valid names.
    """
    found = _LOADED.get(name)
    if found is not None:
        return found
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            adapter = ep.load()()
            _LOADED[name] = adapter
            return adapter  # type: ignore[no-any-return]
    raise AdapterNotFound(f"no adapter {name!r}; registered: {', '.join(available()) or 'none'}")
