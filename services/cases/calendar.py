"""The working days of one state, in its own time zone, and the deadline arithmetic of cases.

A state's non-working days are what the ``holidays`` package says for the whole country (no subdivision):
its public holidays, observed days included, and its weekend, with the weekend days it declares working days
(transferred working Saturdays). A state the package does not know gets Saturday and Sunday only, and says so
(``known`` is False). Days are the state's local days: the zone is the country's first zone in the tz
database's ``zone.tab`` (``zone1970.tab`` where that is missing), UTC when it has none, unless one is given.

Deadlines follow Framework Decision 2009/315/JHA, Art. 8 ("within ... working days from the date the request
was received"): the day of receipt does not count, and a deadline is the end of its last working day, the last
millisecond before the next local day begins (Avro ``timestamp-millis``), returned in UTC. Nothing here reads
the clock.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterator
from importlib import resources

import holidays

SATURDAY_SUNDAY = frozenset({5, 6})  # date.weekday() numbers
ZONE_TABLES = ("zone.tab", "zone1970.tab")  # zone.tab first: one row per country, its most populous zone first
MAX_GAP_DAYS = 370  # no calendar closes for a whole year; a longer search is a bug, not a deadline
_MILLISECOND = dt.timedelta(milliseconds=1)


class WorkingCalendar:
    """The working days of ``state`` (ISO 3166-1 alpha-2) in ``tz`` (default: the state's own zone).

    ``known`` says whether the ``holidays`` package has the state; ``weekend`` holds its weekend days
    (``date.weekday()`` numbers: the package's, else Saturday and Sunday); ``tz`` is the zone its days are
    counted in. Holidays are computed once per year asked for and kept; a calendar is otherwise immutable, so
    one instance may serve every case of its state (``calendar_for``).
    """

    def __init__(self, state: str, *, tz: zoneinfo.ZoneInfo | None = None) -> None:
        """Build the calendar; never raises for an unknown state (``known`` is then False, weekends only)."""
        self.state = state
        self.tz: dt.tzinfo = tz if tz is not None else state_zone(state)
        try:
            probe = holidays.country_holidays(state, years=(), expand=False)
        except NotImplementedError:  # what the package raises for a country it does not have
            self.known = False
            self.weekend = SATURDAY_SUNDAY
        else:
            self.known = True
            self.weekend = frozenset(probe.weekend)
        self._closed: dict[int, frozenset[dt.date]] = {}

    def __repr__(self) -> str:
        return f"WorkingCalendar({self.state!r}, tz={self.tz}, known={self.known})"

    def is_working_day(self, day: dt.date) -> bool:
        """Whether ``day`` (a local date of the state) is a working day there.

        Raises TypeError for a datetime: an instant has a date only in a zone (use ``local_date``).
        """
        if isinstance(day, dt.datetime):
            raise TypeError("is_working_day takes a date; use local_date() for an instant")
        closed = self._closed.get(day.year)
        if closed is None:
            closed = self._closed[day.year] = self._closed_days(day.year)
        return day not in closed

    def local_date(self, instant: dt.datetime) -> dt.date:
        """The state's local date at ``instant``. Raises ValueError for a naive datetime."""
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError("instants must be timezone-aware")
        return instant.astimezone(self.tz).date()

    def end_of_day(self, day: dt.date) -> dt.datetime:
        """The last millisecond of the local ``day`` (23:59:59.999 on an ordinary day), as an aware UTC datetime.

        It is one millisecond before the first instant of the next local day, so a clock change at midnight
        still gives the day's true end.
        """
        next_midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=self.tz)
        return next_midnight.astimezone(dt.UTC) - _MILLISECOND

    def next_working_day(self, day: dt.date) -> dt.date:
        """The first working day strictly after ``day``. Raises ValueError if none comes within a year."""
        for _ in range(MAX_GAP_DAYS):
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                return day
        raise ValueError(f"{self.state}: no working day within {MAX_GAP_DAYS} days")

    def add_working_days(self, start: dt.datetime, n: int) -> dt.datetime:
        """The deadline ``n`` working days after the receipt at ``start``: the end of the n-th working day
        after the local date of ``start`` (that day itself never counts), as an aware UTC datetime.

        ``n == 0`` is a same-day answer: the end of the receipt day when it is a working day, else the end of
        the next working day (so the result never falls on a non-working day, and grows with ``n``).
        Raises ValueError for a naive ``start`` or a negative ``n``.
        """
        if n < 0:
            raise ValueError("the number of working days must not be negative")
        day = self.local_date(start)
        if n == 0 and self.is_working_day(day):
            return self.end_of_day(day)
        for _ in range(max(n, 1)):
            day = self.next_working_day(day)
        return self.end_of_day(day)

    def working_days_between(self, a: dt.datetime, b: dt.datetime) -> int:
        """How many working days passed from ``a`` (a receipt) to ``b`` (its answer): the working days after
        the local date of ``a`` up to and including the local date of ``b``.

        An answer on the day of receipt is 0; on the k-th working day after it, k; on a non-working day, the
        working days before it. Mirrors ``add_working_days``: an answer within ``n - 1`` is before the
        deadline of ``n``; one on a working day is within the deadline of ``n`` exactly when it is <= n.
        Raises ValueError for naive datetimes or ``b`` before ``a``.
        """
        first, last = self.local_date(a), self.local_date(b)  # raise for naive datetimes
        if b < a:
            raise ValueError("the end of the span is before its start")
        return sum(1 for day in _days_after(first, last) if self.is_working_day(day))

    def _closed_days(self, year: int) -> frozenset[dt.date]:
        """The non-working days of ``year``: the package's own definition, or Saturdays and Sundays."""
        first = dt.date(year, 1, 1)
        days = [first + dt.timedelta(days=i) for i in range(dt.date(year, 12, 31).toordinal() - first.toordinal() + 1)]
        if not self.known:
            return frozenset(day for day in days if day.weekday() in SATURDAY_SUNDAY)
        calendar = holidays.country_holidays(self.state, years=year, expand=False)
        return frozenset(day for day in days if not calendar.is_working_day(day))


def _days_after(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    """The dates after ``first`` up to and including ``last``."""
    day = first
    while day < last:
        day += dt.timedelta(days=1)
        yield day


@functools.cache
def calendar_for(state: str) -> WorkingCalendar:
    """The calendar of ``state`` in its own zone, built once per process. Never raises for an unknown state."""
    return WorkingCalendar(state)


@functools.cache
def state_zone(state: str) -> dt.tzinfo:
    """The time zone of ``state``: its first zone in the tz database's country table, else UTC.

    The table is read where ``zoneinfo`` reads zones (its TZPATH, then the ``tzdata`` package), from the first
    place that has one. Never raises.
    """
    table = _zone_table()
    key = zone_key(table, state) if table is not None else None
    if key is None:
        return dt.UTC
    try:
        return zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def zone_key(table: str, state: str) -> str | None:
    """The zone of ``state`` in the text of ``zone.tab`` or ``zone1970.tab``, or None if it has none.

    A row that names ``state`` first wins over one that lists it among others (zone1970.tab lists Germany
    under ``CH,DE,LI Europe/Zurich`` before ``DE,DK,... Europe/Berlin``); among equals, the first row.
    """
    shared: str | None = None
    for line in table.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            continue
        codes = fields[0].split(",")
        if codes[0] == state:
            return fields[2]
        if shared is None and state in codes:
            shared = fields[2]
    return shared


def _zone_table() -> str | None:
    """The text of the first country table found, in zoneinfo's search order; None without one."""
    for directory in zoneinfo.TZPATH:
        for name in ZONE_TABLES:
            try:
                with open(f"{directory}/{name}", encoding="utf-8") as table:
                    return table.read()
            except OSError:
                continue
    try:
        package = resources.files("tzdata").joinpath("zoneinfo")
    except ModuleNotFoundError:
        return None
    for name in ZONE_TABLES:
        try:
            return package.joinpath(name).read_text("utf-8")
        except OSError:
            continue
    return None
