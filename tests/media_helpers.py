"""What a rehearsal's media store holds, wherever it keeps it (files, or the database on
PostgreSQL)."""

from __future__ import annotations

from sqlmodel import select

from bot.rehearsal import Rehearsal
from bot.store.files import PhotoStore
from bot.store.models import MediaBlob


async def kept(r: Rehearsal, suffix: str = "") -> list[bytes]:
    """Every photo or note kept (those whose path ends with `suffix`), oldest first."""
    store = r.services.deps.photo_store
    if isinstance(store, PhotoStore):
        return [p.read_bytes() for p in sorted(store.root.rglob(f"*{suffix}"))
                if p.is_file()]
    async with r.db.unit_of_work() as uow:
        rows = (await uow.orm.exec(select(MediaBlob).order_by(MediaBlob.created_at))).all()
    return [bytes(b.data) for b in rows if b.path.endswith(suffix)]
