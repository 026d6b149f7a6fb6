"""Fixtures: a real database (SQLite, and PostgreSQL when TEST_DATABASE_URL is set),
a fake clock, and a rehearsal of the real Application against the sandbox Telegram."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.adapters.content_files import load_content
from bot.core.clock import FakeClock
from bot.core.content import Content
from bot.rehearsal import Rehearsal, sandbox_settings
from bot.sandbox import SandboxTelegram
from bot.sandbox.http import SandboxHTTP
from bot.sandbox.users import SandboxUser
from bot.store.db import Database
from tests.console_helpers import content_copy
from tests.procs import proc_now

PARIS = ZoneInfo("Europe/Paris")
BACKENDS = ["sqlite", "postgresql"]


def paris(*args: int) -> datetime:
    """A Paris wall-clock time (the clinic's zone in tests)."""
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


async def enrolled(r: Rehearsal) -> tuple[SandboxUser, SandboxUser]:
    """A clinician, Nurse, and a patient, Ana, enrolled after a session on 3 November."""
    nurse, ana = r.server.user("Nurse"), r.server.user("Ana")
    await r.invite_clinician(nurse)
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    return nurse, ana


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content()


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'test.db'}")
    else:
        url = os.environ.get("TEST_DATABASE_URL")
        if not url:
            pytest.skip("TEST_DATABASE_URL is not set")
        db = Database(url)
        await db.drop_all()
    await db.create_all()
    yield db
    if request.param != "sqlite":
        await db.drop_all()
    await db.dispose()


@pytest.fixture
def clock() -> FakeClock:
    # Tuesday 3 November 2026, 09:00 in Paris (after the October DST change).
    return FakeClock(paris(2026, 11, 3, 9, 0))


@pytest.fixture
async def rehearsal(
    database: Database, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Rehearsal]:
    settings = sandbox_settings(database.url, storage_dir=tmp_path / "storage")
    async with Rehearsal(database, clock, settings=settings) as r:
        yield r
    assert r.server.violations == [], "the bot made requests the Bot API would refuse"


@pytest.fixture
async def clinic(
    database: Database, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Rehearsal]:
    """A rehearsal with three clinicians: Nurse and Doctor on the rota, Admin off it; urgent
    pages wait 30 minutes for an acknowledgement, emergencies half a minute."""
    settings = sandbox_settings(
        database.url, storage_dir=tmp_path / "storage", ack_timeout_urgent_minutes=30,
        ack_timeout_emergency_minutes=0.5,
    )
    async with Rehearsal(database, clock, settings=settings) as r:
        for name in ("Nurse", "Doctor"):
            await r.invite_clinician(r.server.user(name))
        admin = r.server.user("Admin")
        invitation = await r.services.enrolment.invite_clinician(name="Admin", admin=True)
        await r.say(admin, f"/start {invitation.token}")
        await r.services.clinic.set_rota([1, 2])
        yield r
        assert r.server.violations == []


@pytest.fixture
async def editable(
    database: Database, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Rehearsal]:
    """A clinic whose content is a copy the test may change, with an admin and a nurse."""
    settings = sandbox_settings(database.url, storage_dir=tmp_path / "storage",
                                content_dir=content_copy(tmp_path))
    async with Rehearsal(database, clock, settings=settings) as r:
        await r.invite_clinician(r.server.user("Nurse"))
        invitation = await r.services.enrolment.invite_clinician(name="Admin", admin=True)
        await r.say(r.server.user("Admin"), f"/start {invitation.token}")
        yield r


@pytest.fixture
async def front() -> AsyncIterator[SandboxHTTP]:
    """The sandbox Telegram behind a real HTTP port, for `aftercare run` processes (on the
    processes' shifted clock, `tests.procs.proc_now`)."""
    http = SandboxHTTP(SandboxTelegram(clock=proc_now))
    yield http
    await http.close()
