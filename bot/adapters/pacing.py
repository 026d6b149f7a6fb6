"""Pacing under Telegram's limits, as python-telegram-bot's rate limiter.

- Overall: one message every 1/rate seconds (30/s by default), spaced rather than in bursts,
  so Telegram never sees a burst worth a 429.
- Across workers: when a shared budget is given, each message also takes a slot of its
  wall-clock second in the database, so N workers together keep to one pace; the n-th slot
  of a second waits until n/rate into it, so the pace holds within the second too.
- Per chat: 1 message/s in a private chat, 20/min in a group; the instruction to call
  emergency services alone does not wait for its chat's gap (one message, rarely sent).
- Priority, in four lanes (`rate_limit_args={"lane": ...}`): that instruction, then pages,
  then replies and edits, then routine check-ins.
- The shared budget is best effort: when the database cannot answer within a second, this
  worker keeps its own pace alone (an emergency never waits for the database).
- 429: the message waits `retry_after` and is retried once; every sender pauses meanwhile
  (the shared budget fills those seconds for the other workers too).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any, Protocol

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.core.delivery import Lane

log = logging.getLogger(__name__)

Answer = bool | dict[str, Any] | list[dict[str, Any]]
SENDS = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendVoice", "sendMediaGroup",
                   "copyMessage", "forwardMessage"})
# Editing the message a person is tapping keeps the overall pace but not the 1/s per chat:
# that limit is about new messages, and a keyboard that lags a second per tap feels broken.
EDITS = frozenset({"editMessageText", "editMessageCaption", "editMessageReplyMarkup"})
PACED = SENDS | EDITS
# Chats remembered (a lock and the time of their next slot each) before those whose gap has
# passed are forgotten: every stranger who writes once would otherwise stay for good.
FORGET_AFTER = 1_000


class SharedBudget(Protocol):
    """Seconds of wall-clock time shared by every worker."""

    async def take(self, second: int) -> int | None:
        """Count one message against `second`: its place in that second (1 is first), or
        None if the second is full."""
        ...

    async def fill(self, first: int, last: int) -> None:
        """Mark seconds full (a 429 pauses every worker)."""
        ...


class Pacer(BaseRateLimiter[dict[str, Any]]):
    """Spaces Bot API calls under Telegram's limits; see the module docstring."""

    def __init__(
        self,
        *,
        per_second: float = 30,
        chat_interval: float = 1.0,
        group_interval: float = 3.0,
        budget: SharedBudget | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = 1 / per_second
        self.chat_interval = chat_interval
        self.group_interval = group_interval
        self.budget = budget
        self.monotonic, self.wall, self.sleep = monotonic, wall, sleep
        self._next = 0.0  # monotonic time of the next free overall slot
        self._chats: dict[int, float] = {}  # when each chat may get its next message
        self._chat_locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}  # senders holding or waiting for each chat's lock
        self._lanes: dict[Lane, deque[asyncio.Future[None]]] = {lane: deque() for lane in Lane}
        self._budget_down = False
        self._releaser: asyncio.Task[None] | None = None

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Stop releasing."""
        if self._releaser is not None:
            self._releaser.cancel()

    async def process_request(  # noqa: PLR0917 (PTB's signature)
        self,
        callback: Callable[..., Coroutine[Any, Any, Answer]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> Answer:
        if endpoint not in PACED:
            return await callback(*args, **kwargs)
        lane = Lane((rate_limit_args or {}).get("lane", Lane.NORMAL))
        chat_id = _chat(data.get("chat_id")) if endpoint in SENDS else None
        for attempt in range(2):
            await self.acquire(chat_id, lane=lane)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                pause = _seconds(exc.retry_after)
                log.warning("Telegram asked to wait %.1f s (429); pausing all sends", pause)
                await self.pause(pause)
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def acquire(self, chat_id: int | None, *, lane: Lane = Lane.NORMAL) -> None:
        """Wait for this message's turn: its chat's gap, then an overall slot."""
        if chat_id is None:
            await self._slot(lane)
            return
        if lane is Lane.INSTRUCTION:  # "call 112 now" does not wait a second behind a check-in
            await self._slot(lane)
            gap = self.group_interval if chat_id < 0 else self.chat_interval
            self._chats[chat_id] = max(self._chats.get(chat_id, 0.0), self.monotonic() + gap)
            return
        lock = self._chat_locks.setdefault(chat_id, asyncio.Lock())
        self._users[chat_id] = self._users.get(chat_id, 0) + 1
        try:
            async with lock:  # one message of a chat at a time, so the gap is kept exactly
                ready = self._chats.get(chat_id, 0.0)
                if ready > self.monotonic():
                    await self.sleep(ready - self.monotonic())
                await self._slot(lane)
                gap = self.group_interval if chat_id < 0 else self.chat_interval
                self._chats[chat_id] = self.monotonic() + gap
        finally:
            left = self._users.pop(chat_id) - 1
            if left:
                self._users[chat_id] = left
        if len(self._chat_locks) > FORGET_AFTER:
            # Forget chats nobody is sending to whose gap has passed (a lock with a sender
            # waiting on it is kept: a new one would let two messages out together).
            now = self.monotonic()
            self._chats = {c: t for c, t in self._chats.items() if t > now or c in self._users}
            self._chat_locks = {c: lk for c, lk in self._chat_locks.items()
                                if c in self._users or c in self._chats}

    async def _slot(self, lane: Lane) -> None:
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._lanes[lane].append(turn)
        if self._releaser is None or self._releaser.done():
            self._releaser = asyncio.create_task(self._release())
        await turn
        if self.budget is not None:
            await self._take_budget(lane)

    async def _release(self) -> None:
        """Hand out one slot per interval, the lanes in order of urgency."""
        while any(self._lanes.values()):
            now = self.monotonic()
            if now < self._next:
                await self.sleep(self._next - now)
                continue
            queue = next(q for q in self._lanes.values() if q)
            turn = queue.popleft()
            if turn.done():  # its sender gave up (cancelled)
                continue
            turn.set_result(None)
            self._next = max(now, self._next) + self.interval

    async def _take_budget(self, lane: Lane) -> None:
        assert self.budget is not None
        while True:
            now = self.wall()
            second = int(now)
            for ahead in range(120):
                try:
                    taken = await asyncio.wait_for(self.budget.take(second + ahead), 1.0)
                except Exception as exc:  # the database is away: our own pace alone
                    if not self._budget_down:
                        log.warning("shared send pace unreachable (%s); pacing alone",
                                    type(exc).__name__)
                        self._budget_down = True
                    return
                if self._budget_down:
                    log.warning("shared send pace reachable again")
                    self._budget_down = False
                if taken:
                    if await self._wait_for_place(second + ahead, taken, lane):
                        return
                    break  # the answer came after its second ended: look again
            else:
                await self.sleep(1.0)  # two minutes fully booked: wait, then look again

    async def _wait_for_place(self, second: int, place: int, lane: Lane) -> bool:
        """Wait for the place-th slot of `second`, n/rate into it, so the workers' messages
        never reach Telegram in one burst; False if that second is already over."""
        now = self.wall()
        if lane is Lane.INSTRUCTION and second <= now:
            return True  # "call 112 now" takes a slot but neither its place nor a new one
        if now >= second + 1:
            return False
        at = second + (place - 1) * self.interval
        if at > now:
            await self.sleep(at - now)
        return True

    async def pause(self, seconds: float) -> None:
        """Nobody sends for `seconds` (after a 429)."""
        self._next = max(self._next, self.monotonic() + seconds)
        if self.budget is not None:
            now = int(self.wall())
            try:
                await asyncio.wait_for(self.budget.fill(now, now + int(seconds + 0.999)), 1.0)
            except Exception:  # the database is away: this worker still pauses
                log.warning("could not share the pause with the other workers")


def _chat(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
