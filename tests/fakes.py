"""An in-memory unit of work: use cases run on it without a database (the SQL adapter has its
own tests). It holds only what the use cases tested on it ask for; anything else raises."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from bot.sandbox import SandboxTelegram
from bot.store.models import AuditEvent, Clinician, Entity, Invite, Patient


class _Store:
    """The rows, by type and id, shared by every unit of work of one fake database."""

    def __init__(self) -> None:
        self.rows: dict[type[Any], dict[int, Any]] = {}
        self.windows: dict[tuple[str, int], int] = {}
        self.ids = itertools.count(1)

    def of(self, model: type[Any]) -> list[Any]:
        return list(self.rows.get(model, {}).values())


class _Patients:
    def __init__(self, store: _Store) -> None:
        self.s = store

    async def by_chat(self, chat_id: int) -> Patient | None:
        return next((p for p in self.s.of(Patient) if p.chat_id == chat_id), None)

    async def invite_by_hash(self, token_hash: str) -> Invite | None:
        return next((i for i in self.s.of(Invite) if i.token_hash == token_hash), None)

    async def use_invite(self, invite_id: int, now: datetime) -> bool:
        invite = self.s.rows[Invite][invite_id]
        if invite.used_at is not None or invite.expires_at <= now:
            return False
        invite.used_at = now
        return True


class _Clinicians:
    def __init__(self, store: _Store) -> None:
        self.s = store

    async def get(self, clinician_id: int) -> Clinician | None:
        return self.s.rows.get(Clinician, {}).get(clinician_id)

    async def by_chat(self, chat_id: int) -> Clinician | None:
        return next((c for c in self.s.of(Clinician) if c.chat_id == chat_id), None)


class _Records:
    def __init__(self, store: _Store) -> None:
        self.s = store

    async def attempts(self, key: str, window: int) -> int:
        return self.s.windows.get((key, window), 0)

    async def count_attempt(self, key: str, window: int) -> int:
        self.s.windows[key, window] = self.s.windows.get((key, window), 0) + 1
        return self.s.windows[key, window]

    async def prune_rate_windows(self, before: int) -> None:
        self.s.windows = {k: v for k, v in self.s.windows.items() if k[1] >= before}

    async def audit(self, at: datetime, actor: str, action: str, *,
                    patient_id: int | None = None, detail: str = "") -> None:
        event = AuditEvent(at=at, actor=actor, action=action, patient_id=patient_id,
                           detail=detail)
        event.id = next(self.s.ids)
        self.s.rows.setdefault(AuditEvent, {})[event.id] = event


class FakeUnitOfWork:
    """The `UnitOfWork` port over `_Store`: changes are kept whatever happens (no rollback:
    the use cases tested here do not rely on one)."""

    def __init__(self, store: _Store) -> None:
        self.s = store
        self.patients = _Patients(store)
        self.clinicians = _Clinicians(store)
        self.records = _Records(store)

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    async def add(self, entity: Any) -> Any:
        entity.id = next(self.s.ids)
        self.s.rows.setdefault(type(entity), {})[entity.id] = entity
        return entity

    async def add_all(self, entities: Sequence[Entity]) -> None:
        for entity in entities:
            await self.add(entity)

    def save(self, entity: Entity) -> None:
        assert getattr(entity, "id", None) is not None, "save() is for stored entities"


class FakeDatabase:
    """The `UnitsOfWork` port: every unit of work over the same in-memory rows."""

    def __init__(self) -> None:
        self.store = _Store()

    def unit_of_work(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)

    @asynccontextmanager
    async def claims(self) -> Any:
        raise NotImplementedError("no claims in the fake")
        yield

    async def reachable(self, within: float) -> bool:  # noqa: ARG002  (the port's signature)
        return True

    async def dispose(self) -> None:
        return None


def assert_instructed(server: SandboxTelegram, chat_id: int, *, paged: bool = True) -> None:
    """The patient's last messages: the instruction to call emergency services, alone,
    then whether the clinic was alerted, as it is."""
    *_, instruction, note = [m.text or "" for m in server.sent(chat_id)]
    assert "Please call 112 now" in instruction
    assert "alerted" not in instruction  # nothing claimed before the page is written
    if paged:
        assert "I've alerted your clinic" in note
    else:
        assert "No clinician at" in note
        assert "could be alerted" in note
