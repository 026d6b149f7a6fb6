"""Who is writing, and what they may do: the one place roles are decided.

Patients reach only their own data because every patient use case looks the patient up by
the chat the update came from, never by an id the update carries. Clinician and admin use
cases need `Principal.can`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from bot.services.common import Deps


class Role(IntEnum):
    """What a chat may do; each role includes the ones below it."""

    ANYONE = 0
    CLINICIAN = 1
    ADMIN = 2


@dataclass(frozen=True, slots=True)
class Principal:
    """The person behind a private chat, as the database knows them."""

    chat_id: int
    role: Role
    clinician_id: int | None = None

    def can(self, needed: Role) -> bool:
        return self.role >= needed

    @property
    def actor(self) -> str:
        """How the audit log names them."""
        if self.clinician_id is not None:
            return f"clinician:{self.clinician_id}"
        return f"chat:{self.chat_id}"


class Access:
    """Roles, from the database."""

    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def principal(self, chat_id: int) -> Principal:
        """The role of whoever uses this chat (only active clinicians count as clinicians)."""
        async with self.d.store.unit_of_work() as uow:
            clinician = await uow.clinicians.by_chat(chat_id)
        if clinician is not None and clinician.active and clinician.id is not None:
            role = Role.ADMIN if clinician.is_admin else Role.CLINICIAN
            return Principal(chat_id, role, clinician.id)
        return Principal(chat_id, Role.ANYONE)
