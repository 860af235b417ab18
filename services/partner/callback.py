"""``CallbackSink``: a partner's records handed to its own code, which keeps them by record key.

The partner's code implements ``SinkCallbacks``: ``upsert(key, record)`` stores or replaces the copy of one
conviction record, ``delete(key, version)`` erases it, ``message(message_id, record)`` takes a request, a
response or a case notice. ``key`` is opaque (``lifecycle.record_key``). The sink decides, from its ledger,
which of them a message calls: a version older than the one held, or a record erased, calls none.

Delivery is at-least-once: if the process dies after a callback returned but before the ledger noted the
message, the callback is made again after the restart, so each must be idempotent (an upsert of the same
version, a delete of a record not held, the same message id again). A callback that raises is not noted; the
batch is retried.

A plain function ``callback(message_id, record)`` (the constructor's first form, before records had a life) is
still accepted: it receives every message once per message id, deletions included, and receipts report
operation OTHER (the sink cannot know what it did); nothing is purged for it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from services.partner.ledger import SinkLedger
from services.partner.lifecycle import Delivery, Operation
from services.partner.sinks import LedgerSink


@runtime_checkable
class SinkCallbacks(Protocol):
    """The partner's own store, as ``CallbackSink`` calls it. Each call must be durable when it returns."""

    def upsert(self, key: str, record: dict[str, Any]) -> None:
        """Store ``record`` as the copy of the record ``key``, replacing the one held (an older version)."""
        ...

    def delete(self, key: str, version: int) -> None:
        """Erase the copy of the record ``key``: the source deleted it at ``version``, or its retention ended.
        A key not held is no error."""
        ...

    def message(self, message_id: str, record: dict[str, Any]) -> None:
        """Take a message without record lifecycle: a request, a response, or ``{"case_notice": {...}}``."""
        ...


class CallbackSink(LedgerSink):
    """Hands records to ``callbacks`` (or every message to a plain function), with its ledger at ``ledger_path``."""

    def __init__(self, callbacks: SinkCallbacks | Callable[[str, dict[str, Any]], None], ledger_path: Path) -> None:
        super().__init__(SinkLedger(ledger_path))
        self._callbacks = callbacks if isinstance(callbacks, SinkCallbacks) else None
        self._plain = None if isinstance(callbacks, SinkCallbacks) else callbacks

    def delivered(self, message_id: str) -> bool:
        """True when ``message_id`` was handed over before (survives restarts)."""
        return self.applied(message_id) is not None

    def deliver(self, delivery: Delivery, record: dict[str, Any]) -> Operation:
        """See ``Sink.deliver``; with a plain function, hand it the message and report OTHER."""
        if self._plain is not None:
            self._plain(delivery.message_id, record)
            self.ledger.note(delivery, Operation.OTHER)
            return Operation.OTHER
        return super().deliver(delivery, record)

    def purge(self, today: dt.date) -> list[Delivery]:
        """See ``Sink.purge``; nothing to purge with a plain function (the sink keeps no records for it)."""
        return super().purge(today) if self._callbacks is not None else []

    def keep(self, key: str, record: dict[str, Any]) -> None:
        """``upsert``."""
        assert self._callbacks is not None
        self._callbacks.upsert(key, record)

    def drop(self, key: str, version: int) -> None:
        """``delete``."""
        assert self._callbacks is not None
        self._callbacks.delete(key, version)

    def keep_message(self, message_id: str, record: dict[str, Any]) -> None:
        """``message``."""
        assert self._callbacks is not None
        self._callbacks.message(message_id, record)
