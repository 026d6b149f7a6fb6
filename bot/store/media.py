"""Photos and voice notes in the database: every worker reads what any worker received."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, update

from bot.store.db import Database
from bot.store.files import media_path
from bot.store.models import MediaBlob


class DatabaseMedia:
    """The photo store's interface over the `media_blob` table (short transactions of its
    own: a download is saved before the update's transaction opens)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.table = MediaBlob.__table__  # type: ignore[attr-defined]

    async def save(self, patient_id: int, name: str, data: bytes, extension: str) -> str:
        path = media_path(patient_id, name, extension)
        async with self.db.engine.begin() as conn:
            changed = await conn.execute(
                update(self.table).where(self.table.c.path == path).values(data=data))
            if not changed.rowcount:
                await conn.execute(insert(self.table).values(
                    path=path, patient_id=patient_id, data=data, created_at=datetime.now(UTC)))
        return path

    async def read(self, relative: str) -> bytes:
        async with self.db.engine.connect() as conn:
            data = (await conn.execute(
                select(self.table.c.data).where(self.table.c.path == relative))).scalar()
        if data is None:
            raise FileNotFoundError(relative)  # as a lost file would
        return bytes(data)

    async def delete_patient(self, patient_id: int) -> None:
        async with self.db.engine.begin() as conn:
            await conn.execute(delete(self.table).where(self.table.c.patient_id == patient_id))
