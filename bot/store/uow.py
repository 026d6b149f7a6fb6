"""The unit of work over SQL: one transaction, one repository per aggregate.

Services receive it through the `UnitOfWork` port (`bot.services.repositories`):
`async with deps.uow() as uow: ...` commits when the block ends and rolls back if it raises.
Nothing outside `bot/store` sees the ORM session.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, TypeVar

from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store.checkins import CheckinRepository
from bot.store.clinicians import ClinicianRepository
from bot.store.console import ConsoleRepository
from bot.store.escalations import EscalationRepository
from bot.store.inbox import InboxRepository
from bot.store.monitoring import MonitoringRepository
from bot.store.patients import PatientRepository
from bot.store.queue import QueueRepository
from bot.store.records import RecordRepository
from bot.store.sql import Transaction, insert_rows

E = TypeVar("E", bound=SQLModel)


class SqlUnitOfWork:
    """One transaction and its repositories; entities added or changed here are written when
    it commits (or at `flush`)."""

    def __init__(self, orm: AsyncSession) -> None:
        self._orm = orm
        tx = Transaction(orm)
        self._tx = tx
        self.patients = PatientRepository(tx)
        self.clinicians = ClinicianRepository(tx)
        self.checkins = CheckinRepository(tx)
        self.escalations = EscalationRepository(tx)
        self.queue = QueueRepository(tx)
        self.records = RecordRepository(tx, self.checkins)
        self.inbox = InboxRepository(tx)
        self.console = ConsoleRepository(tx)
        self.monitoring = MonitoringRepository(tx)

    @property
    def orm(self) -> AsyncSession:
        """The ORM session, for tests that read tables directly. Use cases cannot reach it:
        the `UnitOfWork` port they are typed against has no such attribute."""
        return self._orm

    async def __aenter__(self) -> SqlUnitOfWork:
        await self._orm.__aenter__()
        await self._orm.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                await self._orm.commit()
            else:
                await self._orm.rollback()
        finally:
            await self._orm.__aexit__(exc_type, exc, tb)

    async def add(self, entity: E) -> E:
        """Insert a new entity now, so its id is known."""
        self._orm.add(entity)
        await self._orm.flush()
        return entity

    async def add_all(self, entities: Sequence[SQLModel]) -> None:
        self._orm.add_all(entities)
        await self._orm.flush()

    def save(self, entity: SQLModel) -> None:
        """Keep the changes made to an entity (written at the next flush or the commit)."""
        self._orm.add(entity)

    async def flush(self) -> None:
        """Write pending changes now (before a statement that must see them)."""
        await self._orm.flush()

    async def refresh(self, entity: SQLModel) -> None:
        """Read an entity again (after a statement changed its row)."""
        await self._orm.refresh(entity)

    async def insert_rows(
        self, model: type[SQLModel], rows: Sequence[dict[str, Any]]
    ) -> list[int]:
        """Plain-row inserts for hot paths (see `bot.store.sql.insert_rows`)."""
        return await insert_rows(self._tx, model, rows)
