"""``OutRecord``: one record a service produces (``services.kernel.kafka`` sends it; re-exported there)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OutRecord:
    """One record to produce."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
