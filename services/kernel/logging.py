"""structlog JSON logging with the message id bound as context, and a guard against personal data.

``refuse_personal_data`` drops any event key known to carry personal data (names, birth dates,
identifiers, payloads) and records that it did so, so a careless ``log.info(..., name=...)`` never
reaches a log line.

Everything goes out through one stdlib handler on the root logger: crx's structlog loggers (stdlib loggers
named ``crx.<component>``) and the libraries' stdlib loggers (aiokafka, aiohttp, asyncio, ...) alike, each
line one JSON object with ``timestamp``, ``level``, ``logger`` and ``event`` (structlog's
``ProcessorFormatter``). A library record contributes its message and, if it has one, its traceback
(``exception``: the text Python prints, never local variables); its ``extra`` attributes are not
rendered, and ``bytes`` in its arguments are shown as their length only. A library line repeated within
``REPEAT_WINDOW_SECONDS`` is written once (a client retrying every 100 ms against an absent broker would
otherwise fill the log), and the next one written counts those held back.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import Processor

from services.kernel.errors import ConfigError

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


ROOT_LOGGER = "crx"
"""The stdlib logger under which crx's own loggers live (``crx.<component>``)."""

LIBRARY_LEVEL = logging.WARNING
"""The least level a library (any logger outside ``crx``) is logged at, unless the level is DEBUG."""

WIRE_LOGGERS = ("aiokafka.conn", "aiokafka.producer.producer")
"""aiokafka loggers whose DEBUG lines dump Kafka requests and responses (record batches, SASL exchanges) or
record keys and values: kept at INFO even at DEBUG."""

_CONTEXT: tuple[Processor, ...] = (
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
)
"""What every line gets, from crx or from a library: the bound context (message id), level, logger, time."""


def _mask_bytes(value: object) -> object:
    if isinstance(value, memoryview):
        return f"<{value.nbytes} bytes>"
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    return value


class _JsonFormatter(structlog.stdlib.ProcessorFormatter):
    """Renders structlog events and library records alike as one JSON object (no newline)."""

    def __init__(self) -> None:
        super().__init__(
            foreign_pre_chain=_CONTEXT,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                refuse_personal_data,  # for library records: the context merged into them (a no-op on ours)
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record``; a library record's ``bytes`` arguments become ``<N bytes>`` (on a copy: other
        handlers see the record unchanged)."""
        if record.args:  # only library records have arguments: a structlog event arrives as one dict
            record = logging.makeLogRecord(record.__dict__)
            if isinstance(record.args, Mapping):
                record.args = {key: _mask_bytes(value) for key, value in record.args.items()}
            else:
                record.args = tuple(_mask_bytes(arg) for arg in record.args or ())
        return super().format(record)


REPEAT_WINDOW_SECONDS = 10.0
"""A library line repeated within this window is shown once (aiokafka writes one every 100 ms while a broker
is out of reach); the next one shown says how many were held back."""


class _Repeats(logging.Filter):
    """Lets a library's line through once per ``REPEAT_WINDOW_SECONDS`` per (logger, level, message template);
    crx's own lines always pass. Memory is bounded: the table is cleared past 1,000 distinct lines."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """True to write ``record``; a line after held-back repeats gets their count appended."""
        if record.name == ROOT_LOGGER or record.name.startswith(f"{ROOT_LOGGER}."):
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        first, held = self._seen.get(key, (None, 0))
        if first is not None and now - first < REPEAT_WINDOW_SECONDS:
            self._seen[key] = (first, held + 1)
            return False
        if len(self._seen) >= 1000:
            self._seen.clear()
        self._seen[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} [{held} more like it not shown]"
        return True


class _JsonLinesHandler(logging.StreamHandler[TextIO]):
    """The handler ``configure_logging`` installs: writes to ``stream``, or (``None``) to whatever
    ``sys.stderr`` is when a line is written."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream or sys.stderr)
        self._follows_stderr = stream is None
        self.setFormatter(_JsonFormatter())
        self.addFilter(_Repeats())

    def emit(self, record: logging.LogRecord) -> None:
        """Write one line (``handle`` holds the handler's lock around this)."""
        if self._follows_stderr:
            self.stream = sys.stderr
        super().emit(record)


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every log line, crx's and the libraries', as one JSON object per line to ``stream`` (stderr by
    default, looked up at each write), replacing what an earlier call installed.

    crx's loggers log at ``level``; libraries at ``level`` but at least WARNING, unless ``level`` is DEBUG
    (then at DEBUG too, except ``WIRE_LOGGERS`` at INFO). Other handlers on the root logger (pytest's, say)
    are left alone. ``stream`` is never closed. Raises ``ConfigError`` for an unknown level name.
    """
    numeric = logging.getLevelNamesMapping().get(level.upper())
    if numeric is None:
        raise ConfigError(f"unknown log level {level!r}")
    verbose = numeric <= logging.DEBUG
    structlog.configure(
        # Personal data is refused before the event reaches stdlib, so no other handler ever sees it.
        processors=[*_CONTEXT, refuse_personal_data, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _JsonLinesHandler)]:
        root.removeHandler(handler)
    root.addHandler(_JsonLinesHandler(stream))
    root.setLevel(numeric if verbose else max(numeric, LIBRARY_LEVEL))
    logging.getLogger(ROOT_LOGGER).setLevel(numeric)
    logging.getLogger("aiokafka").setLevel(logging.NOTSET)  # follows the root (a one-shot command may mute it)
    for name in WIRE_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.NOTSET)


def get_logger(component: str) -> Any:
    """A structlog logger for ``component``: stdlib logger ``crx.<component>``, ``component`` bound.

    Takes the configuration current when it is called (call ``configure_logging`` first); where its lines
    go follows later ``configure_logging`` calls.
    """
    return structlog.get_logger(f"{ROOT_LOGGER}.{component}").bind(component=component)


bind_message_id = structlog.contextvars.bound_contextvars
