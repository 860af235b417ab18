"""The crx message contracts: Avro schemas (``*.avsc``), their previous versions and reference tables."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

CANONICAL_RECORD = "canonical_record"
ENVELOPE = "envelope"
AUDIT_EVENT = "audit_event"
RECEIPT = "receipt"
DEAD_LETTER = "dead_letter"

ALL = (CANONICAL_RECORD, ENVELOPE, AUDIT_EVENT, RECEIPT, DEAD_LETTER)


def load_json(name: str) -> dict[str, Any]:
    """Return the JSON of ``schemas/<name>.avsc``. Raises FileNotFoundError for an unknown name."""
    text = resources.files(__name__).joinpath(f"{name}.avsc").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def previous_versions(name: str) -> list[tuple[str, dict[str, Any]]]:
    """Return ``(file name, schema JSON)`` for every committed previous version of ``name``."""
    folder = resources.files(__name__).joinpath("previous")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.startswith(f"{name}.v") and entry.name.endswith(".avsc"):
            out.append((entry.name, json.loads(entry.read_text(encoding="utf-8"))))
    return out
