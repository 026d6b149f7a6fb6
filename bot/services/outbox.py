"""The outbox: everything the bot says to a person is a row first, written in the same
transaction as the change that caused it, then sent at once by the process that wrote it
(claimed by it, so nobody else sends it meanwhile) and, if that send fails or the process
dies, by the dispatcher, under the one delivery policy (`bot.core.delivery`).

While an update is handled (`Handling`), rows join the handling's transaction and go out
once it commits; so does the work handed to `later` (pages, toasts, pictures, the
dispatch after a consent), in the chat's lane when it names a chat, so a welcome always
precedes the check-in it announces.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from bot.core.callbacks import Button, Keyboard
from bot.core.delivery import Delivered, Failed, Kind, Lane, Retry, Unreachable
from bot.services.common import Deps, queued_outcome
from bot.services.lanes import Lanes
from bot.services.ports import DeliveryError, RateLimited, Reply, outcome_of
from bot.services.repositories import UnitOfWork
from bot.store.models import MEDIA_KINDS, OutboxKind, OutboxMessage, Status

log = logging.getLogger(__name__)
Later = Callable[[], Awaitable[None]]
IN_LANE_429S = 4  # 429s waited out in the chat's lane before the row goes back to the queue
MAX_IN_LANE_WAIT = 10.0  # seconds; a longer retry_after is waited out from the queue
RECORD_BATCH = 500  # outcomes per statement


@dataclass(slots=True)
class Handling:
    """What handling one update has produced so far (see `bot.services.inbox`)."""

    uow: UnitOfWork
    update_id: int
    instructed: bool = False  # its emergency instruction went out already, on receipt
    attempt: asyncio.Task[bool] | None = None  # the instruction's send on receipt, under way
    rows: list[OutboxMessage] = field(default_factory=list)
    later: list[tuple[int | None, Later]] = field(default_factory=list)
    failure: BaseException | None = None


HANDLING: ContextVar[Handling | None] = ContextVar("handling", default=None)


class Outbox:
    """Writes outbox rows and sends them, each chat in order, chats side by side."""

    def __init__(self, deps: Deps) -> None:
        self.d = deps
        self.lanes = Lanes("outbox")
        self._sending = asyncio.Semaphore(deps.send_concurrency)
        self._outcomes: list[tuple[int, datetime, dict[str, Any]]] = []
        self._recording = asyncio.Lock()
        self._queued: dict[int, OutboxMessage] = {}  # rows in this process's lanes
        self._detached: set[asyncio.Task[None]] = set()
        # instruction rows whose send on receipt was still under way when they were written
        self._after_attempt: dict[int, asyncio.Task[bool]] = {}

    async def say(
        self, chat_id: int, reply: Reply, *, emergency: bool = False,
        checkin_id: int | None = None,
    ) -> None:
        """A message to `chat_id` (the emergency instruction in the highest lane)."""
        kind = OutboxKind.EMERGENCY if emergency else OutboxKind.REPLY
        await self._write(chat_id, reply, kind, checkin_id=checkin_id)

    async def queue(
        self, uow: UnitOfWork, chat_id: int, reply: Reply, now: datetime, *,
        edit_message_id: int | None = None,
    ) -> None:
        """A message (or, with `edit_message_id`, an edit of one) written in `uow`'s
        transaction for the dispatcher to send: from a tick's own transaction, where no
        handling is under way, or wherever the caller holds the transaction."""
        await uow.insert_rows(OutboxMessage, [{
            "chat_id": chat_id, "text": reply.text, "edit_message_id": edit_message_id,
            "kind": OutboxKind.EDIT if edit_message_id is not None else OutboxKind.REPLY,
            "keyboard": _stored(reply.keyboard), "created_at": now,
            "current_until": now + self.d.reply_current_for, "due_at": now,
            "status": Status.PENDING, "attempts": 0,
        }])

    async def edit(self, chat_id: int, message_id: int, reply: Reply) -> None:
        """Replace a message's text and buttons."""
        await self._write(chat_id, reply, OutboxKind.EDIT, edit_message_id=message_id)

    async def edit_in(
        self, uow: UnitOfWork, chat_id: int, message_id: int, reply: Reply, now: datetime
    ) -> None:
        """An edit written in `uow`'s transaction: sent at once after the handling commits
        (the handling's transaction is `uow`), else left for the dispatcher."""
        if HANDLING.get() is not None:
            await self.edit(chat_id, message_id, reply)
        else:
            await self.queue(uow, chat_id, reply, now, edit_message_id=message_id)

    async def later(self, work: Later, *, chat_id: int | None = None) -> None:
        """Run `work` once the handling commits (at once outside a handling); in the chat's
        lane when `chat_id` is given, after what was written for that chat."""
        handling = HANDLING.get()
        if handling is not None:
            handling.later.append((chat_id, work))
        elif chat_id is not None:
            self.lanes.submit(chat_id, work)
        else:
            await work()

    async def send_file(
        self, chat_id: int, kind: str, data: bytes, caption: str = "", *,
        filename: str | None = None, patient_id: int | None = None,
    ) -> None:
        """A picture, a file or a voice note (`OutboxKind`), after what was written for the
        chat: a row like any message, kept until delivered (a patient's, cancelled if they
        are erased first)."""
        assert kind in MEDIA_KINDS
        await self._write(chat_id, Reply(caption), kind, media=(data, filename, patient_id))

    async def _write(
        self, chat_id: int, reply: Reply, kind: str, *,
        edit_message_id: int | None = None, checkin_id: int | None = None,
        media: tuple[bytes, str | None, int | None] | None = None,
    ) -> None:
        now = self.d.clock.now()
        values: dict[str, Any] = {
            "chat_id": chat_id, "kind": kind, "text": reply.text,
            "keyboard": _stored(reply.keyboard), "edit_message_id": edit_message_id,
            "checkin_id": checkin_id, "created_at": now,
            **({"media": media[0], "filename": media[1], "patient_id": media[2]}
               if media is not None else {}),
            "current_until": now + self.d.reply_current_for, "due_at": now,
            "status": Status.CLAIMED, "claimed_at": now, "claimed_by": self.d.liveness.id,
            "attempts": 1,
        }
        handling = HANDLING.get()
        if handling is not None and kind == OutboxKind.EMERGENCY and handling.instructed:
            values |= {"status": Status.SENT, "sent_at": now, "text": "", "keyboard": None,
                       "reason": "sent on receipt, before the update was handled"}
        # A plain-row insert: a reply is on every update's path, the ORM's flush is not.
        if handling is not None:
            (row_id,) = await handling.uow.insert_rows(OutboxMessage, [values])
        else:
            async with self.d.store.unit_of_work() as uow:
                (row_id,) = await uow.insert_rows(OutboxMessage, [values])
        if values["status"] != Status.CLAIMED:
            return
        row = OutboxMessage(id=row_id, **values)
        if handling is not None:
            handling.rows.append(row)
        else:
            self._submit(row)

    @contextlib.asynccontextmanager
    async def acting(self) -> AsyncIterator[None]:
        """One transaction for an action that is not an update (a console click): its
        effects and what it says commit together, and what it says is sent once they have.
        Units of work opened inside join it."""
        async with self.d.store.handling() as uow:
            handling = Handling(uow, 0)
            token = HANDLING.set(handling)
            try:
                yield
            finally:
                HANDLING.reset(token)
        self.committed(handling)

    def committed(self, handling: Handling) -> None:
        """The handling committed: send what it wrote, then run what it left for later."""
        for row in handling.rows:
            if row.kind == OutboxKind.EMERGENCY and handling.attempt is not None:
                assert row.id is not None
                self._after_attempt[row.id] = handling.attempt
            self._submit(row)
        chatless = [work for chat_id, work in handling.later if chat_id is None]
        for chat_id, work in handling.later:
            if chat_id is not None:
                self.lanes.submit(chat_id, work)
        if chatless:  # pages, toasts, a photo for the clinicians: in order, beside the lanes
            task = asyncio.create_task(self._in_order(chatless))
            self._detached.add(task)
            task.add_done_callback(self._detached.discard)

    @staticmethod
    async def _in_order(works: list[Later]) -> None:
        for work in works:
            try:
                await work()
            except Exception:  # each work records its own outcome; a failure is only logged
                log.exception("work after a commit failed")

    async def idle(self) -> None:
        """Wait until everything queued here has been sent (tests, the demo)."""
        while len(self.lanes) or self._detached:
            await self.lanes.idle()
            if self._detached:
                await asyncio.wait(set(self._detached))

    def _submit(self, row: OutboxMessage) -> None:
        assert row.id is not None
        self._queued[row.id] = row
        self.lanes.submit(
            row.chat_id, partial(self._send, row), urgent=row.kind == OutboxKind.EMERGENCY
        )

    async def close(self, grace: float) -> None:
        """Let what is queued go out for up to `grace` s, then record the outcomes known."""
        await self.lanes.close(grace)
        if self._detached:
            await asyncio.wait(set(self._detached), timeout=grace)
        with contextlib.suppress(TimeoutError):  # the database may be away: claims lapse
            await asyncio.wait_for(self._record(), grace)

    async def deliver_due(self) -> int:
        """The dispatcher's part: claim rows whose send failed or whose writer died, and
        queue them in their chats' lanes (oldest first); how many."""
        now = self.d.clock.now()
        async with self.d.store.unit_of_work() as uow:
            rows = await uow.queue.claim_due(
                OutboxMessage, now, limit=self.d.claim_batch, lease=self.d.claim_lease,
                holder=self.d.holder(now),
            )
        fresh = []
        for row in rows:
            queued = self._queued.get(row.id or 0)
            if queued is None:
                fresh.append(row)
                self._submit(row)
            else:  # waited here past its lease: the copy in the lane takes the new claim
                queued.claimed_at, queued.attempts = row.claimed_at, row.attempts
        return len(fresh)

    async def _send(self, row: OutboxMessage) -> None:
        assert row.id is not None and row.claimed_at is not None
        try:
            attempt = self._after_attempt.pop(row.id, None)
            if attempt is not None and await _delivered(attempt):
                await self._finish(row, {"status": Status.SENT, "sent_at": self.d.clock.now(),
                                         "text": "", "keyboard": None,
                                         "reason": "sent on receipt, before the update was "
                                                   "handled"})
                return
            await self._deliver(row)
        finally:
            self._queued.pop(row.id, None)

    async def _deliver(self, row: OutboxMessage) -> None:
        assert row.id is not None and row.claimed_at is not None
        now = self.d.clock.now()
        if now > row.current_until:
            await self._finish(row, {"status": Status.SKIPPED, "reason": "no longer current",
                                     **_cleared(row)})
            return
        if now - row.claimed_at > self.d.claim_lease / 2 and not await self._renew(row, now):
            return  # it waited in its lane long enough to be taken back: the new holder sends
        kind = Kind.INSTRUCTION if row.kind == OutboxKind.EMERGENCY else Kind.REPLY
        for _ in range(IN_LANE_429S):  # a short 429 is waited out here, keeping the order
            try:
                message_id = await self._attempt(row, kind)
            except RateLimited as exc:
                urgent_waits = self.lanes.has_urgent(row.chat_id)
                if exc.retry_after > MAX_IN_LANE_WAIT or urgent_waits:
                    await self._failed(row, kind, exc, now)
                    return
                await asyncio.sleep(exc.retry_after)
            except DeliveryError as exc:
                await self._failed(row, kind, exc, now)
                return
            else:
                break
        else:
            await self._failed(row, kind, RateLimited(1.0), now)
            return
        await self._finish(row, {"status": Status.SENT, "sent_at": now,
                                 "message_id": message_id, **_cleared(row)},
                           screen=row.checkin_id)

    async def _attempt(self, row: OutboxMessage, kind: Kind) -> int:
        """One try; the message's id. The emergency instruction does not queue behind other
        sends for a slot of `send_concurrency` (the pacer still puts it first)."""
        gate = contextlib.nullcontext() if kind is Kind.INSTRUCTION else self._sending
        keyboard = _keyboard(row.keyboard)
        async with gate:  # bounds the sends in flight (what a kill can repeat)
            if row.kind in MEDIA_KINDS:
                return await self._send_file(row)
            if row.kind == OutboxKind.EDIT:
                assert row.edit_message_id is not None
                await self.d.messenger.edit(row.chat_id, row.edit_message_id, row.text,
                                            keyboard)
                return row.edit_message_id
            lane = Lane.INSTRUCTION if kind is Kind.INSTRUCTION else Lane.NORMAL
            return await self.d.messenger.send(row.chat_id, row.text, keyboard, lane=lane)

    async def _send_file(self, row: OutboxMessage) -> int:
        assert row.media is not None
        messenger, caption = self.d.messenger, row.text or None
        if row.kind == OutboxKind.PHOTO:
            return await messenger.send_photo(row.chat_id, row.media, caption)
        if row.kind == OutboxKind.VOICE:
            return await messenger.send_voice(row.chat_id, row.media, caption)
        return await messenger.send_document(row.chat_id, row.media, row.filename or "file",
                                             caption)

    async def _renew(self, row: OutboxMessage, now: datetime) -> bool:
        """Restart the claim of a row that waited long in its lane; False if it was lost."""
        assert row.id is not None and row.claimed_at is not None
        try:
            async with self.d.store.claims() as claims:
                held = await claims.renew(OutboxMessage, row.id, row.claimed_at, now)
        except Exception as exc:
            if not self.d.store.is_outage(exc):
                raise
            return True  # nobody can take it back either while the database is away
        if held:
            row.claimed_at = now
        return held

    async def _failed(
        self, row: OutboxMessage, kind: Kind, exc: DeliveryError, now: datetime
    ) -> None:
        decision = self.d.policy.decide(
            kind, outcome_of(exc), attempts=row.attempts, now=now,
            retry_after=getattr(exc, "retry_after", 0.0), error=str(exc),
        )
        outcome = queued_outcome(decision, now, row.attempts)
        if isinstance(decision, Delivered) and outcome is not None:
            outcome |= _cleared(row)
        if outcome is None:
            assert isinstance(decision, Failed | Unreachable)
            reason = decision.reason if isinstance(decision, Failed) else "blocked the bot"
            outcome = {"status": Status.FAILED, "reason": reason, **_cleared(row)}
            log.warning("outbox message %s to chat %s failed: %s", row.id, row.chat_id, reason)
        elif isinstance(decision, Retry) and kind is Kind.INSTRUCTION:
            log.warning("emergency instruction %s not delivered yet: %s", row.id, exc)
        await self._finish(row, outcome)

    async def _finish(
        self, row: OutboxMessage, values: dict[str, object], *, screen: int | None = None
    ) -> None:
        """Record a row's outcome (fenced by its claim); a database outage is survived: the
        claim lapses and the row is looked at again."""
        assert row.id is not None and row.claimed_at is not None
        if screen is None:
            self._outcomes.append((row.id, row.claimed_at, values))
            await self._record()
            return
        try:
            async with self.d.store.unit_of_work() as uow:
                held = await uow.queue.finish(OutboxMessage, row.id, row.claimed_at, **values)
                if held and isinstance(values.get("message_id"), int):
                    await uow.inbox.sent_screen(screen, int(str(values["message_id"])))
        except Exception as exc:
            if not self.d.store.is_outage(exc):
                raise
            log.warning("outbox message %s: outcome not recorded (database away)", row.id)

    async def _record(self) -> None:
        """Write the outcomes waiting, one writer at a time: it also takes those that pile
        up while it writes (one statement per batch under load, at once when idle)."""
        if self._recording.locked():
            return
        async with self._recording:
            while self._outcomes:
                batch = self._outcomes[:RECORD_BATCH]
                del self._outcomes[:RECORD_BATCH]
                try:
                    async with self.d.store.claims() as claims:
                        await claims.finish_many(OutboxMessage, batch)
                except BaseException as exc:
                    # Kept, and written once the database is back (a lost outcome would
                    # send the message again).
                    self._outcomes[:0] = batch
                    if not isinstance(exc, Exception) or not self.d.store.is_outage(exc):
                        raise
                    log.warning("%s outbox outcome(s) wait for the database", len(batch))
                    await asyncio.sleep(1)


async def _delivered(attempt: asyncio.Task[bool]) -> bool:
    """Whether a send on receipt delivered (one that failed oddly counts as not: a second
    instruction costs less than none)."""
    try:
        return await asyncio.shield(attempt)
    except Exception:
        return False


def _cleared(row: OutboxMessage) -> dict[str, Any]:
    """What a settled row forgets: its words, buttons and bytes."""
    return {"text": "", "keyboard": None} | ({"media": None} if row.media is not None else {})


def _stored(keyboard: Keyboard | None) -> list[list[list[str]]] | None:
    if not keyboard:
        return None
    return [[[b.label, b.data] for b in row] for row in keyboard]


def _keyboard(stored: list[list[list[str]]] | None) -> Keyboard | None:
    if not stored:
        return None
    return tuple(tuple(Button(label, data) for label, data in row) for row in stored)
