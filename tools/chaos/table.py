"""Rows of the chaos table: one per (broker, fault), rendered as a Markdown table and written as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

EXACT, NOT_EXACT, SKIPPED, ERROR = "exact", "NOT EXACT", "skipped", "ERROR"
COLUMNS = ("fault", "broker", "pushed", "accepted", "delivered", "refused", "dead-lettered", "duplicates",
           "s to settle", "result")  # fmt: skip


@dataclass
class Row:
    """The outcome of one fault on one broker."""

    fault: str
    broker: str
    pushed: int = 0
    accepted: int = 0
    delivered: int = 0
    refused: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    seconds: float | None = None
    result: str = EXACT
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """Not exact and not skipped (a skipped row says why and fails nothing)."""
        return self.result not in (EXACT, SKIPPED)

    def cells(self) -> list[str]:
        """The row's table cells, in COLUMNS order."""
        result = self.result if self.result == EXACT or not self.reasons else f"{self.result}: {self.reasons[0]}"
        if self.result == SKIPPED:
            return [self.fault, self.broker, "-", "-", "-", "-", "-", "-", "-", result]
        seconds = f"{self.seconds:.1f}" if self.seconds is not None else "-"
        numbers = (self.pushed, self.accepted, self.delivered, self.refused, self.dead_lettered, self.duplicates)
        return [self.fault, self.broker, *(str(n) for n in numbers), seconds, result]


def render(rows: list[Row]) -> str:
    """A Markdown table of ``rows``, then every further reason and the notes of each row."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    for row in rows:
        extra = row.reasons[1:]
        if extra or row.notes:
            lines.append(f"\n{row.broker} / {row.fault}:")
            lines += [f"  - {reason}" for reason in extra]
            lines += [f"  · {note}" for note in row.notes]
    return "\n".join(lines)


def write_json(rows: list[Row], path: Path, meta: dict[str, Any]) -> None:
    """``{"meta": ..., "rows": [...]}`` to ``path`` (its folder created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"meta": meta, "rows": [asdict(row) for row in rows]}
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
