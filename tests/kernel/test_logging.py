"""stdlib logging (aiokafka, aiohttp, asyncio) bridged into the same JSON lines as crx's structlog events."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.kernel.errors import ConfigError
from services.kernel.logging import bind_message_id, configure_logging, get_logger

BASE_KEYS = {"timestamp", "level", "logger", "event"}


@pytest.fixture
def out() -> Iterator[io.StringIO]:
    """A stream logging is configured to (at INFO); logging goes back to stderr afterwards."""
    stream = io.StringIO()
    configure_logging("INFO", stream)
    try:
        yield stream
    finally:
        configure_logging("INFO")


def _lines(stream: io.StringIO, *events: str) -> list[dict[str, Any]]:
    """The lines of ``stream`` whose event starts with one of ``events`` (the stream may also hold a stray
    library line: a resource warning from the garbage collector, say)."""
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if line["event"].startswith(events)]


def test_a_library_warning_is_one_json_line_with_the_common_keys(out: io.StringIO) -> None:
    """logging.getLogger("aiokafka").warning(...) becomes one JSON object with timestamp, level, logger and
    event, the same keys a crx event has (which adds its component)."""
    logging.getLogger("aiokafka").warning("Coordinator %s unavailable", "broker-1")
    get_logger("router").info("started")
    library, ours = _lines(out, "Coordinator", "started")
    assert set(library) == BASE_KEYS
    assert library["level"] == "warning" and library["logger"] == "aiokafka"
    assert library["event"] == "Coordinator broker-1 unavailable" and library["timestamp"].endswith("Z")
    assert set(ours) == BASE_KEYS | {"component"} and ours["logger"] == "crx.router"


def test_libraries_log_from_warning_unless_debug(out: io.StringIO) -> None:
    """At INFO, crx logs INFO but libraries only WARNING and up; at DEBUG both log DEBUG, except aiokafka's
    wire dumps (requests, responses, record values), which stay at INFO."""
    logging.getLogger("aiohttp.server").info("library info")
    logging.getLogger("asyncio").error("library error")
    get_logger("audit").info("crx info")
    assert [line["event"] for line in _lines(out, "library", "crx")] == ["library error", "crx info"]
    verbose = io.StringIO()
    configure_logging("DEBUG", verbose)
    logging.getLogger("aiokafka.consumer.fetcher").debug("library debug")
    logging.getLogger("aiokafka.conn").debug("Request 1: %s", "ProduceRequest(...)")
    logging.getLogger("aiokafka.producer.producer").debug("Sending (key=%s value=%s)", b"k", b"v")
    get_logger("audit").debug("crx debug")
    assert [line["event"] for line in _lines(verbose, "library", "crx", "Request", "Sending")] == [
        "library debug",
        "crx debug",
    ]


def test_library_tracebacks_are_rendered_but_bytes_and_extras_are_not(out: io.StringIO) -> None:
    """A library's exception is rendered as its traceback text in ``exception``; bytes among its arguments
    show only their length, and ``extra`` attributes are not rendered."""
    try:
        raise ConnectionError("broker went away")
    except ConnectionError:
        logging.getLogger("aiohttp.server").exception(
            "Error handling %s", b"Jane Roe 1990-01-01", extra={"given": "Jane"}
        )
    (line,) = _lines(out, "Error handling")
    assert line["event"] == "Error handling <19 bytes>" and "Jane" not in out.getvalue()
    assert line["exception"].startswith("Traceback") and "ConnectionError: broker went away" in line["exception"]
    assert set(line) == BASE_KEYS | {"exception"}


def test_bound_context_reaches_library_lines_and_personal_keys_are_refused_there_too(out: io.StringIO) -> None:
    """A library line logged while a message id is bound carries it; a personal-data key bound by mistake is
    dropped from library lines as from crx's."""
    with bind_message_id(message_id="m-7", birth_date="1990-01-01"):
        logging.getLogger("aiokafka").warning("slow commit")
    (line,) = _lines(out, "slow commit")
    assert line["message_id"] == "m-7" and line["redacted_keys"] == ["birth_date"]
    assert "1990" not in out.getvalue()


def test_other_handlers_see_crx_events_already_redacted(out: io.StringIO, caplog: pytest.LogCaptureFixture) -> None:
    """A crx event reaches other handlers on the root logger (pytest's here) without its personal keys."""
    get_logger("intake").info("accepted", name="Jane Roe", submission_id="s-1")
    assert "Jane" not in caplog.text and "s-1" in caplog.text
    assert "Jane" not in out.getvalue()


def test_a_file_stream_works_and_reconfiguring_replaces_the_handler(tmp_path: Path) -> None:
    """configure_logging writes to a file stream the caller opened (and leaves it open); calling it again
    sends every later line, crx's and the libraries', to the new stream only."""
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    with first.open("a", encoding="utf-8") as f1, second.open("a", encoding="utf-8") as f2:
        configure_logging("INFO", f1)
        try:
            log = get_logger("demo")
            log.info("one")
            configure_logging("INFO", f2)
            log.info("two")
            logging.getLogger("aiokafka").warning("three")
        finally:
            configure_logging("INFO")
        assert not f1.closed and not f2.closed
    ours = {"one", "two", "three"}

    def events(path: Path) -> list[str]:
        return [
            e for e in (json.loads(ln)["event"] for ln in path.read_text(encoding="utf-8").splitlines()) if e in ours
        ]

    assert events(first) == ["one"] and events(second) == ["two", "three"]


def test_an_unknown_level_is_a_config_error() -> None:
    """A level name logging does not know fails with ConfigError."""
    with pytest.raises(ConfigError):
        configure_logging("LOUD")


def test_a_repeated_library_line_is_written_once_per_window_and_then_counted(
    out: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client retrying against an absent broker writes the same line every 100 ms: one line per window, the
    next one counting the lines held back; another message, and crx's own lines, are never held back."""
    from services.kernel import logging as crx_logging

    monkeypatch.setattr(crx_logging, "REPEAT_WINDOW_SECONDS", 0.2)
    retry = logging.getLogger("aiokafka")
    for node in range(30):
        retry.error("Unable connect to node with id %s", node)
    retry.error("Unable to update metadata from %s", [1])
    for _ in range(3):
        get_logger("router").warning("batch failed, retrying")
    assert [line["event"] for line in _lines(out, "Unable")] == [
        "Unable connect to node with id 0",
        "Unable to update metadata from [1]",
    ]
    assert len(_lines(out, "batch failed")) == 3
    time.sleep(0.25)
    retry.error("Unable connect to node with id %s", 30)
    assert _lines(out, "Unable connect")[-1]["event"] == "Unable connect to node with id 30 [29 more like it not shown]"
