"""Helpers for tests that run `aftercare` as real processes against the sandbox over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from bot.sandbox import SandboxTelegram, SandboxUser
from bot.store.db import Database
from bot.store.models import (
    CheckIn,
    Clinician,
    Escalation,
    Patient,
    PatientStatus,
    Ping,
    TreatmentSession,
)

ROOT = Path(__file__).resolve().parent.parent
POLL = 0.05  # how often a test looks at the sandbox while a bot process works
ZONES = ["Europe/Paris", "America/New_York", "America/Los_Angeles", "Asia/Tokyo",
         "Pacific/Auckland", "Asia/Kolkata", "America/Sao_Paulo", "Asia/Dubai"]


# The instant process tests run at, whatever the machine's hour: every bot process of a test
# reads the machine's clock shifted to it (CLOCK_OFFSET_SECONDS). A weekday morning in clinic
# hours by default; `make test-hours` runs the clock-sensitive tests at three other hours.
CLOCK_AT = datetime.fromisoformat(os.environ.get("TEST_CLOCK_AT", "2026-11-03T10:30:00+01:00"))
# The one reading of the wall clock, to shift it; whole seconds, so the processes' seconds
# stay the machine's (the shared send pace counts messages per wall-clock second).
OFFSET = timedelta(seconds=round((CLOCK_AT - datetime.now(UTC)).total_seconds()))


def proc_now() -> datetime:
    """The processes' time: the chosen instant, moving at real speed."""
    return datetime.now(UTC) + OFFSET


def daytime_zone() -> ZoneInfo:
    """A zone where it is between 11:00 and 19:00, far from quiet hours and 10:00."""
    now = proc_now()
    for name in ZONES:
        if 11 <= now.astimezone(ZoneInfo(name)).hour < 19:
            return ZoneInfo(name)
    pytest.fail(f"no listed zone is in daytime at {now}")


async def wait_for(check: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(POLL)


def environment(tmp_path: Path, api_url: str, token: str, **extra: str) -> dict[str, str]:
    """The environment of a bot process: sandbox API, its own folder, our settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE"))}
    return env | {
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_URL": api_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "DISPATCH_INTERVAL_SECONDS": "0.5",
        "PYTHONPATH": str(ROOT),
        "WORKDIR": str(tmp_path),
        "STORAGE_DIR": str(tmp_path / "storage"),
        "LOG_LEVEL": "INFO",
        "CLOCK_OFFSET_SECONDS": str(OFFSET.total_seconds()),
        "HEALTH_LISTEN": "127.0.0.1:0",  # any free port: many bots run side by side
    } | extra


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def health(port: int) -> tuple[int, dict[str, str]]:
    """A worker's /readyz: its status code and body."""
    def fetch() -> tuple[int, dict[str, str]]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as got:
                return got.status, json.loads(got.read())
        except urllib.error.HTTPError as refused:
            return refused.code, json.loads(refused.read())
    return await asyncio.to_thread(fetch)


async def cli(env: dict[str, str], *args: str, json_out: bool = True) -> dict[str, object]:
    """Run an `aftercare` command (asynchronously: it may ask the sandbox for the bot's name)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, *(["--json"] if json_out else []), env=env,
        cwd=env["WORKDIR"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    result: dict[str, object] = json.loads(out) if json_out else {}
    return result


async def start_bot(env: dict[str, str], log_name: str = "bot.log") -> asyncio.subprocess.Process:
    """`aftercare run` in the background, its log in the work folder."""
    log = os.open(Path(env["WORKDIR"]) / log_name, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env, cwd=env["WORKDIR"],
            stdout=subprocess.DEVNULL, stderr=log,
        )
    finally:
        os.close(log)  # the child has its own copy


async def seed_due_checkins(db: Database, chat_ids: list[int], zone: ZoneInfo) -> None:
    """Active patients whose day-0 check-in is due now (as after a mass enrolment)."""
    now = proc_now()
    today: date = now.astimezone(zone).date()
    async with db.unit_of_work() as uow:
        for n, chat_id in enumerate(chat_ids):
            patient = await uow.add(
                Patient(name=f"Patient {n}", timezone=zone.key, chat_id=chat_id,
                        status=PatientStatus.ACTIVE, created_at=now, consent_at=now)
            )
            assert patient.id is not None
            session = await uow.add(
                TreatmentSession(patient_id=patient.id, session_at=now - timedelta(hours=2),
                                 created_at=now)
            )
            assert session.id is not None
            uow.save(
                CheckIn(patient_id=patient.id, session_id=session.id, step_id="day0", day=0,
                        local_date=today, due_at=now - timedelta(minutes=1))
            )


async def seed_due_pings(
    db: Database, clinician_chats: list[int], patient_ids: list[int]
) -> None:
    """An urgent escalation per patient, paged now to every clinician ("PAGE <patient id>")."""
    now = proc_now()
    async with db.unit_of_work() as uow:
        clinicians = [
            await uow.add(Clinician(name=f"Nurse {n}", chat_id=chat, created_at=now,
                                     registered_at=now))
            for n, chat in enumerate(clinician_chats)
        ]
        for patient_id in patient_ids:
            escalation = await uow.add(
                Escalation(patient_id=patient_id, level="urgent", body=f"PAGE {patient_id}",
                           created_at=now, next_step_at=now + timedelta(days=1))
            )
            assert escalation.id is not None
            await uow.add_all(
                Ping(escalation_id=escalation.id, clinician_id=c.id or 0, chat_id=c.chat_id or 0,
                     due_at=now - timedelta(seconds=1))
                for c in clinicians
            )


@contextlib.asynccontextmanager
async def fresh_postgres() -> AsyncIterator[str]:
    """A new, empty database on the test run's PostgreSQL (TEST_DATABASE_URL), dropped after;
    its URL. Skips the test when no server is given."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set")
    parts = urlsplit(url.replace("+asyncpg", ""))
    name = f"proc_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(urlunsplit(parts))
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


async def registered_nurse_and_photo(
    sandbox: SandboxTelegram, nurse_token: object, patient_token: object, caption: str,
    photo: bytes | None = None,
) -> tuple[SandboxUser, SandboxUser]:
    """Through a running bot: Nurse opens her link, Ana consents and sends a photo, which
    is answered."""
    nurse, ana = sandbox.user("Nurse"), sandbox.user("Ana")
    nurse.say(f"/start {nurse_token}")
    await wait_for(lambda: bool(sandbox.sent(nurse.id)), "the nurse's registration")
    ana.say(f"/start {patient_token}")
    await wait_for(lambda: bool(sandbox.sent(ana.id)), "the consent question")
    ana.press_button("Yes")
    await wait_for(lambda: len(sandbox.sent(ana.id)) >= 2, "the welcome")
    if photo is None:
        ana.send_photo(caption=caption)
    else:
        ana.send_photo(photo, caption=caption)
    await wait_for(lambda: any("photo" in (m.text or "").lower()
                               for m in sandbox.sent(ana.id)[2:]), "the photo's answer")
    return nurse, ana
