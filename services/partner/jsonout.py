"""JSON rendering of decoded canonical records (dates as ISO 8601, bytes as base64)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(record: dict[str, Any]) -> str:
    """Serialise a decoded record deterministically (sorted keys, UTF-8 kept)."""
    return json.dumps(record, default=_default, ensure_ascii=False, sort_keys=True, indent=2)
