"""This process's identity and heartbeat: claims name the worker holding them, and a worker
whose heartbeat stops has its claims taken back within seconds, not after a whole lease.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.store.models import Holder, Worker

RETIRED_BEFORE = datetime(1970, 1, 2, tzinfo=UTC)  # a retired worker's heartbeat is older

if TYPE_CHECKING:
    from bot.services.repositories import UnitsOfWork


class Liveness:
    """Who this worker is, whether the database hears its heartbeat, and whom to distrust."""

    def __init__(self, stale: timedelta = timedelta(seconds=6)) -> None:
        self.id = uuid.uuid4().hex[:16]
        self.stale = stale
        self.started_at: datetime | None = None
        self._steady_since: datetime | None = None  # heartbeats written without a gap since
        self._beaten_at: datetime | None = None  # the last heartbeat written

    def holder(self, now: datetime) -> Holder:
        """Who claims now. Another worker counts as dead once its heartbeat is stale, but
        only after ours has been written steadily for as long: after a database outage,
        every heartbeat is old, and the others need a moment to beat again."""
        steady = self._steady_since is not None and now - self._steady_since >= self.stale
        # Until then, only a worker that said it stopped (`retire`) counts as dead.
        return Holder(self.id, now - self.stale if steady else RETIRED_BEFORE)

    def database_up(self) -> bool:
        """Whether the last heartbeat was written (the database answers this worker)."""
        return self._steady_since is not None

    def heard(self, now: datetime) -> bool:
        """Whether a heartbeat was written lately: a write, so a locked or full SQLite (which
        still answers reads) and a beat hanging on a dead connection both count as away."""
        return (self._steady_since is not None and self._beaten_at is not None
                and now - self._beaten_at < self.stale)

    async def retire(self, store: UnitsOfWork) -> None:
        """Stopping cleanly: what this worker still holds goes back at once."""
        async with store.unit_of_work() as uow:
            await uow.queue.retire(self.id)

    async def beat(self, store: UnitsOfWork, now: datetime) -> bool:
        """Write the heartbeat; False when the database is away."""
        self.started_at = self.started_at or now
        try:
            async with store.unit_of_work() as uow:
                await uow.queue.beat(Worker(
                    id=self.id, started_at=self.started_at, beat_at=now, pid=os.getpid(),
                    host=socket.gethostname()[:64],
                ))
                if now.minute == 0 and now.second < 2:  # hourly: forget long-gone workers
                    await uow.queue.forget_workers(now - timedelta(days=1))
        except Exception as exc:
            if not store.is_outage(exc):
                raise
            self._steady_since = None
            return False
        if self._steady_since is None:
            self._steady_since = now
        self._beaten_at = now
        return True
