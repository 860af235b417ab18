"""structlog JSON logging with the message id bound as context, and a guard against personal data.

``refuse_personal_data`` drops any event key known to carry personal data (names, birth dates,
identifiers, payloads) and records that it did so, so a careless ``log.info(..., name=...)`` never
reaches a log line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

PERSONAL_KEYS = frozenset(
    {
        "name",
        "names",
        "given",
        "family",
        "birth_date",
        "birth_place",
        "person",
        "payload",
        "plaintext",
        "record",
        "national_identifiers",
        "identifier",
        "fingerprint_reference",
        "parent_names",
        "body",
    }
)


def refuse_personal_data(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: remove keys that would carry personal data; note which were removed."""
    removed = sorted(k for k in event if k in PERSONAL_KEYS)
    for key in removed:
        del event[key]
    if removed:
        event["redacted_keys"] = removed
    return event


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Configure structlog to write one JSON object per line to ``stream`` (stderr by default)."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            refuse_personal_data,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.WriteLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(component: str) -> Any:
    """A logger bound to ``component``."""
    return structlog.get_logger().bind(component=component)


bind_message_id = structlog.contextvars.bound_contextvars
