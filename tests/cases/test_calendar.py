"""Working days per state from the real ``holidays`` data, and the deadline arithmetic on them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from services.cases.calendar import WorkingCalendar, calendar_for, state_zone, zone_key

BERLIN = ZoneInfo("Europe/Berlin")
PARIS = ZoneInfo("Europe/Paris")
FRIDAY_AFTERNOON = dt.datetime(2026, 12, 18, 14, 0, tzinfo=BERLIN)


def _end(year: int, month: int, day: int, hour: int) -> dt.datetime:
    """The UTC instant ``hour``:59:59.999 of that day: a local day's end seen in UTC."""
    return dt.datetime(year, month, day, hour, 59, 59, 999000, tzinfo=dt.UTC)


def test_de_ten_working_days_cross_christmas_and_new_year() -> None:
    """Fri 18 Dec: the receipt day does not count; weekends, 25/26 Dec and 1 Jan do (24 and 31 Dec are working
    days in DE); due at the end of Tue 5 Jan, Berlin time."""
    deadline = calendar_for("DE").add_working_days(FRIDAY_AFTERNOON, 10)
    assert deadline == _end(2027, 1, 5, 22)
    assert deadline.tzinfo is dt.UTC and deadline.microsecond % 1000 == 0


def test_pl_closes_on_christmas_eve_and_epiphany() -> None:
    """PL also closes on 24 Dec and 6 Jan (Epiphany, not a nationwide DE holiday): two days later than DE."""
    assert calendar_for("PL").add_working_days(FRIDAY_AFTERNOON, 10) == _end(2027, 1, 7, 22)
    assert not calendar_for("PL").is_working_day(dt.date(2027, 1, 6))
    assert calendar_for("DE").is_working_day(dt.date(2027, 1, 6))


def test_fr_victory_day_ascension_and_bastille_day() -> None:
    """FR closes on 8 May and 14 July; DE works on 8 May; both close on Ascension (14 May 2026). Summer time
    puts the end of the day at 21:59:59.999 UTC."""
    thursday = dt.datetime(2026, 5, 7, 10, 0, tzinfo=PARIS)
    assert calendar_for("FR").add_working_days(thursday, 5) == _end(2026, 5, 18, 21)
    assert calendar_for("DE").add_working_days(thursday, 5) == _end(2026, 5, 15, 21)
    monday = dt.datetime(2026, 7, 13, 9, 0, tzinfo=PARIS)
    assert calendar_for("FR").add_working_days(monday, 1) == _end(2026, 7, 15, 21)


def test_receipt_on_a_saturday_or_a_holiday_counts_from_the_next_working_day() -> None:
    """A receipt on a non-working day: the first working day after it is day 1."""
    de = calendar_for("DE")
    saturday = dt.datetime(2026, 12, 19, 11, 0, tzinfo=BERLIN)
    assert de.add_working_days(saturday, 1) == _end(2026, 12, 21, 22)
    assert de.add_working_days(saturday, 2) == _end(2026, 12, 22, 22)
    christmas = dt.datetime(2026, 12, 25, 11, 0, tzinfo=BERLIN)
    assert de.add_working_days(christmas, 1) == _end(2026, 12, 28, 22)


def test_the_day_of_receipt_is_the_local_one() -> None:
    """Thu 23:30 UTC is already Fri 00:30 in Berlin: day 1 is Monday. In a UTC calendar it is still Thursday."""
    late = dt.datetime(2026, 12, 17, 23, 30, tzinfo=dt.UTC)
    assert calendar_for("DE").add_working_days(late, 1) == _end(2026, 12, 21, 22)
    assert WorkingCalendar("DE", tz=ZoneInfo("UTC")).add_working_days(late, 1) == _end(2026, 12, 18, 23)


def test_zero_working_days_is_the_end_of_the_receipt_day_or_of_the_next_working_day() -> None:
    """n=0: due the same day when received on a working day, else on the next working day."""
    de = calendar_for("DE")
    assert de.add_working_days(FRIDAY_AFTERNOON, 0) == _end(2026, 12, 18, 22)
    assert de.add_working_days(dt.datetime(2026, 12, 19, 9, tzinfo=BERLIN), 0) == _end(2026, 12, 21, 22)
    assert de.add_working_days(dt.datetime(2026, 12, 25, 9, tzinfo=BERLIN), 0) == _end(2026, 12, 28, 22)


