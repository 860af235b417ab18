"""The demo's partner outputs: the ``DirectorySink`` folders the demo pipeline writes (``<data_dir>/out/<J>``).

They are the partners' copies, not crx's: each partner service erases what its retention end passed and sends
an erasure receipt for each, hourly and at start (``services/partner/client.py`` ``purge``). A retention run
erases them too (the sink's own ``purge``, so the same rule and the same tombstones) but sends no receipt: a
receipt is the partner's signed word, sent with the partner's key by the partner service. The sink's ledger keeps
every such receipt owed, and the partner service sends it at its next purge; the report counts them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from services.partner.directory import LEDGER_FILE, DirectorySink
from services.partner.ledger import SinkLedger
from services.partner.lifecycle import retention_ended
from services.retention.report import PARTNER_OUTPUTS, StoreReport

NOTE = "partner records past their retention end; erasure receipts are sent by the partner service"


def _expired(ledger: SinkLedger, today: dt.date) -> int:
    return sum(1 for _key, held in ledger.expired(today) if retention_ended(held, today))


def purge_partner_outputs(out_dir: Path, today: dt.date, *, dry_run: bool) -> StoreReport:
    """Erase (unless ``dry_run``) the records of every partner folder under ``out_dir`` whose retention end is
    ``today`` or earlier; report how many were due and erased, and how many erasure receipts the partners owe.
    Raises TransientError when a sink's ledger does not answer, OSError when a folder cannot be read."""
    due = purged = owed = partners = 0
    folders = sorted(p for p in out_dir.iterdir() if (p / LEDGER_FILE).is_file()) if out_dir.is_dir() else []
    for folder in folders:
        partners += 1
        if dry_run:
            ledger = SinkLedger(folder / LEDGER_FILE)
            try:
                due += _expired(ledger, today)
                owed += len(ledger.owed())
            finally:
                ledger.close()
            continue
        sink = DirectorySink(folder)
        try:
            erased = _expired(sink.ledger, today)
            owed += len(sink.purge(today))
        finally:
            sink.close()
        due, purged = due + erased, purged + erased
    extra = {"partners": partners, "receipts_owed": owed}
    return StoreReport(PARTNER_OUTPUTS, due=due, purged=purged, note=NOTE, location=str(out_dir), extra=extra)
