"""Strict JSON decoding of one payload: UTF-8, one object, no duplicate keys, finite numbers only.

Everything that can go wrong here is reported as ``AdapterError(MALFORMED)``; messages give positions and
causes, never the text of the payload.
"""

from __future__ import annotations

import json
import math

from adapters.base import MALFORMED, AdapterError

JsonObject = dict[str, object]


class _Refused(ValueError):
    """Raised from the decoder hooks; turned into MALFORMED by ``load_document``."""


def _object(pairs: list[tuple[str, object]]) -> JsonObject:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Refused("duplicate key in an object")
    return obj


def _constant(_name: str) -> object:
    raise _Refused("NaN and Infinity are not JSON numbers")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused("number out of range")
    return value


def load_document(payload: bytes) -> JsonObject:
    """Decode ``payload`` as one UTF-8 JSON object. Raises AdapterError(MALFORMED) for anything else."""
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AdapterError(f"payload is not valid UTF-8 (byte {exc.start})", reason_code=MALFORMED) from None
    try:
        value = json.loads(text, object_pairs_hook=_object, parse_constant=_constant, parse_float=_float)
    except _Refused as exc:
        raise AdapterError(f"payload is not strict JSON: {exc}", reason_code=MALFORMED) from None
    except json.JSONDecodeError as exc:
        raise AdapterError(
            f"payload is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", reason_code=MALFORMED
        ) from None
    except ValueError:  # e.g. an integer literal longer than Python's int conversion limit
        raise AdapterError("payload is not valid JSON (number out of range)", reason_code=MALFORMED) from None
    except RecursionError:
        raise AdapterError("payload is nested too deeply", reason_code=MALFORMED) from None
    if not isinstance(value, dict):
        raise AdapterError("payload is not a JSON object", reason_code=MALFORMED)
    return value