def test_naive_instants_and_negative_counts_are_refused() -> None:
    """A receipt time without a zone has no local day; a negative period is a bug."""
    de = calendar_for("DE")
    with pytest.raises(ValueError):
        de.add_working_days(dt.datetime(2026, 12, 18, 14), 1)
    with pytest.raises(ValueError):
        de.add_working_days(FRIDAY_AFTERNOON, -1)
    with pytest.raises(ValueError):
        de.working_days_between(dt.datetime(2026, 12, 18), FRIDAY_AFTERNOON)
    with pytest.raises(TypeError):
        de.is_working_day(FRIDAY_AFTERNOON)


def test_an_unknown_state_has_weekends_only_and_says_so() -> None:
    """A code the holidays package lacks: no exception, Saturday and Sunday off, UTC, ``known`` False."""
    xx = calendar_for("XX")
    assert not xx.known and calendar_for("DE").known
    assert xx.tz is dt.UTC
    assert xx.is_working_day(dt.date(2026, 12, 25)) and not xx.is_working_day(dt.date(2026, 12, 26))
    assert xx.add_working_days(FRIDAY_AFTERNOON, 10) == _end(2027, 1, 1, 23)


def test_the_weekend_is_the_countrys_own() -> None:
    """Israel rests on Friday and Saturday: Sunday is a working day there, Friday is not."""
    il = calendar_for("IL")
    assert il.weekend == frozenset({4, 5}) and calendar_for("DE").weekend == frozenset({5, 6})
    assert il.is_working_day(dt.date(2026, 12, 20)) and not il.is_working_day(dt.date(2026, 12, 18))


def test_working_days_between_mirrors_the_deadline() -> None:
    """Same day 0; Friday to Saturday 0, to Monday 1; the deadline of n working days is n days after receipt;
    one millisecond later counts n on a non-working day, n + 1 on a working day."""
    de = calendar_for("DE")
    assert de.working_days_between(FRIDAY_AFTERNOON, FRIDAY_AFTERNOON + dt.timedelta(hours=9)) == 0
    assert de.working_days_between(FRIDAY_AFTERNOON, dt.datetime(2026, 12, 19, 9, tzinfo=BERLIN)) == 0
    assert de.working_days_between(FRIDAY_AFTERNOON, dt.datetime(2026, 12, 21, 9, tzinfo=BERLIN)) == 1
    receipt = FRIDAY_AFTERNOON
    for days in range(1, 30):
        receipt += dt.timedelta(hours=19)  # receipts on every kind of day and hour around the holidays
        deadline = de.add_working_days(receipt, days)
        assert de.working_days_between(receipt, deadline) == days
        late = deadline + dt.timedelta(milliseconds=1)
        expected = days + 1 if de.is_working_day(de.local_date(late)) else days
        assert de.working_days_between(receipt, late) == expected
    with pytest.raises(ValueError):
        de.working_days_between(FRIDAY_AFTERNOON, FRIDAY_AFTERNOON - dt.timedelta(seconds=1))


def test_the_end_of_a_day_follows_clock_changes() -> None:
    """The last millisecond before the next local day: 22:59:59.999 UTC in Berlin winter, 21:59:59.999 on the
    day summer time starts; in Santiago, where clocks go back at midnight, after the repeated hour."""
    berlin = WorkingCalendar("DE")
    assert berlin.end_of_day(dt.date(2026, 3, 28)) == _end(2026, 3, 28, 22)
    assert berlin.end_of_day(dt.date(2026, 3, 29)) == _end(2026, 3, 29, 21)
    santiago = WorkingCalendar("CL", tz=ZoneInfo("America/Santiago"))
    end = santiago.end_of_day(dt.date(2026, 4, 4))
    assert end == _end(2026, 4, 5, 3)
    assert santiago.local_date(end) == dt.date(2026, 4, 4)
    assert santiago.local_date(end + dt.timedelta(milliseconds=1)) == dt.date(2026, 4, 5)


def test_the_zone_is_the_countrys_first_in_the_tz_database() -> None:
    """zone.tab's first row for the country; in zone1970.tab a row the country leads wins over a shared one."""
    assert state_zone("DE") == BERLIN and state_zone("PL") == ZoneInfo("Europe/Warsaw")
    assert state_zone("XX") is dt.UTC
    zone1970 = "# comment\nCH,DE,LI\t+4723+00832\tEurope/Zurich\tBusingen\nDE,DK,NO\t+5230+01322\tEurope/Berlin\n"
    assert zone_key(zone1970, "DE") == "Europe/Berlin"
    assert zone_key(zone1970, "LI") == "Europe/Zurich"
    assert zone_key(zone1970, "NO") == "Europe/Berlin"
    assert zone_key(zone1970, "XX") is None


def test_calendars_are_cached_per_state() -> None:
    """One calendar per state per process."""
    assert calendar_for("FR") is calendar_for("FR")
