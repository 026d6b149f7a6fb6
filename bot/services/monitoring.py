"""What monitoring reads from the record."""

from __future__ import annotations

from bot.core.backlog import Backlog
from bot.services.common import Deps


class Monitoring:
    """Aggregates for `/metrics`."""

    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def backlog(self) -> Backlog:
        async with self.d.store.unit_of_work() as uow:
            return await uow.monitoring.backlog(self.d.clock.now())
