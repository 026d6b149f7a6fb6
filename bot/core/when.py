"""Reading a session time as people type it at the desk or on the command line."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

SHORT = 5  # "14:30"


def session_time(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """'14:30' (today, in `zone`), or an ISO 8601 time ('2026-11-20 14:30', with or without a
    UTC offset; without one it is a wall-clock time in `zone`). ValueError if unreadable."""
    text = text.strip()
    if len(text) <= SHORT:
        hours, minutes = (int(p) for p in text.split(":"))
        local = now.astimezone(zone)
        return local.replace(hour=hours, minute=minutes, second=0, microsecond=0)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def too_far_ahead(moment: datetime, now: datetime, days_ahead: int) -> bool:
    """Whether a session is further ahead than the clinic allows (a typo, a wrong year)."""
    try:
        return moment > now + timedelta(days=days_ahead)
    except OverflowError:  # year 9999 in a zone east of UTC
        return True


LONG_AGO = timedelta(days=366)


def too_long_ago(moment: datetime, now: datetime) -> bool:
    """Whether a session is over a year old: a typo in the year, not a course to follow."""
    try:
        return moment < now - LONG_AGO
    except OverflowError:  # year 1 in a zone east of UTC
        return True


def unknown_areas(areas: str, known: Sequence[str]) -> list[str]:
    """The treated areas in a comma-separated list that the clinic does not offer."""
    offered = {a.casefold() for a in known}
    named = [a.strip() for a in areas.split(",") if a.strip()]
    return [a for a in named if a.casefold() not in offered]
