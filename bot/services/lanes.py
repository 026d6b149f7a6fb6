"""Work in lanes: one lane per key (a chat), each lane's items run in order, lanes run side
by side. One patient's burst never queues another patient behind it, and a chat's messages
never overtake each other. A lane's task ends when it runs dry, so idle chats cost nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class _Item:
    work: Work
    urgent: bool


class Lanes:
    """Per-key queues of work; `urgent` items go before the others waiting in their lane."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._queues: dict[int, deque[_Item]] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, key: int, work: Work, *, urgent: bool = False) -> None:
        """Queue `work` in `key`'s lane (started at once if the lane is free)."""
        queue = self._queues.setdefault(key, deque())
        item = _Item(work, urgent)
        if urgent:  # after the urgent ones already waiting, before everything else
            at = next((i for i, waiting in enumerate(queue) if not waiting.urgent), len(queue))
            queue.insert(at, item)
        else:
            queue.append(item)
        if key not in self._tasks:
            self._idle.clear()
            self._tasks[key] = asyncio.create_task(self._run(key), name=f"{self.name}:{key}")

    def busy(self, key: int) -> bool:
        return key in self._tasks

    def has_urgent(self, key: int) -> bool:
        """Whether urgent work waits in `key`'s lane."""
        return any(item.urgent for item in self._queues.get(key, ()))

    def __len__(self) -> int:
        return len(self._tasks)

    async def _run(self, key: int) -> None:
        queue = self._queues[key]
        try:
            while queue:
                item = queue.popleft()
                try:
                    await item.work()
                except asyncio.CancelledError:
                    raise
                except Exception:  # the work logs its own failures; a lane never dies
                    log.exception("%s lane: unexpected failure", self.name)
        finally:
            del self._queues[key]
            del self._tasks[key]
            if not self._tasks:
                self._idle.set()

    async def idle(self) -> None:
        """Wait until every lane has run dry."""
        await self._idle.wait()

    async def close(self, grace: float) -> None:
        """Let the lanes finish for up to `grace` seconds, then cancel what is left."""
        try:
            await asyncio.wait_for(self.idle(), grace)
        except TimeoutError:
            for task in list(self._tasks.values()):
                task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)


class Gate:
    """At most `limit` pieces of work at once, urgent waiters served first: a red flag's
    handling never queues for the database behind a burst of routine ones."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used = 0
        self._waiting: dict[bool, deque[asyncio.Future[None]]] = {True: deque(), False: deque()}

    @contextlib.asynccontextmanager
    async def slot(self, *, urgent: bool = False) -> AsyncIterator[None]:
        """Hold one of the places while the body runs."""
        if self._used < self.limit and not any(self._waiting.values()):
            self._used += 1
        else:
            turn = asyncio.get_running_loop().create_future()
            self._waiting[urgent].append(turn)
            try:
                await turn  # the place is handed over: `_used` already counts it
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._release()  # handed over as we were cancelled: pass it on
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        for urgent in (True, False):
            queue = self._waiting[urgent]
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    turn.set_result(None)
                    return
        self._used -= 1
