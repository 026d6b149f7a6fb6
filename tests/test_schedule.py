"""Schedule arithmetic: expansion in local time across DST, quiet hours, late check-ins."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from bot.core import schedule
from bot.core.content import Content, QuietHours

PARIS = ZoneInfo("Europe/Paris")
QUIET = QuietHours(start=time(21), end=time(8))


def test_checkins_keep_their_local_hour_across_the_spring_dst_change(content: Content) -> None:
    session = datetime(2027, 3, 23, 10, 0, tzinfo=PARIS)
    planned = {p.step_id: p for p in schedule.expand(content.plan, session, PARIS)}
    assert planned["day3"].due_at == datetime(2027, 3, 26, 9, 0, tzinfo=UTC)  # CET, UTC+1
    assert planned["day5"].due_at == datetime(2027, 3, 28, 8, 0, tzinfo=UTC)  # CEST, UTC+2
    for p in planned.values():
        assert p.due_at.astimezone(PARIS).time() in {time(10), time(19)}
    assert [p.day for p in planned.values()] == [0, 1, 2, 3, 5, 7, 10, 14, 21, 28]


def test_checkins_keep_their_local_hour_across_the_autumn_dst_change(content: Content) -> None:
    session = datetime(2026, 10, 22, 16, 0, tzinfo=PARIS)
    planned = {p.step_id: p for p in schedule.expand(content.plan, session, PARIS)}
    assert planned["day2"].due_at == datetime(2026, 10, 24, 8, 0, tzinfo=UTC)  # CEST
    assert planned["day3"].due_at == datetime(2026, 10, 25, 9, 0, tzinfo=UTC)  # CET


def test_day0_checkin_never_precedes_the_session(content: Content) -> None:
    session = datetime(2026, 11, 3, 18, 45, tzinfo=PARIS)
    day0 = schedule.expand(content.plan, session, PARIS)[0]
    assert day0.due_at >= session


def test_quiet_hours_wrap_midnight() -> None:
    assert QUIET.contains(time(21, 0))
    assert QUIET.contains(time(3, 0))
    assert not QUIET.contains(time(8, 0))
    assert not QUIET.contains(time(20, 59))


def _decide(now_local: datetime, row_date: date, until: date) -> schedule.Decision:
    return schedule.decide(
        now=now_local.astimezone(UTC), tz=PARIS, quiet=QUIET, row_date=row_date, until=until
    )


def test_due_checkin_is_sent_outside_quiet_hours() -> None:
    decision = _decide(datetime(2026, 11, 5, 15, 0, tzinfo=PARIS), date(2026, 11, 5),
                       date(2026, 11, 6))
    assert isinstance(decision, schedule.Send)


def test_checkin_due_in_early_quiet_hours_waits_until_they_end_the_same_day() -> None:
    decision = _decide(datetime(2026, 11, 5, 6, 0, tzinfo=PARIS), date(2026, 11, 5),
                       date(2026, 11, 6))
    assert isinstance(decision, schedule.Defer)
    assert decision.until == datetime(2026, 11, 5, 8, 0, tzinfo=PARIS)


def test_checkin_caught_by_evening_quiet_hours_is_skipped_when_its_successor_is_next_day() -> None:
    decision = _decide(datetime(2026, 11, 5, 22, 0, tzinfo=PARIS), date(2026, 11, 5),
                       date(2026, 11, 6))
    assert isinstance(decision, schedule.Skip)
    assert "quiet hours" in decision.reason


def test_checkin_whose_day_passed_is_skipped_with_a_reason() -> None:
    decision = _decide(datetime(2026, 11, 7, 12, 0, tzinfo=PARIS), date(2026, 11, 5),
                       date(2026, 11, 6))
    assert isinstance(decision, schedule.Skip)
    assert "2026-11-05" in decision.reason


def test_current_until_is_the_next_checkin_or_the_late_limit() -> None:
    d = date(2026, 11, 5)
    assert schedule.current_until(d, date(2026, 11, 6), 1) == date(2026, 11, 6)
    assert schedule.current_until(d, date(2026, 11, 10), 1) == date(2026, 11, 7)
    assert schedule.current_until(d, None, 0) == date(2026, 11, 6)
