"""One batch's view of the disclosure ledger: the router reads every record key of a batch in one transaction,
decides each record against this view (updated as each record is decided, so versions of one record in one
batch see each other: a later version finds the earlier one's recipients, a stale one is refused, a repeat is
decided as before), and writes every disclosure of the batch in one transaction before anything of the
batch is produced.

Why a view is safe with several router instances: every version of one record has the same partition key
(``services.kernel.recordkey``), so one instance at a time decides a record, batch after batch; what the
view read cannot change under it except by that instance. A batch that fails is not written and is done
again whole (``ON CONFLICT DO NOTHING`` keeps a batch written but not produced idempotent).
"""

from __future__ import annotations

from collections.abc import Iterable

from services.ledger.store import Disclosure, DisclosureLedger, Entry, Holding, holdings_of


class LedgerView:
    """What the ledger holds of some records plus what this batch decided, and the rows still to write.
    Not thread-safe: one batch, one task."""

    def __init__(self, ledger: DisclosureLedger, record_keys: Iterable[str] = ()) -> None:
        """Reads ``record_keys`` (a hint: a key not read is read when first asked for) in one transaction.
        Raises TransientError when the ledger does not answer."""
        self._ledger = ledger
        self._known: dict[str, dict[tuple[str, int, str], Entry]] = {}
        self._pending: list[Disclosure] = []
        self._read(set(record_keys))

    def _read(self, keys: set[str]) -> None:
        if not keys:
            return
        found = self._ledger.entries(keys)
        for key in keys:
            self._known[key] = {(e.recipient, e.version, e.message_type): e for e in found.get(key, [])}

    def _of(self, record_key: str) -> dict[tuple[str, int, str], Entry]:
        if record_key not in self._known:
            self._read({record_key})
        return self._known[record_key]

    def latest_version(self, record_key: str) -> int | None:
        """The highest version of this record disclosed to anyone (in the ledger or earlier in this batch)."""
        return max((v for _, v, _ in self._of(record_key)), default=None)

    def holdings(self, record_key: str) -> list[Holding]:
        """As ``DisclosureLedger.holdings``, with this batch's disclosures so far."""
        return holdings_of(self._of(record_key).values())

    def add(self, rows: Iterable[Disclosure]) -> None:
        """Note disclosures decided in this batch: seen by the records decided after, written by ``flush``. A
        disclosure already known is kept as it was (as the ledger's ``ON CONFLICT DO NOTHING`` does)."""
        for r in rows:
            entry = Entry(r.recipient, r.version, r.message_type, r.retention_end)
            self._of(r.record_key).setdefault((r.recipient, r.version, r.message_type), entry)
            self._pending.append(r)

    def flush(self) -> None:
        """Write every disclosure noted since the last flush, in one transaction (none when there are none).
        Raises TransientError when the ledger does not answer (the rows stay pending)."""
        if self._pending:
            self._ledger.add(self._pending)
            self._pending = []
