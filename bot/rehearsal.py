"""A rehearsal: the real Application, the sandbox Telegram, a fake clock, a real database.

Tests and `aftercare demo` drive the bot through this: people act through the sandbox, the
clock moves only when told, and the dispatcher runs when a tick is asked for.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.app import AnyApp, build_application, prepare
from bot.config import Settings
from bot.core.clock import FakeClock
from bot.core.content import Content
from bot.sandbox import SandboxTelegram, SandboxUser
from bot.services.dispatch import TickReport
from bot.services.enrolment import Invitation
from bot.services.facade import Services
from bot.store.db import Database

SANDBOX_TOKEN = "123456:SANDBOX"


def sandbox_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for an offline rehearsal (no .env, no network, no pacing)."""
    values: dict[str, Any] = {
        "storage_dir": Path(tempfile.gettempdir()) / "aftercare-rehearsal",
        "telegram_bot_token": SecretStr(SANDBOX_TOKEN),
        "telegram_api_url": "https://sandbox.invalid",
        "database_url": database_url,
        "clinic_timezone": "Europe/Paris",
        "rate_limit": False,
        # A rehearsal plays days of messages in seconds: the flood limit (real time) would
        # stop it. The flood tests set their own.
        "flood_burst": 100_000,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


class Rehearsal:
    """One bot, one sandbox, one clock. Use `async with Rehearsal(...) as r:`."""

    def __init__(
        self,
        database: Database,
        clock: FakeClock,
        *,
        settings: Settings | None = None,
        content: Content | None = None,
        server: SandboxTelegram | None = None,
    ) -> None:
        self.db = database
        self.clock = clock
        self.settings = settings or sandbox_settings(database.url)
        self.server = server or SandboxTelegram(clock=clock.now, token=SANDBOX_TOKEN)
        self.server.auto_queue = False
        self.app: AnyApp = build_application(
            self.settings,
            clock=clock,
            content=content,
            database=database,
            request=self.server.request(),
            updates_request=self.server.request(),
            schedule_jobs=False,
        )
        self.on_update: Callable[[dict[str, Any]], None] | None = None

    async def __aenter__(self) -> Rehearsal:
        await self.db.create_all()  # a rehearsal's database is fresh or already its own
        await self.app.initialize()
        await prepare(self.app)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.app.shutdown()

    @property
    def services(self) -> Services:
        services: Services = self.app.bot_data.services
        return services

    # --- people
    async def process(self, update: dict[str, Any]) -> None:
        """Feed one update through the inbox, as the receiver would, and wait until it is
        handled and what it said is sent."""
        if self.on_update is not None:
            self.on_update(update)
        inbox = self.services.inbox
        await inbox.receive([update])
        await inbox.drain()

    async def say(self, user: SandboxUser, text: str) -> None:
        await self.process(user.say(text))

    async def press(self, user: SandboxUser, label: str, *, message_id: int | None = None) -> None:
        await self.process(user.press_button(label, message_id=message_id))

    async def enrol(
        self, user: SandboxUser, *, session_at: datetime, areas: str = "face", **kwargs: Any
    ) -> Invitation:
        """The clinic enrols; the patient opens the link and taps Yes."""
        invitation = await self.services.enrolment.invite_patient(
            name=kwargs.pop("name", user.first_name), session_at=session_at, areas=areas, **kwargs
        )
        await self.say(user, f"/start {invitation.token}")
        await self.press(user, "Yes")
        return invitation

    async def invite_clinician(self, user: SandboxUser) -> Invitation:
        invitation = await self.services.enrolment.invite_clinician(name=user.first_name)
        await self.say(user, f"/start {invitation.token}")
        return invitation

    # --- time
    async def tick(self) -> TickReport:
        """One dispatcher tick, and the sends it queued."""
        report = await self.services.dispatcher.tick()
        await self.services.outbox.idle()
        return report

    async def advance(
        self, delta: timedelta, *, step: timedelta = timedelta(minutes=10)
    ) -> list[TickReport]:
        """Let time pass, running the dispatcher every `step` as the JobQueue would."""
        end = self.clock.now() + delta
        reports = []
        while self.clock.now() < end:
            self.clock.advance(min(step, end - self.clock.now()))
            reports.append(await self.tick())
        return reports

    async def run_until(self, when: datetime, *, step: timedelta = timedelta(minutes=10)) -> None:
        if when > self.clock.now():
            await self.advance(when - self.clock.now(), step=step)
