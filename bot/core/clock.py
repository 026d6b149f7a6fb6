"""Time is injected: production reads the system clock, tests and the demo move a fake one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ShiftedClock:
    """The real clock moved by a fixed offset: rehearsals and process tests run every worker
    at the same chosen hour (`CLOCK_OFFSET_SECONDS`), whatever the hour of the machine."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class FakeClock:
    """A clock that moves only when told to (tests, the demo's accelerated rehearsal)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move forward by `delta` or by timedelta keyword arguments; returns the new time."""
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to `when` (never backwards: time in the product only moves forward)."""
        when = when.astimezone(UTC)
        if when < self._now:
            raise ValueError("FakeClock cannot go back in time")
        self._now = when
