"""Pacing under Telegram's limits, on virtual time (nothing here waits for real)."""

from __future__ import annotations

import asyncio
import bisect
import heapq
import itertools
from collections import Counter
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select
from telegram.error import RetryAfter

from bot.adapters.pacing import Pacer
from bot.store.budget import DatabaseBudget
from bot.store.db import Database
from bot.store.models import SendSlot

IO_WAIT = 0.001  # real seconds given to a database call before virtual time moves on


class VirtualTime:
    """monotonic/wall/sleep for a Pacer: sleepers wake in time order as `run` moves the clock."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self.in_io = 0  # calls to a real database under way: time stands still meanwhile

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._seq), wake))
        await wake

    async def run(self, *coroutines: Awaitable[Any]) -> None:
        """Run coroutines to the end, moving the clock to the next waker when all wait."""
        tasks = [asyncio.ensure_future(c) for c in coroutines]
        while not all(t.done() for t in tasks):
            for _ in range(20):  # let every task run until it waits
                await asyncio.sleep(0)
            if not self._sleepers or self.in_io:
                await asyncio.sleep(IO_WAIT)  # someone is in real I/O (the database)
                continue
            when, _, wake = heapq.heappop(self._sleepers)
            self.now = max(self.now, when)
            wake.set_result(None)
        for t in tasks:
            t.result()


def pacer(vt: VirtualTime, **kwargs: Any) -> Pacer:
    return Pacer(monotonic=vt.monotonic, wall=vt.wall, sleep=vt.sleep, **kwargs)


async def send(p: Pacer, log: list[tuple[float, int]], vt: VirtualTime, chat: int,
               endpoint: str = "sendMessage", **rla: Any) -> None:
    async def call() -> bool:
        log.append((vt.now, chat))
        return True

    await p.process_request(call, (), {}, endpoint, {"chat_id": chat}, rla or None)


async def test_messages_are_spaced_at_30_per_second() -> None:
    vt, log = VirtualTime(), []
    p = pacer(vt, per_second=30)
    start = vt.now
    await vt.run(*(send(p, log, vt, chat) for chat in range(900)))
    assert log[-1][0] - start == pytest.approx(899 / 30)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(log)]
    assert min(gaps) == pytest.approx(1 / 30)


async def test_one_message_a_second_per_chat_and_three_seconds_per_group() -> None:
    vt, log = VirtualTime(), []
    p = pacer(vt, per_second=30)
    await vt.run(*(send(p, log, vt, chat) for chat in [42, -100] * 3))
    private = [t for t, c in log if c == 42]
    group = [t for t, c in log if c == -100]
    assert [round(b - a, 3) for a, b in itertools.pairwise(private)] == [1.0, 1.0]
    assert [round(b - a, 3) for a, b in itertools.pairwise(group)] == [3.0, 3.0]


async def test_edits_keep_the_overall_pace_but_not_the_per_chat_gap() -> None:
    vt, log = VirtualTime(), []
    p = pacer(vt, per_second=30)
    await vt.run(send(p, log, vt, 7), send(p, log, vt, 7, endpoint="editMessageText"))
    assert log[1][0] - log[0][0] == pytest.approx(1 / 30)


async def test_the_instruction_does_not_wait_for_its_chat_s_gap() -> None:
    """A check-in went out a moment ago: "call 112 now" follows at once, a reply does not."""
    vt, log = VirtualTime(), []
    p = pacer(vt, per_second=30)
    await vt.run(send(p, log, vt, 7, lane="routine"), send(p, log, vt, 7, lane="instruction"))
    assert log[1][0] - log[0][0] == pytest.approx(1 / 30)
    log.clear()
    await vt.run(send(p, log, vt, 8, lane="routine"), send(p, log, vt, 8))
    assert log[1][0] - log[0][0] == pytest.approx(1.0)


async def test_lanes_emergencies_first_then_replies_then_routine_check_ins() -> None:
    vt = VirtualTime()
    p = pacer(vt, per_second=1)
    order: list[str] = []

    async def go(name: str, chat: int, **rla: Any) -> None:
        async def call() -> bool:
            order.append(name)
            return True

        await p.process_request(call, (), {}, "sendMessage", {"chat_id": chat}, rla or None)

    await vt.run(
        go("routine-1", 1, lane="routine"),
        go("routine-2", 2, lane="routine"),
        go("reply", 3),
        go("routine-3", 4, lane="routine"),
        go("emergency", 5, lane="emergency"),
    )
    # All wait together: the emergency first, then the reply, then the routine ones in order.
    assert order == ["emergency", "reply", "routine-1", "routine-2", "routine-3"]


async def test_429_pauses_everyone_then_retries_once() -> None:
    vt = VirtualTime()
    p = pacer(vt, per_second=30)
    calls: list[float] = []

    async def flaky() -> bool:
        calls.append(vt.now)
        if len(calls) == 1:
            raise RetryAfter(timedelta(seconds=7))
        return True

    await vt.run(p.process_request(flaky, (), {}, "sendMessage", {"chat_id": 1}, None))
    assert calls[1] - calls[0] >= 7
    log: list[tuple[float, int]] = []
    await vt.run(send(p, log, vt, 2))
    assert log[0][0] >= calls[0] + 7  # the pause held for the other chats too

    async def always_429() -> bool:
        raise RetryAfter(timedelta(seconds=1))

    with pytest.raises(RetryAfter):
        await vt.run(p.process_request(always_429, (), {}, "sendMessage", {"chat_id": 3}, None))


class TimedBudget:
    """A budget whose database calls take no virtual time: without it the clock ran on
    while PostgreSQL answered, and a slot answered "after its second" was taken again."""

    def __init__(self, inner: DatabaseBudget, vt: VirtualTime) -> None:
        self.inner, self.vt = inner, vt

    async def take(self, second: int) -> int | None:
        self.vt.in_io += 1
        try:
            return await self.inner.take(second)
        finally:
            self.vt.in_io -= 1

    async def fill(self, first: int, last: int) -> None:
        self.vt.in_io += 1
        try:
            await self.inner.fill(first, last)
        finally:
            self.vt.in_io -= 1


async def test_two_workers_share_one_pace_through_the_database(database: Database) -> None:
    vt = VirtualTime()
    budget = TimedBudget(DatabaseBudget(database, per_second=30), vt)
    workers = [pacer(vt, per_second=30, budget=budget) for _ in range(2)]
    log: list[tuple[float, int]] = []
    await vt.run(*(send(workers[i % 2], log, vt, chat=i) for i in range(240)))
    assert len(log) == 240
    async with database.unit_of_work() as uow:
        slots = (await uow.orm.exec(select(SendSlot))).all()
    assert sum(s.used for s in slots) == 240
    assert max(s.used for s in slots) <= 30  # two workers, one pace


class MemoryBudget:
    """The shared budget's contract, in memory (the database's is tested above)."""

    def __init__(self, per_second: int) -> None:
        self.per_second, self.used = per_second, Counter[int]()

    async def take(self, second: int) -> int | None:
        if self.used[second] >= self.per_second:
            return None
        self.used[second] += 1
        return self.used[second]

    async def fill(self, first: int, last: int) -> None:
        for second in range(first, last + 1):
            self.used[second] = self.per_second


async def test_workers_sharing_a_pace_spread_each_second_instead_of_bursting() -> None:
    vt = VirtualTime()
    budget = MemoryBudget(per_second=30)
    workers = [pacer(vt, per_second=30, budget=budget) for _ in range(3)]
    log: list[tuple[float, int]] = []
    await vt.run(*(send(workers[i % 3], log, vt, chat=i) for i in range(300)))
    times = sorted(t for t, _ in log)
    # Telegram counts on its own clock: a burst at each second's start would sit right
    # after the previous second's tail. Any half second holds about half a second's worth.
    assert max(bisect.bisect_left(times, t + 0.5) - i for i, t in enumerate(times)) <= 16
    assert times[-1] - times[0] == pytest.approx(299 / 30, abs=1.0)
