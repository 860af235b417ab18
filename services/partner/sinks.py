"""Where a partner's decoded messages go: the ``Sink`` contract, and the shared base that applies a record's life.

A sink keeps each conviction record once, by its opaque key (``lifecycle.record_key``), at its latest
version: NOTIFICATION and UPDATE store or replace it, DELETION erases it, an older version is not applied
(``lifecycle.decide``). Requests, responses and case notices are kept per message. A ``SinkLedger`` remembers
every message id applied (deduplication across restarts), the version held of each record, and erased
records as tombstones, so a redelivered older version never brings an erased record back.

Two sinks ship with the client: ``DirectorySink`` (JSON files, ``directory``) and ``CallbackSink`` (your own
code, ``callback``). A sink of your own implements ``Sink``; deriving from ``LedgerSink`` gives it the rules
and the ledger, and leaves it three methods: keep a record, drop a record, keep a message.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, Protocol

from services.partner.ledger import SinkLedger
from services.partner.lifecycle import Delivery, Held, Operation, change_of, decide, retention_ended


class Sink(Protocol):
    """Where a partner's decoded messages go, and what it remembers of them across restarts.

    The client calls ``applied`` first and ``deliver`` only for a message not applied before; either way its
    receipt reports the operation. Delivery is at-least-once: a crash after the sink acted but before it noted
    the message id offers the message again, so applying a message twice must be harmless.
    """

    def applied(self, message_id: str) -> Operation | None:
        """The operation ``message_id`` got when it was delivered before (it survives restarts); None when it
        was not delivered yet."""
        ...

    def deliver(self, delivery: Delivery, record: dict[str, Any]) -> Operation:
        """Apply one message and return what that did (``lifecycle.Operation``).

        ``record`` is a decoded canonical record, or ``{"case_notice": {...}}`` for a case notice (a reminder or
        an overdue notice about a request this party was asked). When it returns, the outcome is durable: the
        record stored, replaced or erased in the partner's own store, and the message id noted with its
        operation. Raising leaves the message unnoted: the client's batch is retried.
        """
        ...

    def purge(self, today: dt.date) -> list[Delivery]:
        """Erase every record whose retention end is ``today`` or earlier, durably (copies gone, tombstones
        noted) before it returns; return the deliveries whose erasure receipts are owed: those erased now and
        those erased before whose receipts were not yet noted as sent (``erasures_sent``)."""
        ...

    def erasures_sent(self, message_ids: Iterable[str]) -> None:
        """Note that the erasure receipts of ``message_ids`` (from ``purge``) were sent and acknowledged."""
        ...


class LedgerSink(ABC):
    """The shared base of the sinks: the lifecycle rules over a ``SinkLedger``.

    Each action on the partner's store happens before the ledger notes it, so the ledger is never ahead of
    the store: after a crash in between, the redelivered message is applied again (idempotently).
    """

    def __init__(self, ledger: SinkLedger) -> None:
        self.ledger = ledger

    @abstractmethod
    def keep(self, key: str, record: dict[str, Any]) -> None:
        """Store ``record`` as the copy of the record ``key``, replacing any held; durable when it returns."""

    @abstractmethod
    def drop(self, key: str, version: int) -> None:
        """Erase the copy of the record ``key`` (erased at ``version``); durable when it returns; a record not
        held is no error."""

    @abstractmethod
    def keep_message(self, message_id: str, record: dict[str, Any]) -> None:
        """Store a message without record lifecycle (request, response, case notice); durable when it returns."""

    def applied(self, message_id: str) -> Operation | None:
        """See ``Sink.applied``."""
        return self.ledger.applied(message_id)

    def deliver(self, delivery: Delivery, record: dict[str, Any]) -> Operation:
        """See ``Sink.deliver``."""
        change = change_of(record)
        if change is None:
            self.keep_message(delivery.message_id, record)
            self.ledger.note(delivery, Operation.STORED)
            return Operation.STORED
        held = self.ledger.held(change.key)
        operation = decide(held, change)
        now: Held | None = None
        if operation in (Operation.STORED, Operation.REPLACED):
            self.keep(change.key, record)
            now = Held(change.version, delivery, erased=False, retention_end=change.retention_end)
        elif operation is Operation.ERASED:
            version = max(change.version, held.version) if held is not None else change.version
            self.drop(change.key, version)
            now = Held(version, delivery, erased=True)
        self.ledger.note(delivery, operation, change.key, now)
        return operation

    def purge(self, today: dt.date) -> list[Delivery]:
        """See ``Sink.purge``."""
        for key, held in self.ledger.expired(today):
            if retention_ended(held, today):
                self.drop(key, held.version)
                self.ledger.erase(key, held)
        return self.ledger.owed()

    def erasures_sent(self, message_ids: Iterable[str]) -> None:
        """See ``Sink.erasures_sent``."""
        self.ledger.sent(message_ids)

    def close(self) -> None:
        """Close the ledger."""
        self.ledger.close()
