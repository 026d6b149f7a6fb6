"""Reading a session time as people type it at the desk or on the command line."""

from __future__ import annotations

from datetime import datetime
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
