"""Aggregates for monitoring: a few GROUP BY queries, no rows loaded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import case, func, select

from bot.core.backlog import Backlog, Due, Unacknowledged
from bot.store.models import (
    CheckIn,
    Digest,
    Escalation,
    InboxStatus,
    InboxUpdate,
    OutboxMessage,
    Ping,
    Status,
    Worker,
)
from bot.store.sql import SqlRepository

LATE = timedelta(minutes=1)  # a row due this long ago counts as overdue
_WAITING = (Status.PENDING, Status.CLAIMED)
_KINDS = (("checkin", CheckIn), ("ping", Ping), ("digest", Digest), ("outbox", OutboxMessage))


class MonitoringRepository(SqlRepository):
    """What is waiting, counted by the database."""

    async def backlog(self, now: datetime) -> Backlog:
        conn = await self._conn()
        due: list[Due] = []
        for kind, model in _KINDS:
            table = model.__table__  # type: ignore[union-attr]
            waiting = table.c.status.in_(_WAITING) & (table.c.due_at <= now)
            row = (await conn.execute(select(
                func.count(),
                func.coalesce(func.sum(case((table.c.due_at <= now - LATE, 1), else_=0)), 0),
                func.min(table.c.due_at),
            ).where(waiting))).one()
            due.append(Due(kind, int(row[0]), int(row[1]), _utc(row[2])))
        esc = Escalation.__table__  # type: ignore[attr-defined]
        unacked = (await conn.execute(
            select(esc.c.level, func.count(), func.min(esc.c.created_at))
            .where(esc.c.kind == "clinical", esc.c.acked_at.is_(None),
                   esc.c.resolved_at.is_(None))
            .group_by(esc.c.level))).all()
        inbox = InboxUpdate.__table__  # type: ignore[attr-defined]
        waiting_in = (await conn.execute(
            select(func.count(), func.min(inbox.c.received_at))
            .where(inbox.c.status.in_((InboxStatus.PENDING, InboxStatus.CLAIMED))))).one()
        workers = Worker.__table__  # type: ignore[attr-defined]
        beats = (await conn.execute(select(workers.c.id, workers.c.beat_at))).all()
        return Backlog(
            tuple(due),
            tuple(Unacknowledged(str(level), int(n), _utc(oldest))
                  for level, n, oldest in unacked),
            int(waiting_in[0]), _utc(waiting_in[1]),
            tuple((str(w), b) for w, b in beats if _utc(b) is not None),
        )


def _utc(value: object) -> datetime | None:
    """A timestamp as the UTCDateTime type reads it back (raw aggregates skip the type on
    SQLite: a min() comes back as text there)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
