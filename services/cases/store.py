"""The case book's store: one row per case (a REQUEST to one requested state), no personal data in clear.

A case holds ids, states, codes, instants, the requesting authority (an institution) and the lookup the request
follows (``lookup_id``, when it names one); the person it is
about appears only as keyed pseudonyms (``person_refs``: HMACs under a key derived from the audit secret),
enough to check that a response answers for the same person, useless to anyone without the key.

SQLite in the data directory by default (``cases.sqlite3``, WAL, synchronous=FULL, shared by the router
that writes it, the case service that sends reminders and ``crx cases``), PostgreSQL when ``cases_db`` is a
``postgresql://`` URI (table ``cases`` in ``cases_pg_schema``). Every database error is a TransientError.
A store written by an older crx gets the columns added since when it is opened (``_ADDED``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from services.kernel.config import Settings
from services.kernel.sqlstore import SqlStore

OPEN, ANSWERED, OVERDUE, CANCELLED, MORE_INFORMATION_ASKED = (
    "open",
    "answered",
    "overdue",
    "cancelled",
    "more_information_asked",
)
STATUSES = (OPEN, ANSWERED, OVERDUE, CANCELLED, MORE_INFORMATION_ASKED)
ACTIVE = frozenset({OPEN, OVERDUE, MORE_INFORMATION_ASKED})
"""A case in these states waits for something; the others are closed."""

_COLUMNS = (
    "case_id, request_message_id, submission_id, requesting, requested, requesting_authority, purpose, kind, "
    "urgency, agreement, external_id, received_at, deadline, remind_at, status, outcome, closed_at, "
    "last_message_id, response_submission_id, reminded, overdue_noticed, person_refs, updated_at, legal_basis, "
    "lookup_id"
)
_ADDED = {"lookup_id": "TEXT"}  # columns added since the first release: a store written before gets them
_UPDATABLE = frozenset(
    {"deadline", "remind_at", "status", "outcome", "closed_at", "last_message_id", "response_submission_id",
     "reminded", "overdue_noticed", "updated_at"}
)  # fmt: skip
_DDL = """
CREATE TABLE IF NOT EXISTS {schema}cases (
    case_id TEXT PRIMARY KEY,
    request_message_id TEXT NOT NULL,
    submission_id TEXT NOT NULL,
    requesting TEXT NOT NULL,
    requested TEXT NOT NULL,
    requesting_authority TEXT,
    purpose TEXT NOT NULL,
    kind TEXT NOT NULL,
    urgency TEXT NOT NULL,
    agreement TEXT,
    external_id TEXT,
    received_at DOUBLE PRECISION NOT NULL,
    deadline DOUBLE PRECISION NOT NULL,
    remind_at DOUBLE PRECISION,
    status TEXT NOT NULL,
    outcome TEXT,
    closed_at DOUBLE PRECISION,
    last_message_id TEXT,
    response_submission_id TEXT,
    reminded INTEGER NOT NULL,
    overdue_noticed INTEGER NOT NULL,
    person_refs TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    legal_basis TEXT,
    lookup_id TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS cases_request ON {schema}cases (request_message_id, requested);
CREATE INDEX IF NOT EXISTS cases_submission ON {schema}cases (submission_id);
CREATE INDEX IF NOT EXISTS cases_response_submission ON {schema}cases (response_submission_id);
CREATE INDEX IF NOT EXISTS cases_status ON {schema}cases (status, deadline)
"""


def _ts(value: dt.datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _dt(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(float(value), dt.UTC)


@dataclass(frozen=True)
class Case:
    """One case: the request to one requested state, its deadline and what became of it."""

    case_id: str
    request_message_id: str
    submission_id: str
    requesting: str
    requested: str
    requesting_authority: str | None
    purpose: str
    kind: str
    urgency: str
    agreement: str | None
    external_id: str | None
    received_at: dt.datetime
    deadline: dt.datetime
    remind_at: dt.datetime | None
    status: str = OPEN
    outcome: str | None = None
    closed_at: dt.datetime | None = None
    last_message_id: str | None = None
    response_submission_id: str | None = None
    reminded: bool = False
    overdue_noticed: bool = False
    person_refs: frozenset[str] = frozenset()
    updated_at: dt.datetime | None = None
    legal_basis: str | None = None
    lookup_id: str | None = None  # the crx lookup (hit/no-hit) the request follows, if it names one

    def late(self, now: dt.datetime) -> bool:
        """True when the deadline has passed without an answer (or the answer came after it)."""
        if self.status == ANSWERED and self.closed_at is not None:
            return self.closed_at > self.deadline
        return self.status in (OPEN, OVERDUE) and now > self.deadline

    def as_dict(self) -> dict[str, Any]:
        """The case as JSON-ready data (instants in ISO 8601 UTC); the person pseudonyms are left out."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "person_refs":
                continue
            out[f.name] = value.isoformat() if isinstance(value, dt.datetime) else value
        return out

    def _row(self) -> tuple[Any, ...]:
        return (
            self.case_id,
            self.request_message_id,
            self.submission_id,
            self.requesting,
            self.requested,
            self.requesting_authority,
            self.purpose,
            self.kind,
            self.urgency,
            self.agreement,
            self.external_id,
            _ts(self.received_at),
            _ts(self.deadline),
            _ts(self.remind_at),
            self.status,
            self.outcome,
            _ts(self.closed_at),
            self.last_message_id,
            self.response_submission_id,
            int(self.reminded),
            int(self.overdue_noticed),
            json.dumps(sorted(self.person_refs)),
            _ts(self.updated_at or self.received_at),
            self.legal_basis,
            self.lookup_id,
        )

    @classmethod
    def _of(cls, row: Sequence[Any]) -> Case:
        received, deadline = _dt(row[11]), _dt(row[12])
        assert received is not None and deadline is not None  # NOT NULL columns
        return cls(
            case_id=row[0],
            request_message_id=row[1],
            submission_id=row[2],
            requesting=row[3],
            requested=row[4],
            requesting_authority=row[5],
            purpose=row[6],
            kind=row[7],
            urgency=row[8],
            agreement=row[9],
            external_id=row[10],
            received_at=received,
            deadline=deadline,
            remind_at=_dt(row[13]),
            status=row[14],
            outcome=row[15],
            closed_at=_dt(row[16]),
            last_message_id=row[17],
            response_submission_id=row[18],
            reminded=bool(row[19]),
            overdue_noticed=bool(row[20]),
            person_refs=frozenset(json.loads(row[21])),
            updated_at=_dt(row[22]),
            legal_basis=row[23],
            lookup_id=row[24],
        )


class CaseStore:
    """The cases of one deployment. Thread-safe; every method is one short transaction.

    Raises TransientError when the database does not answer, ConfigError for a bad schema name.
    """

    def __init__(self, location: str, pg_schema: str = "crx_cases") -> None:
        self._db = SqlStore(location, pg_schema, _DDL, "case store")
        self._db.add_columns("cases", _ADDED)

    @classmethod
    def open(cls, settings: Settings) -> CaseStore:
        """The store ``settings`` name: ``cases_db``, else ``cases.sqlite3`` in the data directory."""
        return cls(settings.cases_db or str(settings.data_dir / "cases.sqlite3"), settings.cases_pg_schema)

    def add(self, case: Case) -> Case:
        """Keep ``case`` unless a case with its id is kept already; returns the kept one (idempotent)."""
        marks = ", ".join("?" * len(_COLUMNS.split(",")))
        insert = f"INSERT INTO {{schema}}cases ({_COLUMNS}) VALUES ({marks}) ON CONFLICT (case_id) DO NOTHING"  # noqa: S608
        with self._db.tx() as db:
            db.execute(self._db.q(insert), case._row())
        found = self.get(case.case_id)
        assert found is not None  # just written, or there before
        return found

    def update(self, case_id: str, changes: dict[str, Any], *, statuses: Collection[str] = STATUSES) -> bool:
        """Set the columns in ``changes`` of case ``case_id`` if its status is one of ``statuses``; True when
        it was. Only the named columns are written, so the router closing a case and the case service marking
        a reminder never overwrite each other. Raises ValueError for a name that is not a column."""
        names = sorted(changes)
        if not set(names) <= _UPDATABLE:
            raise ValueError(f"not updatable: {sorted(set(names) - _UPDATABLE)}")
        values = [_ts(v) if isinstance(v, dt.datetime) else int(v) if isinstance(v, bool) else v for v in
                  (changes[n] for n in names)]  # fmt: skip
        sets = ", ".join(f"{n} = ?" for n in names)
        marks = ", ".join("?" * len(statuses))
        query = f"UPDATE {{schema}}cases SET {sets} WHERE case_id = ? AND status IN ({marks})"  # noqa: S608
        with self._db.tx() as db:
            cursor = db.execute(self._db.q(query), (*values, case_id, *statuses))
            return bool(cursor.rowcount)

    def _select(self, where: str, params: Sequence[Any], tail: str = "") -> list[Case]:
        query = f"SELECT {_COLUMNS} FROM {{schema}}cases WHERE {where} {tail}"  # noqa: S608
        with self._db.tx() as db:
            rows = db.execute(self._db.q(query), tuple(params)).fetchall()
        return [Case._of(r) for r in rows]

    def get(self, case_id: str) -> Case | None:
        """The case with this id, or None."""
        found = self._select("case_id = ?", (case_id,))
        return found[0] if found else None

    def find(self, request_message_id: str, requested: str) -> Case | None:
        """The case of request ``request_message_id`` at ``requested``, or None."""
        found = self._select("request_message_id = ? AND requested = ?", (request_message_id, requested))
        return found[0] if found else None

    def for_submission(self, submission_id: str) -> list[Case]:
        """The cases a submission opened (a request) or closed (a response), by requested state."""
        return self._select(
            "submission_id = ? OR response_submission_id = ?", (submission_id, submission_id), "ORDER BY requested"
        )

    def listed(self, statuses: Sequence[str] = STATUSES, limit: int = 1000) -> list[Case]:
        """Cases in ``statuses``, the nearest deadline first."""
        marks = ", ".join("?" * len(statuses))
        return self._select(f"status IN ({marks})", statuses, f"ORDER BY deadline, case_id LIMIT {int(limit)}")

    def due_reminders(self, now: dt.datetime, limit: int = 500) -> list[Case]:
        """Open cases whose reminder time has come and whose reminder was not sent."""
        return self._select(
            "status = ? AND reminded = 0 AND remind_at IS NOT NULL AND remind_at <= ?",
            (OPEN, now.timestamp()),
            f"ORDER BY remind_at LIMIT {int(limit)}",
        )

    def due_overdue(self, now: dt.datetime, limit: int = 500) -> list[Case]:
        """Cases past their deadline without an answer whose overdue notice was not sent (a case waiting for
        more information from the requester has its deadline suspended, so it is never among them)."""
        return self._select(
            "status IN (?, ?) AND overdue_noticed = 0 AND deadline < ?",
            (OPEN, OVERDUE, now.timestamp()),
            f"ORDER BY deadline LIMIT {int(limit)}",
        )

    def counts(self, now: dt.datetime) -> dict[tuple[str, str, str], int]:
        """Cases per (requesting, requested, status), with open cases past their deadline counted as overdue."""
        query = (
            "SELECT requesting, requested, CASE WHEN status = ? AND deadline < ? THEN ? ELSE status END, COUNT(*) "
            "FROM {schema}cases GROUP BY 1, 2, 3"
        )
        with self._db.tx() as db:
            rows = db.execute(self._db.q(query), (OPEN, now.timestamp(), OVERDUE)).fetchall()
        return {(str(r[0]), str(r[1]), str(r[2])): int(r[3]) for r in rows}

    def close(self) -> None:
        """Close the database connection. Idempotent."""
        self._db.close()
