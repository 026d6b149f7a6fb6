"""Who may use the clinic console: one-time login links sent by the bot, sessions that end
after a working day idle or at once when the clinician is deactivated."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.services.common import Deps, hash_token
from bot.services.ports import Reply
from bot.services.repositories import UnitOfWork
from bot.store.models import ConsoleKey, ConsoleToken

LINK_FOR = timedelta(minutes=10)
INIT_DATA_FOR = timedelta(minutes=5)  # a Mini App's init data signs in this soon, once
IDLE_FOR = timedelta(hours=10)  # a working day without a page opened ends the session
TOUCH_EVERY = timedelta(minutes=1)  # a session's expiry moves on at most this often


@dataclass(frozen=True, slots=True)
class Staff:
    """A signed-in clinician, as the console sees them."""

    clinician_id: int
    name: str
    admin: bool

    @property
    def actor(self) -> str:
        return f"clinician:{self.clinician_id}"


class Console:
    """Login links, sessions and sign-out for the console."""

    def __init__(self, deps: Deps, url: str | None) -> None:
        self.d = deps
        self.url = url.rstrip("/") if url else None  # None: this deployment serves none

    async def link(self, chat_id: int) -> Reply:
        """`/console`: a one-time login link for an active clinician's chat."""
        m = self.d.content.messages
        if self.url is None:
            return Reply(m["console_off"])
        now = self.d.clock.now()
        async with self.d.store.unit_of_work() as uow:
            clinician = await uow.clinicians.by_chat(chat_id)
            if clinician is None or not clinician.active or clinician.id is None:
                return Reply(m["not_clinician"])
            secret = await self._mint(uow, clinician.id, ConsoleKey.LINK, now, LINK_FOR)
            await uow.records.audit(now, f"clinician:{clinician.id}", "console_link")
        minutes = int(LINK_FOR.total_seconds() // 60)
        return Reply(m.format("console_link", url=f"{self.url}/login/{secret}",
                              minutes=minutes))

    async def login(self, link_secret: str) -> str | None:
        """Exchange a login link for a session secret (None: unknown, used or expired)."""
        now = self.d.clock.now()
        async with self.d.store.unit_of_work() as uow:
            clinician_id = await uow.console.redeem_link(hash_token(link_secret), now)
            if clinician_id is None:
                return None
            return await self._open(uow, clinician_id, now, "console_login")

    async def login_by_chat(self, user_id: int, signature: str) -> str | None:
        """A session for the clinician whose Telegram account opened the Mini App (its init
        data already checked against the bot's token); the same init data (`signature`,
        its hash) signs in once."""
        now = self.d.clock.now()
        once = hash_token(f"init-data:{signature}")
        async with self.d.store.unit_of_work() as uow:
            clinician = await uow.clinicians.by_chat(user_id)
            if clinician is None or clinician.id is None or await uow.console.known(once):
                return None
            await uow.add(ConsoleToken(token_hash=once, kind=ConsoleKey.INIT_DATA,
                                       clinician_id=clinician.id, created_at=now,
                                       expires_at=now + INIT_DATA_FOR))
            return await self._open(uow, clinician.id, now, "console_login_webapp")

    async def _open(
        self, uow: UnitOfWork, clinician_id: int, now: datetime, action: str
    ) -> str | None:
        clinician = await uow.clinicians.get(clinician_id)
        if clinician is None or not clinician.active:
            return None
        await uow.records.audit(now, f"clinician:{clinician_id}", action)
        return await self._mint(uow, clinician_id, ConsoleKey.SESSION, now, IDLE_FOR)

    async def staff(self, session_secret: str, *, touch: bool = True) -> Staff | None:
        """Who holds this session, if it is live and its clinician still active; `touch`
        (a person's request, not a page refreshing itself) moves its expiry on."""
        now = self.d.clock.now()
        async with self.d.store.unit_of_work() as uow:
            session = await uow.console.session(hash_token(session_secret), now)
            if session is None:
                return None
            clinician = await uow.clinicians.get(session.clinician_id)
            if clinician is None or not clinician.active or clinician.id is None:
                return None
            if touch and session.expires_at - now < IDLE_FOR - TOUCH_EVERY:
                session.expires_at = now + IDLE_FOR
                uow.save(session)
            return Staff(clinician.id, clinician.name, clinician.is_admin)

    async def logout(self, session_secret: str) -> None:
        async with self.d.store.unit_of_work() as uow:
            await uow.console.end(hash_token(session_secret))

    async def forget_expired(self) -> int:
        async with self.d.store.unit_of_work() as uow:
            return await uow.console.expire(self.d.clock.now())

    @staticmethod
    async def _mint(
        uow: UnitOfWork, clinician_id: int, kind: str, now: datetime, ttl: timedelta
    ) -> str:
        secret = secrets.token_urlsafe(32)
        await uow.add(ConsoleToken(token_hash=hash_token(secret), kind=kind,
                                   clinician_id=clinician_id, created_at=now,
                                   expires_at=now + ttl))
        return secret
