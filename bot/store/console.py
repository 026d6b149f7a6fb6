"""Console login links and sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import col, select

from bot.store.models import ConsoleKey, ConsoleToken
from bot.store.sql import SqlRepository


class ConsoleRepository(SqlRepository):
    """Hashed console tokens: one-time links and sessions."""

    async def redeem_link(self, token_hash: str, now: datetime) -> int | None:
        """Mark a login link used, once, if it has not expired: its clinician's id. Two
        browsers opening the same link race on the update; one wins."""
        found = await self._orm.exec(
            select(ConsoleToken).where(col(ConsoleToken.token_hash) == token_hash,
                                       col(ConsoleToken.kind) == ConsoleKey.LINK))
        link = found.first()
        if link is None or link.used_at is not None or link.expires_at <= now:
            return None
        claimed = await self._orm.exec(
            update(ConsoleToken)
            .where(col(ConsoleToken.id) == link.id, col(ConsoleToken.used_at).is_(None))
            .values(used_at=now)
        )
        return link.clinician_id if claimed.rowcount == 1 else None

    async def session(self, token_hash: str, now: datetime) -> ConsoleToken | None:
        """A live session by its hash."""
        found = await self._orm.exec(
            select(ConsoleToken).where(col(ConsoleToken.token_hash) == token_hash,
                                       col(ConsoleToken.kind) == ConsoleKey.SESSION,
                                       col(ConsoleToken.expires_at) > now))
        return found.first()

    async def known(self, token_hash: str) -> bool:
        found = await self._orm.exec(
            select(ConsoleToken.id).where(col(ConsoleToken.token_hash) == token_hash))
        return found.first() is not None

    async def end(self, token_hash: str) -> None:
        await self._orm.exec(
            delete(ConsoleToken).where(col(ConsoleToken.token_hash) == token_hash))

    async def end_all(self, clinician_id: int) -> None:
        """Every link and session of a clinician (deactivated)."""
        await self._orm.exec(
            delete(ConsoleToken).where(col(ConsoleToken.clinician_id) == clinician_id))

    async def expire(self, now: datetime) -> int:
        """Forget expired links and sessions; how many."""
        gone = await self._orm.exec(
            delete(ConsoleToken).where(col(ConsoleToken.expires_at) <= now))
        return int(gone.rowcount or 0)
