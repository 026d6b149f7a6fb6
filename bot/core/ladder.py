"""The escalation ladder and clinic hours, as pure decisions.

An urgent or emergency escalation pages the first clinician of the on-call rota. If nobody
acknowledges within its timeout it is re-sent and goes to the next clinician (the earlier ones
are re-notified too), and after the last one to every active clinician. Routine escalations
and notices are not paged one by one: they wait for the next morning summary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core.model import Level

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MAX_REPEATS_TO_ALL = 6  # an unacknowledged page keeps going to everyone, then stops


@dataclass(frozen=True, slots=True)
class ClinicHours:
    """When the clinic is staffed, in its own time zone: days of the week and hours."""

    days: frozenset[int]  # 0 = Monday
    opens: time
    closes: time

    @classmethod
    def parse(cls, text: str) -> ClinicHours:
        """'Mon-Fri 09:00-18:00', 'Mon,Wed,Fri 08:30-17:00', 'Mon-Sun 00:00-23:59'."""
        match = re.fullmatch(
            r"\s*([A-Za-z]{3}(?:\s*[-,]\s*[A-Za-z]{3})*)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*",
            text,
        )
        if not match:
            raise ValueError(f"clinic hours look like 'Mon-Fri 09:00-18:00', not {text!r}")
        days: set[int] = set()
        for part in match.group(1).lower().replace(" ", "").split(","):
            ends = part.split("-")
            if any(e not in DAYS for e in ends):
                raise ValueError(f"unknown day in {part!r}: use Mon, Tue, Wed, Thu, Fri, Sat, Sun")
            first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
            wraps = first > last  # "Sat-Mon" runs over the end of the week
            days.update([*range(first, 7), *range(last + 1)] if wraps else range(first, last + 1))
        opens = time(int(match.group(2)), int(match.group(3)))
        closes = time(int(match.group(4)), int(match.group(5)))
        if opens >= closes:
            raise ValueError("clinic hours must open before they close")
        return cls(frozenset(days), opens, closes)

    def is_open(self, moment: datetime, tz: ZoneInfo) -> bool:
        local = moment.astimezone(tz)
        return local.weekday() in self.days and self.opens <= local.time() < self.closes

    def next_opening(self, moment: datetime, tz: ZoneInfo) -> datetime:
        """The first opening after `moment` (the clinic's zone)."""
        local = moment.astimezone(tz)
        for ahead in range(8):
            day = local.date() + timedelta(days=ahead)
            opens = datetime.combine(day, self.opens, tzinfo=tz)
            if day.weekday() in self.days and opens > local:
                return opens
        raise ValueError("clinic hours name no day")  # parse() refuses that


@dataclass(frozen=True, slots=True)
class Step:
    """One ladder step: who is paged, when the next step is due (None: no next), and the
    step the ladder counts from afterwards."""

    who: list[int] | None  # None: the ladder is exhausted
    next_at: datetime | None
    base: int


def plan_step(
    step: int, base: int, rota: Sequence[int], everyone: Sequence[int], *, level: Level,
    now: datetime, timeout: timedelta | None, closed_until: datetime | None,
    night_pace: timedelta | None,
) -> Step:
    """Who step `step` pages (the ladder counting from `base`) and when the next is due.
    While the clinic is closed (`closed_until`: its next opening) and `night_pace` is set,
    an urgent escalation pages the on-call clinician only (the rota's first; everyone
    without a rota) at that slower pace, never running out, and the ladder is set so that
    its first step once the clinic is open reaches everyone (then runs out as by day).
    Emergencies, and everything in opening hours, climb the ladder."""
    if timeout is None:
        return Step(recipients(step - base, rota, everyone), None, base)
    if level is Level.URGENT and night_pace is not None and closed_until is not None:
        ranked = [c for c in rota if c in everyone]
        return Step(ranked[:1] or list(everyone), min(now + night_pace, closed_until),
                    step + 1 - len(ranked))
    return Step(recipients(step - base, rota, everyone), now + timeout, base)


def ack_timeout(level: Level, *, urgent: timedelta, emergency: timedelta) -> timedelta | None:
    """How long a page waits for an acknowledgement before the next step (None: no ladder)."""
    if level is Level.EMERGENCY:
        return emergency
    if level is Level.URGENT:
        return urgent
    return None


def recipients(step: int, rota: Sequence[int], everyone: Sequence[int]) -> list[int] | None:
    """Who is paged at ladder step `step` (0 first); None once the ladder is exhausted.

    With a rota [a, b, c]: step 0 -> [a], 1 -> [a, b], 2 -> [a, b, c], then everyone,
    repeated up to MAX_REPEATS_TO_ALL times. Without a rota every step pages everyone.
    """
    rota = [c for c in rota if c in everyone]
    if step < len(rota):
        return list(rota[: step + 1])
    if step - len(rota) < MAX_REPEATS_TO_ALL:
        return list(everyone)
    return None
