"""The inbox: updates as Telegram sent them, stored before Telegram is told they arrived,
then claimed and handled like any queued row; and the outbox rows' bookkeeping."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select

from bot.store.models import (
    CheckIn,
    Holder,
    InboxStatus,
    InboxUpdate,
    OutboxKind,
    OutboxMessage,
    Status,
)
from bot.store.queue import _claim, _claim_params
from bot.store.sql import SqlRepository, built

UNDONE = (InboxStatus.PENDING, InboxStatus.CLAIMED)


_UNSENT_CHATS = (
    select(OutboxMessage.chat_id)
    .where(col(OutboxMessage.chat_id).in_(bindparam("chats", expanding=True)),
           col(OutboxMessage.status).in_([Status.PENDING, Status.CLAIMED]))
    .distinct()
)


class InboxRepository(SqlRepository):
    """Incoming updates, and the outbox rows' side effects."""

    async def chats_with_unsent(self, chats: set[int]) -> set[int]:
        """Those of `chats` with something said to them not sent yet (a welcome, a reply)."""
        if not chats:
            return set()
        connection = await self._conn()
        result = await connection.execute(_UNSENT_CHATS, {"chats": list(chats)})
        return {row[0] for row in result}


    async def store(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert updates not stored yet (an update stored twice is stored once); how many
        were new."""
        if not rows:
            return 0
        connection = await self._conn()
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(InboxUpdate).on_conflict_do_nothing(index_elements=["update_id"])
        full = [
            {"chat_id": None, "payload": None, "attempts": 0, "status": InboxStatus.PENDING,
             "instructed": False, "claimed_at": None, "claimed_by": None, "done_at": None,
             "error": None} | row
            for row in rows
        ]
        result = await connection.execute(stmt, full)
        return max(result.rowcount, 0) if len(full) == 1 else len(full)

    async def held_by(self, worker: str, update_ids: Sequence[int]) -> list[InboxUpdate]:
        """Those of `update_ids` claimed by `worker` (an update stored before, by anyone,
        keeps its row and its claim)."""
        stmt = select(InboxUpdate).where(
            col(InboxUpdate.update_id).in_(list(update_ids)),
            col(InboxUpdate.status) == InboxStatus.CLAIMED,
            col(InboxUpdate.claimed_by) == worker,
        )
        return sorted((await self._orm.exec(stmt)).all(), key=lambda r: r.id or 0)

    async def claim(
        self, now: datetime, *, limit: int, lease: timedelta, holder: Holder
    ) -> list[InboxUpdate]:
        """Claim up to `limit` due updates, oldest first (expired claims and dead workers'
        claims come back)."""
        params = _claim_params(now, limit, lease, holder)
        stmt = built(("claim", InboxUpdate, *sorted(params)), _claim, InboxUpdate, params)
        result = await self._orm.exec(stmt, params=params)
        return sorted(result.scalars().all(), key=lambda r: r.id or 0)

    async def first_undone(self, chat_ids: Sequence[int], held: Sequence[int]) -> dict[int, int]:
        """Per chat, the id of its oldest update not done and not among `held` (those a
        worker has in hand): it handles a chat's updates only up to there, so each chat
        stays in order, behind a retry or another worker's claim."""
        if not chat_ids:
            return {}
        stmt = built(("first_undone",), _first_undone)
        connection = await self._conn()
        result = await connection.execute(stmt, {"chats": list(chat_ids), "held": list(held)})
        return {int(chat): int(first) for chat, first in result}

    async def mark_instructed(self, update_id: int) -> None:
        """The update's emergency instruction went out on receipt (for any worker that
        handles it)."""
        connection = await self._conn()
        await connection.execute(
            update(InboxUpdate).where(col(InboxUpdate.update_id) == update_id)
            .values(instructed=True)
        )

    async def backlog(self) -> tuple[int, datetime | None]:
        """Updates not handled yet, and when the oldest arrived."""
        stmt = select(func.count(), func.min(col(InboxUpdate.received_at))).where(
            col(InboxUpdate.status).in_(UNDONE)
        )
        count, oldest = (await self._orm.exec(stmt)).one()
        return int(count), oldest

    async def sent_screen(self, checkin_id: int, message_id: int) -> None:
        """A check-in screen sent from the outbox: the message its buttons will edit."""
        connection = await self._conn()
        await connection.execute(
            update(CheckIn).where(col(CheckIn.id) == checkin_id).values(message_id=message_id)
        )

    async def erase_chat(self, chat_id: int) -> None:
        """Forget the words still kept for a chat (handled updates and delivered messages
        are cleared already): parked updates', and messages not sent yet, cancelled."""
        connection = await self._conn()
        await connection.execute(
            update(InboxUpdate)
            .where(col(InboxUpdate.chat_id) == chat_id,
                   col(InboxUpdate.status) == InboxStatus.PARKED)
            .values(payload=None)
        )
        # Messages not sent yet are cancelled, the instruction to call emergency services
        # excepted (what the patient writes after asking is handled as usual).
        await connection.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.chat_id) == chat_id,
                   col(OutboxMessage.status) == Status.PENDING,
                   col(OutboxMessage.kind) != OutboxKind.EMERGENCY)
            .values(status=Status.CANCELLED, text="", keyboard=None, media=None, reason="erased")
        )

    async def erase_media_of(self, patient_id: int) -> None:
        """Cancel a patient's photos and voice notes not yet delivered to clinicians."""
        connection = await self._conn()
        await connection.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.patient_id) == patient_id,
                   col(OutboxMessage.status).in_((Status.PENDING, Status.CLAIMED)))
            .values(status=Status.CANCELLED, text="", media=None, reason="erased")
        )

    async def prune(self, before: datetime) -> int:
        """Delete handled updates and settled outbox rows older than `before`."""
        connection = await self._conn()
        inbox = await connection.execute(
            delete(InboxUpdate).where(
                col(InboxUpdate.status).in_((InboxStatus.DONE, InboxStatus.PARKED)),
                col(InboxUpdate.received_at) < before,
            )
        )
        outbox = await connection.execute(
            delete(OutboxMessage).where(
                col(OutboxMessage.status).not_in((Status.PENDING, Status.CLAIMED)),
                col(OutboxMessage.created_at) < before,
            )
        )
        return int(inbox.rowcount or 0) + int(outbox.rowcount or 0)

    async def outbox_pending(self) -> int:
        """Outbox rows not delivered yet."""
        stmt = select(func.count()).where(
            col(OutboxMessage.status).in_((Status.PENDING, Status.CLAIMED))
        )
        return int((await self._orm.exec(stmt)).one())


def _first_undone() -> Any:
    return (
        select(col(InboxUpdate.chat_id), func.min(col(InboxUpdate.id)))
        .where(
            col(InboxUpdate.chat_id).in_(bindparam("chats", expanding=True)),
            col(InboxUpdate.status).in_(UNDONE),
            col(InboxUpdate.id).not_in(bindparam("held", expanding=True)),
        )
        .group_by(col(InboxUpdate.chat_id))
    )
