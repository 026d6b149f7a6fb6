"""The inbox: every update is stored before Telegram is told it arrived, then handled.

1. `receive` stores updates (an update stored twice is stored once); the receiver (polling
   or webhook) confirms them to Telegram only after that.
2. `run` claims stored updates (several workers share them, as they share the queue) and
   hands each chat's to its lane: chats side by side, each chat in order. A chat's updates
   are handled only up to the first one another worker holds.
3. Handling runs in one transaction (`UnitsOfWork.handling`): the update's effects, the
   outbox rows they wrote and its "done" mark commit together, so an update handled twice
   has one effect. The outbox sends once that commits.
4. A failure rolls everything back. A database outage is not the update's fault: it is
   retried, uncounted, and a red flag in it is answered from memory meanwhile. Any other
   failure counts; after `inbox_attempts` the update is parked with its error (type only)
   and the chat goes on: the backoff keeps that under a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from bot.services.common import Deps
from bot.services.lanes import Gate, Lanes
from bot.services.lifeline import Lifeline
from bot.services.outbound import Outbound
from bot.services.outbox import HANDLING, Handling
from bot.store.models import InboxStatus, InboxUpdate

log = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any]], Awaitable[None]]
IDLE_LOOK = 0.5  # seconds between looks for updates other workers stored, or retries due
BATCH = 200
STALL = timedelta(minutes=1)  # the longest a chat waits for a failed update's retries
HANDLING_AT_ONCE = 8
HOLD = 2 * BATCH  # claimed updates waiting in lanes before claiming more
PER_CHAT = 25  # of them from one chat (a flood)
OVERFLOW_WAIT = 5  # seconds before a flooding chat's next updates are looked at again
KEEP = timedelta(days=7)  # handled updates and delivered messages, for the clinic's log


class Inbox:
    """Stores updates, then handles them chat by chat."""

    def __init__(self, deps: Deps, outbound: Outbound, lifeline: Lifeline) -> None:
        self.d = deps
        self.outbound = outbound
        self.outbox = outbound.outbox
        self.lifeline = lifeline
        self.lanes = Lanes("inbox")
        # Handlings reaching the database at once (SQLite has one connection: more would
        # only queue there, where a red flag could not go first).
        self._gate = Gate(HANDLING_AT_ONCE)
        self.handler: Handler | None = None  # bound by the composition root
        # Slow work an update needs (a voice note's download and transcript), done before
        # its transaction opens so that it holds no database connection.
        self.prepare: Callable[[dict[str, Any]], Awaitable[None]] | None = None
        self._wake = asyncio.Event()
        # Claimed rows queued or being handled here: id -> chat.
        self._held: dict[int, int] = {}
        # chat: its oldest update waiting for a retry here, and until when to wait for it
        self._stalled: dict[int, tuple[int, datetime]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def receive(self, updates: Sequence[dict[str, Any]]) -> None:
        """Store updates as received (raises if the database cannot take them: the caller
        must then not confirm them to Telegram). Red flags among them are answered at once,
        whatever the database does (`Lifeline`)."""
        self.lifeline.start(list(updates))
        now = self.d.clock.now()
        me = self.d.liveness.id
        # A red flag whose instruction is on its way from here is stored claimed by this
        # worker, so that no other worker handles it meanwhile and instructs a second time.
        sending = [u["update_id"] for u in updates if self.lifeline.attempt(u["update_id"])]
        mine = {"status": InboxStatus.CLAIMED, "claimed_at": now, "claimed_by": me,
                "attempts": 1}
        rows = [
            {"update_id": u["update_id"], "chat_id": chat_of(u), "payload": u,
             "received_at": now, "due_at": now,
             "instructed": self.lifeline.answered(u["update_id"])}
            | (mine if u["update_id"] in sending else {})
            for u in updates
        ]
        async with self.d.store.unit_of_work() as uow:
            await uow.inbox.store(rows)
            # By update, not by this claim's time: an update stored claimed by an earlier
            # receive whose commit was cut short is taken on here too.
            held = await uow.inbox.held_by(me, sending) if sending else []
        for row in held:
            assert row.id is not None
            if row.id in self._held:
                continue
            self._held[row.id] = row.chat_id or 0
            self.lanes.submit(row.chat_id or 0, partial(self._handle, row))
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Handle stored updates until `stop` is set (claiming no more than it can hold)."""
        while not stop.is_set():
            try:
                claimed = await self.take() if len(self._held) < HOLD else 0
            except Exception as exc:
                if not self.d.store.is_outage(exc):
                    log.exception("inbox: claiming failed")
                claimed = 0
            if claimed:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_LOOK)

    async def drain(self) -> None:
        """Handle everything stored, and send what it said (tests, the demo)."""
        while await self.take() or len(self.lanes):
            await self.lanes.idle()
        await self.outbox.idle()

    async def take(self) -> int:
        """Claim a batch of due updates and queue them in their chats' lanes; how many."""
        now = self.d.clock.now()
        holder = self.d.holder(now)
        async with self.d.store.unit_of_work() as uow:
            rows = await uow.inbox.claim(
                now, limit=BATCH, lease=self.d.claim_lease, holder=holder
            )
            rows = [r for r in rows if r.id not in self._held]
            chats = sorted({r.chat_id for r in rows if r.chat_id is not None})
            ours = set(self._held) | {r.id for r in rows if r.id is not None}
            first = await uow.inbox.first_undone(chats, sorted(ours))
        # Red flags first: their chats' lanes start (and reach the database) before a burst
        # of routine updates claimed with them.
        flags = {r.id for r in rows if r.payload and self.lifeline.is_red_flag(r.payload)}
        urgent = {r.chat_id for r in rows if r.id in flags}
        rows.sort(key=lambda r: r.chat_id not in urgent)
        self._forget_stalls(first, now)
        per_chat = Counter(self._held.values())
        for row in rows:
            assert row.id is not None
            chat = row.chat_id or 0
            limit = first.get(row.chat_id) if row.chat_id is not None else None
            # A red flag never waits behind an older update of its chat (it is paged now).
            # One chat's flood is held here only up to PER_CHAT: it must not fill the hold
            # and keep every other chat's updates unclaimed until it drains.
            behind = limit is not None and row.id > limit
            if row.id not in flags and (behind or per_chat[chat] >= PER_CHAT):
                later = timedelta(seconds=1 if behind else OVERFLOW_WAIT)
                self._background(self._settle(row, status=InboxStatus.PENDING,
                                              due_at=now + later, attempts=row.attempts - 1))
                continue
            per_chat[chat] += 1
            self._held[row.id] = chat
            self.lanes.submit(chat, partial(self._handle, row))
        return len(rows)

    def _forget_stalls(self, first: dict[int, int], now: datetime) -> None:
        """Chats no longer waiting: their failed update was handled (here or elsewhere),
        parked, or waited for long enough."""
        for chat, (row_id, until) in list(self._stalled.items()):
            oldest = first.get(chat)
            if until < now or (chat in first and oldest is not None and oldest > row_id):
                del self._stalled[chat]

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, row: InboxUpdate) -> None:
        assert row.id is not None and row.claimed_at is not None and self.handler is not None
        chat = row.chat_id if row.chat_id is not None else 0
        try:
            stalled = self._stalled.get(chat)
            red_flag = bool(row.payload) and self.lifeline.is_red_flag(row.payload or {})
            if stalled is not None and stalled[1] < self.d.clock.now():
                del self._stalled[chat]  # (another worker may have taken it on)
            elif stalled is not None and stalled[0] < row.id and not red_flag:
                await self._settle(row, status=InboxStatus.PENDING, attempts=row.attempts - 1,
                                   due_at=self.d.clock.now() + timedelta(seconds=1))
                return
            try:
                handling = await self._in_transaction(row, urgent=red_flag)
            except Exception as exc:
                if await self._failed(row, exc):
                    oldest = min(self._stalled.get(chat, (row.id, None))[0], row.id)
                    self._stalled[chat] = (oldest, self.d.clock.now() + STALL)
                elif self._stalled.get(chat, (None,))[0] == row.id:
                    del self._stalled[chat]
            else:
                if self._stalled.get(chat, (None,))[0] == row.id:
                    del self._stalled[chat]
                self.outbox.committed(handling)
                self.lifeline.handled(row.update_id)
        finally:
            self._held.pop(row.id, None)

    async def _in_transaction(self, row: InboxUpdate, *, urgent: bool = False) -> Handling:
        assert row.id is not None and row.claimed_at is not None and self.handler is not None
        payload = row.payload or {}
        instructed = row.instructed or await self.lifeline.settled(row.update_id)
        if self.prepare is not None:
            await self.prepare(payload)
        async with self._gate.slot(urgent=urgent), self.d.store.handling() as uow:
            # Read together (no await between): an attempt ends either delivered or not.
            attempt = self.lifeline.attempt(row.update_id)
            instructed = instructed or self.lifeline.answered(row.update_id)
            handling = Handling(uow, row.update_id, instructed=instructed, attempt=attempt)
            token = HANDLING.set(handling)
            try:
                await self.handler(payload)
            finally:
                HANDLING.reset(token)
            if handling.failure is not None:
                raise handling.failure
            done = await uow.queue.finish(
                InboxUpdate, row.id, row.claimed_at, status=InboxStatus.DONE,
                done_at=self.d.clock.now(), payload=None, error=None,
            )
            if not done:
                raise LostClaim(f"update {row.update_id} was taken back")
        return handling

    async def _failed(self, row: InboxUpdate, error: BaseException) -> bool:
        """Roll-back aftermath; True if the update will be tried again."""
        now = self.d.clock.now()
        if isinstance(error, LostClaim):
            log.warning("inbox: %s; its new holder handles it", error)
            return False
        if row.payload and not row.instructed:  # whatever failed, a red flag is answered
            self.lifeline.start([row.payload])
        # Uncounted while the database is away for everyone; an "outage" only this update
        # meets (a statement timing out, say) counts like any failure, or it would hold
        # its chat for good.
        if self.d.store.is_outage(error) and not self.d.liveness.database_up():
            await self._settle(row, status=InboxStatus.PENDING, attempts=row.attempts - 1,
                               due_at=now + timedelta(seconds=2))
            return True
        name = type(error).__name__
        if self.d.store.is_outage(error):  # the database's trouble, not a bug: one line
            log.warning("inbox: update %s met %s, attempt %s", row.update_id, name,
                        row.attempts)
        else:
            log.error("inbox: update %s failed (%s), attempt %s", row.update_id, name,
                      row.attempts, exc_info=(type(error), error, error.__traceback__))
        if row.attempts < self.d.inbox_attempts:
            delay = timedelta(seconds=2 ** row.attempts)  # 2+4+8+16 s: under a minute
            await self._settle(row, status=InboxStatus.PENDING, due_at=now + delay, error=name)
            return True
        log.error("inbox: update %s parked after %s attempts (%s)", row.update_id,
                  row.attempts, name)
        await self._settle(row, status=InboxStatus.PARKED, error=name, done_at=now)
        if row.chat_id is not None and row.chat_id > 0:
            await self.outbound.say(row.chat_id, "internal_error")
        return False

    async def _settle(self, row: InboxUpdate, **values: Any) -> None:
        """Record a claimed row's new state; during an outage, keep trying in the
        background (the claim also lapses with this worker's heartbeat or lease)."""
        assert row.id is not None and row.claimed_at is not None
        for pause in (0, 1, 2, 4, 8, 15, 30, 60):
            await asyncio.sleep(pause)
            try:
                async with self.d.store.claims() as claims:
                    await claims.finish(InboxUpdate, row.id, row.claimed_at, **values)
            except Exception as exc:
                if not self.d.store.is_outage(exc):
                    raise
            else:
                return
        log.error("inbox: update %s could not be set back (database away); its claim "
                  "lapses", row.update_id)

    async def prune(self) -> int:
        """Forget handled updates and settled outbox rows after a week (their effects are
        the record); how many."""
        async with self.d.store.unit_of_work() as uow:
            return await uow.inbox.prune(self.d.clock.now() - KEEP)

    @staticmethod
    def failed_in_handler(error: BaseException) -> bool:
        """Called by the error handler: True if an update is being handled here, whose
        failure now belongs to the inbox (rolled back, retried or parked)."""
        handling = HANDLING.get()
        if handling is None:
            return False
        handling.failure = error
        return True


class LostClaim(Exception):
    """Another worker took the update back (this one looked dead): its effects are undone."""


def chat_of(update: dict[str, Any]) -> int | None:
    """The chat an update belongs to (its sender's, for presses and the like)."""
    for key in ("message", "edited_message", "channel_post", "edited_channel_post",
                "business_message", "my_chat_member", "chat_member", "chat_join_request"):
        body = update.get(key)
        if isinstance(body, dict) and isinstance(body.get("chat"), dict):
            chat_id = body["chat"].get("id")
            return chat_id if isinstance(chat_id, int) else None
    for body in update.values():
        if isinstance(body, dict):
            sender = body.get("from")
            if isinstance(sender, dict) and isinstance(sender.get("id"), int):
                return int(sender["id"])
    return None
