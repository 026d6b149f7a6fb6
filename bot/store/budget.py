"""The send budget every worker shares: messages per wall-clock second, in the database."""

from __future__ import annotations

import time

from bot.store.db import Database


class DatabaseBudget:
    """`take` counts a message against a second; the database makes it atomic for everyone."""

    PRUNE_EVERY = 300  # seconds between clean-ups of old rows

    def __init__(self, db: Database, per_second: int) -> None:
        self.db = db
        self.per_second = per_second
        self._pruned = 0.0

    async def take(self, second: int) -> int | None:
        async with self.db.unit_of_work() as uow:
            taken = await uow.queue.take_send_slot(second, self.per_second)
            if second - self._pruned > self.PRUNE_EVERY:
                await uow.queue.prune_send_slots(second - 60)
                self._pruned = second
        return taken

    async def fill(self, first: int, last: int) -> None:
        async with self.db.unit_of_work() as uow:
            await uow.queue.fill_send_slots(first, last, self.per_second)

    @staticmethod
    def now() -> float:
        return time.time()
