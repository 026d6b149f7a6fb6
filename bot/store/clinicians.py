"""Clinicians and the on-call rota."""

from __future__ import annotations

from sqlalchemy import (
    bindparam,
)
from sqlmodel import col, select

from bot.store.models import (
    Clinician,
    OnCall,
)
from bot.store.sql import SqlRepository

_CLINICIAN_BY_CHAT = select(Clinician).where(col(Clinician.chat_id) == bindparam("chat_id"))

_ACTIVE_CLINICIANS = (
    select(Clinician)
    .where(col(Clinician.active).is_(True), col(Clinician.chat_id).is_not(None))
    .order_by(col(Clinician.id))
)

_ON_CALL = (
    select(col(Clinician.id), col(Clinician.chat_id), col(Clinician.rota_position))
    .where(col(Clinician.active).is_(True), col(Clinician.chat_id).is_not(None))
    .order_by(col(Clinician.id))
)



class ClinicianRepository(SqlRepository):
    """Clinicians and the on-call rota."""

    async def get(self, clinician_id: int) -> Clinician | None:
        return await self._orm.get(Clinician, clinician_id)


    async def by_chat(self, chat_id: int) -> Clinician | None:
        result = await self._orm.exec(_CLINICIAN_BY_CHAT, params={"chat_id": chat_id})
        return result.first()


    async def rota(self) -> list[Clinician]:
        """Active, registered clinicians on the on-call rota, in order."""
        result = await self._orm.exec(
            select(Clinician)
            .where(
                col(Clinician.active).is_(True),
                col(Clinician.chat_id).is_not(None),
                col(Clinician.rota_position).is_not(None),
            )
            .order_by(col(Clinician.rota_position), col(Clinician.id))
        )
        return list(result.all())


    async def all(self) -> list[Clinician]:
        result = await self._orm.exec(select(Clinician).order_by(col(Clinician.id)))
        return list(result.all())


    async def on_call(self) -> list[OnCall]:
        """The active, registered clinicians paging can reach, in id order (plain rows:
        every page reads them)."""
        connection = await self._conn()
        return [
            OnCall(int(row.id), int(row.chat_id), row.rota_position)
            for row in await connection.execute(_ON_CALL)
        ]


    async def active(self) -> list[Clinician]:
        return list((await self._orm.exec(_ACTIVE_CLINICIANS)).all())
