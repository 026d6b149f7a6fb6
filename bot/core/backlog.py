"""What is waiting, read from the record for monitoring: due rows, unacknowledged pages,
the inbox, workers' heartbeats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Due:
    """One kind of row waiting to be sent."""

    kind: str  # checkin | ping | digest | outbox
    due: int  # due now (pending or claimed)
    overdue: int  # due for more than `Backlog.LATE`
    oldest_due_at: datetime | None


@dataclass(frozen=True, slots=True)
class Unacknowledged:
    """Open escalations of one level that nobody has acknowledged."""

    level: str
    count: int
    oldest_at: datetime | None


@dataclass(frozen=True, slots=True)
class Backlog:
    """Everything waiting, at one moment."""

    due: tuple[Due, ...]
    unacknowledged: tuple[Unacknowledged, ...]
    inbox_waiting: int
    inbox_oldest_at: datetime | None
    heartbeats: tuple[tuple[str, datetime], ...]  # (worker, its last beat)
