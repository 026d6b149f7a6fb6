"""The ports of the delivery queue and the inbox: claims, fenced writes, heartbeats, stored
updates (see `bot.services.repositories` for the unit of work that holds them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypeVar

from bot.store.models import (
    CheckIn,
    Claimed,
    Digest,
    Holder,
    InboxUpdate,
    OutboxMessage,
    Ping,
    Recipient,
    Worker,
)

Row = TypeVar("Row", CheckIn, Ping, Digest, OutboxMessage, InboxUpdate)


class ClaimWrites(Protocol):
    """Fenced writes on claimed rows (check-ins, pings, summaries): each holds only while the
    claim it names does."""

    async def renew(
        self, model: type[Row], row_id: int, claimed_at: datetime, now: datetime
    ) -> bool:
        """Restart a claim's lease from `now`, if the claim taken at `claimed_at` holds."""
        ...

    async def finish(
        self, model: type[Row], row_id: int, claimed_at: datetime, **values: Any
    ) -> bool:
        """Record a claimed row's outcome, only if our claim still holds."""
        ...

    async def finish_many(
        self, model: type[Row], outcomes: Sequence[tuple[int, datetime, dict[str, Any]]]
    ) -> None:
        """`finish` for many rows at once."""
        ...


class Queue(Protocol):
    """The delivery queue: claims on due rows and the shared send pace."""

    async def claim_due(
        self,
        model: type[Row],
        now: datetime,
        *,
        limit: int,
        lease: timedelta,
        holder: Holder | None = None,
        ids: Sequence[int] | None = None,
        patient_id: int | None = None,
        escalation_id: int | None = None,
    ) -> list[Row]:
        """Claim up to `limit` due rows in one statement; expired claims (up to `limit` more)
        are taken back.

        On PostgreSQL the inner select locks with SKIP LOCKED so concurrent dispatchers
        never claim the same row; SQLite has one writer at a time, which gives the same.
        """
        ...

    async def claim_checkins(
        self,
        now: datetime,
        *,
        limit: int,
        lease: timedelta,
        holder: Holder | None = None,
        patient_id: int | None = None,
    ) -> list[tuple[Claimed, date | None]]:
        """`claim_due` for check-ins, as plain rows (a tick claims hundreds), each with the
        local date of its patient's next live scheduled check-in after it (None if there is
        none): it bounds how long the claimed one stays worth sending. Read in the claiming
        statement itself.
        """
        ...

    async def claims(self) -> ClaimWrites:
        """Fenced writes on claimed rows, in this transaction."""
        ...

    async def finish(
        self, model: type[Row], row_id: int, claimed_at: datetime, **values: Any
    ) -> bool:
        """`Claims.finish` in this transaction."""
        ...

    async def recipients(self, ids: Sequence[int] | set[int]) -> dict[int, Recipient]:
        """The patients' status, chat and zone, by id (no ORM objects: a tick reads many)."""
        ...

    async def take_send_slot(self, second: int, limit: int) -> int | None:
        """Count one message against `second`: its place in it (1 is first), or None if
        that second is already full."""
        ...

    async def fill_send_slots(self, first: int, last: int, limit: int) -> None:
        """Mark seconds as full (after a 429: nobody sends until Telegram's retry_after)."""
        ...

    async def prune_send_slots(self, before: int) -> None: ...

    async def retire(self, worker_id: str) -> None:
        """A worker stopping cleanly: its heartbeat is made old, so whatever it still holds
        is taken back by the next claim of any worker, not after a lease."""
        ...

    async def beat(self, worker: Worker) -> None:
        """Record a worker's heartbeat."""
        ...

    async def forget_workers(self, silent_since: datetime) -> None: ...

    async def wake_one(self, now: datetime) -> bool:
        """The first row waiting out a transient failure is due now (a canary)."""
        ...

    async def reset_backoff(self, now: datetime) -> int:
        """Rows waiting out a transient failure are due now; how many."""
        ...


class Inbox(Protocol):
    """Incoming updates, and the outbox rows' side effects."""

    async def chats_with_unsent(self, chats: set[int]) -> set[int]:
        """Those of `chats` with something said to them not sent yet (a welcome, a reply)."""
        ...

    async def store(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert updates not stored yet (an update stored twice is stored once)."""
        ...

    async def held_by(self, worker: str, update_ids: Sequence[int]) -> list[InboxUpdate]:
        """Those of `update_ids` claimed by `worker`."""
        ...

    async def claim(
        self, now: datetime, *, limit: int, lease: timedelta, holder: Holder
    ) -> list[InboxUpdate]: ...

    async def first_undone(self, chat_ids: Sequence[int], held: Sequence[int]) -> dict[int, int]:
        """Per chat, its oldest update not done and not among `held`."""
        ...

    async def mark_instructed(self, update_id: int) -> None: ...

    async def backlog(self) -> tuple[int, datetime | None]: ...

    async def sent_screen(self, checkin_id: int, message_id: int) -> None: ...

    async def erase_chat(self, chat_id: int) -> None: ...

    async def erase_media_of(self, patient_id: int) -> None: ...

    async def prune(self, before: datetime) -> int:
        """Delete handled updates and settled outbox rows older than `before`."""
        ...

    async def outbox_pending(self) -> int: ...
