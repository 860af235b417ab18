"""What a retention run found and did, per store: counts and notes, never names of persons or record ids."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field

# The stores a retention run looks at (the metric's ``store`` label).
DROP_DONE = "drop_done"
DROP_FAILED = "drop_failed"
INTAKE_OUTBOX = "intake_outbox"
INTAKE_IDEMPOTENCY = "intake_idempotency"
PARTNER_OUTPUTS = "partner_outputs"
DEAD_LETTERS = "dead_letters"
BROKER_KEYS = "broker_keys"  # the broker key epochs: keys destroyed (crypto-shredding)


@dataclass(frozen=True)
class StoreReport:
    """One store: how many items are past their period (``due``), how many of them were purged (0 in a dry run),
    how many are past it but kept on purpose (``held``: an unsettled submission, say), and a note saying why or
    who does the rest. ``location`` is a directory or a database (never a file of a person's record)."""

    store: str
    due: int = 0
    purged: int = 0
    held: int = 0
    note: str = ""
    location: str = ""
    extra: dict[str, int] = field(default_factory=dict)  # store-specific counts (partner receipts owed, ...)


@dataclass(frozen=True)
class RetentionReport:
    """A retention run at ``now``: every store's report, and whether it only looked (``dry_run``)."""

    now: dt.datetime
    dry_run: bool
    stores: tuple[StoreReport, ...]

    def purged(self) -> int:
        """Items purged across the stores."""
        return sum(s.purged for s in self.stores)

    def as_json(self) -> str:
        """The report as one JSON object (``now`` in ISO 8601)."""
        return json.dumps(
            {"now": self.now.isoformat(), "dry_run": self.dry_run, "stores": [asdict(s) for s in self.stores]},
            sort_keys=True,
        )

    def as_text(self) -> str:
        """One line per store: its name, due, purged, held, then its note."""
        head = f"retention at {self.now.isoformat()}" + (" (dry run: nothing deleted)" if self.dry_run else "")
        lines = [head, f"{'store':<20} {'due':>7} {'purged':>7} {'held':>7}  note"]
        for s in self.stores:
            extra = f" ({', '.join(f'{k} {v}' for k, v in sorted(s.extra.items()))})" if s.extra else ""
            lines.append(f"{s.store:<20} {s.due:>7} {s.purged:>7} {s.held:>7}  {s.note}{extra}")
        return "\n".join(lines)
