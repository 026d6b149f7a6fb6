"""Schedule arithmetic: care plan to due times, local days, quiet hours, what to do when late.

All datetimes in and out are aware; stored times are UTC, decisions use the patient's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core.content import CarePlan, QuietHours

# A day-0 check-in is never due before the patient has left the chair.
MIN_GAP_AFTER_SESSION = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class PlannedCheckin:
    """One row the care plan expands to."""

    step_id: str
    day: int
    local_date: date
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Send:
    """Send it now."""


@dataclass(frozen=True, slots=True)
class Defer:
    """Not now: try again at `until` (UTC)."""

    until: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Skip:
    """Never send it; the reason is recorded on the row."""

    reason: str


Decision = Send | Defer | Skip


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    """The calendar date of `moment` in `tz`."""
    return moment.astimezone(tz).date()


def day_number(session_at: datetime, tz: ZoneInfo, now: datetime) -> int:
    """Whole local days since the session (session day = 0)."""
    return (local_date(now, tz) - local_date(session_at, tz)).days


def at_local(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of local wall-clock `at` on `day` (DST-aware; gaps move forward)."""
    local = datetime.combine(day, at, tzinfo=tz)
    # A wall time skipped by a DST jump round-trips to a different wall time; zoneinfo then
    # reads it with the pre-jump offset, which lands after the gap, as a clinic would expect.
    return local.astimezone(UTC)


def expand(plan: CarePlan, session_at: datetime, tz: ZoneInfo) -> list[PlannedCheckin]:
    """Expand the plan for a session into dated check-ins."""
    first = local_date(session_at, tz)
    rows = []
    for step in plan.steps:
        day = first + timedelta(days=step.day)
        due = max(at_local(day, step.at, tz), session_at + MIN_GAP_AFTER_SESSION)
        rows.append(PlannedCheckin(step.id, step.day, day, due))
    return rows


def quiet_end(now: datetime, quiet: QuietHours, tz: ZoneInfo) -> datetime:
    """When the quiet hours containing `now` end (UTC)."""
    local = now.astimezone(tz)
    end = datetime.combine(local.date(), quiet.end, tzinfo=tz)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), quiet.end, tzinfo=tz)
    return end.astimezone(UTC)


def current_until(row_date: date, next_date: date | None, late_send_days: int) -> date:
    """First local date on which a check-in is too late to send (exclusive bound).

    A check-in stays current until the next check-in's day begins, and at most
    `late_send_days` days after its own day.
    """
    limit = row_date + timedelta(days=late_send_days + 1)
    return min(limit, next_date) if next_date is not None else limit


HELD = "held: an emergency waits for a clinician"  # a check-in's reason while it waits


def decide(
    *,
    now: datetime,
    tz: ZoneInfo,
    quiet: QuietHours,
    row_date: date,
    until: date,
) -> Decision:
    """What the dispatcher does with a due check-in for `row_date`, current until `until`."""
    today = local_date(now, tz)
    if today >= until:
        return Skip(
            f"not sent: its day ({row_date.isoformat()}) had passed when it came due "
            "(enrolled late or the bot was down); a later check-in took its place"
        )
    if quiet.contains(now.astimezone(tz).time()):
        end = quiet_end(now, quiet, tz)
        if local_date(end, tz) >= until:
            return Skip(
                f"not sent: quiet hours lasted until its day ({row_date.isoformat()}) was over"
            )
        return Defer(end, "quiet hours")
    return Send()
