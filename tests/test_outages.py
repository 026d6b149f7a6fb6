"""The database fails under a running bot (`aftercare run`, real processes): PostgreSQL
unreachable mid-dispatch, SQLite locked by another process or its disk full. The bot stays
responsive, says so on /readyz, logs one line per outage, answers a red flag written during
it at once from memory, and once the database is back records it, pages the clinician and
sends nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from sqlmodel import select

from bot.sandbox import Fault, SandboxTelegram
from bot.sandbox.http import SandboxHTTP
from bot.store.db import Database
from bot.store.models import CheckIn, Escalation, Patient
from tests.procs import (
    cli,
    daytime_zone,
    environment,
    free_port,
    health,
    proc_now,
    seed_due_checkins,
    start_bot,
    wait_for,
)

# Not marked `clock`: these pick a zone where it is daytime, so the hour of the run does not
# matter, and they are too long to run four times.
OUTAGE = 20.0  # seconds (60 in the measurement; the behaviour is the same)
CALL = "Please call 112 now"
CHECKIN = "How are you feeling?"
OK = 200
SERVICE_UNAVAILABLE = 503
HEALTHY = {"status": "ready", "database": "reachable", "schema": "current",
           "telegram": "reachable", "clinicians": "on call"}

class Outage:
    """A TCP proxy in front of PostgreSQL that can cut every connection and refuse new ones:
    the database is unreachable for the bot, while the real server (shared by the test run)
    keeps running."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()
        await self._server.wait_closed()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._links -= {writer, up_writer}

def deliveries(sandbox: SandboxTelegram, chat_id: int, words: str) -> list[datetime]:
    return [q.time for q in sandbox.requests
            if q.method == "sendMessage" and q.status == OK and q.params.get("chat_id") == chat_id
            and words in str(q.params.get("text"))]

async def scenario(
    front: SandboxHTTP, env: dict[str, str], db: Database, cut: object, mend: object
) -> None:
    """50 check-ins being dispatched; the database goes away; a patient writes a red flag;
    the database comes back."""
    sandbox = front.server
    zone = daytime_zone()
    await cli(env, "db", "upgrade", json_out=False)
    nurse_link = await cli(env, "clinician", "invite", "--name", "Nurse Joy")
    patients = [sandbox.user(f"P{n}") for n in range(50)]
    await seed_due_checkins(db, [u.id for u in patients], zone)
    nurse, ana = sandbox.user("Nurse"), patients[0]
    port = free_port()
    bot = await start_bot(env | {"HEALTH_LISTEN": f"127.0.0.1:{port}"})
    try:
        nurse.say(f"/start {nurse_link['token']}")
        await wait_for(lambda: bool(sandbox.sent(nurse.id)), "the nurse's registration")
        assert await health(port) == (OK, HEALTHY)
        await wait_for(lambda: sum(bool(deliveries(sandbox, u.id, CHECKIN)) for u in patients)
                       >= 5, "the dispatch under way")
        await cut()  # type: ignore[operator]
        await asyncio.sleep(7)  # heartbeats fail, or wait, for longer than HEARTBEAT_STALE
        assert await health(port) == (SERVICE_UNAVAILABLE, {
            "status": "not ready", "database": "unreachable", "schema": "unknown",
            "telegram": "reachable", "clinicians": "unknown"})
        written = proc_now()
        ana.say("my lips are swelling and I can't breathe")
        await wait_for(lambda: bool(deliveries(sandbox, ana.id, CALL)), "the instruction", 10)
        assert (deliveries(sandbox, ana.id, CALL)[0] - written).total_seconds() < 5
        await asyncio.sleep(OUTAGE)
        await mend()  # type: ignore[operator]
        await wait_for(lambda: any("EMERGENCY" in (m.text or "") for m in sandbox.sent(nurse.id)),
                       "the page, once the database is back", 60)
        # Ana's waits for her emergency to be seen, unless it went out before her message.
        await wait_for(lambda: all(deliveries(sandbox, u.id, CHECKIN) for u in patients[1:]),
                       "every check-in", 60)
        await asyncio.sleep(2)  # a few more ticks: nothing more may follow
        assert await health(port) == (OK, HEALTHY)
    finally:
        bot.send_signal(signal.SIGTERM)
        await bot.wait()
    assert len(deliveries(sandbox, ana.id, CALL)) == 1  # not sent again once recorded
    assert max(len(deliveries(sandbox, u.id, CHECKIN)) for u in patients) <= 2
    async with db.unit_of_work() as uow:
        flagged = (await uow.orm.exec(select(Escalation).where(Escalation.level == "emergency"))
                   ).all()
        ana_row = (await uow.orm.exec(select(Patient).where(Patient.chat_id == ana.id))).one()
    assert [e.patient_id for e in flagged] == [ana_row.id]
    log = (Path(env["WORKDIR"]) / "bot.log").read_text(encoding="utf-8")
    assert 1 <= log.count("database unreachable") <= 3  # one line per outage, not per tick
    assert "Traceback" not in log

async def test_sqlite_locked_by_another_process(front: SandboxHTTP, tmp_path: Path) -> None:
    env = environment(tmp_path, front.url, front.server.token,
                      CLINIC_TIMEZONE=daytime_zone().key)
    db = Database(env["DATABASE_URL"])
    path = urlsplit(env["DATABASE_URL"]).path
    locker: list[sqlite3.Connection] = []

    async def cut() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")  # held: every write of the bot is refused
        locker.append(conn)

    async def mend() -> None:
        locker[0].execute("COMMIT")
        locker[0].close()

    try:
        await scenario(front, env, db, cut, mend)
    finally:
        await db.dispose()

@contextlib.contextmanager
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MB file system of its own (tmpfs; needs root, as on CI), unmounted after."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small disk here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_sqlite_disk_full(front: SandboxHTTP, tmp_path: Path) -> None:
    with small_disk(tmp_path) as disk:
        url = f"sqlite:///{disk / 'bot.db'}"
        env = environment(tmp_path, front.url, front.server.token,
                          CLINIC_TIMEZONE=daytime_zone().key, DATABASE_URL=url)
        db = Database(url)
        filler = disk / "filler"

        async def cut() -> None:  # every byte left taken: each write fails with SQLITE_FULL
            with filler.open("wb") as out, contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()

        async def mend() -> None:
            filler.unlink()

        try:
            await scenario(front, env, db, cut, mend)
        finally:
            await db.dispose()


async def test_postgresql_unreachable_mid_dispatch(front: SandboxHTTP, tmp_path: Path) -> None:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set")
    parts = urlsplit(url.replace("+asyncpg", ""))
    name = f"outage_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(urlunsplit(parts._replace(scheme="postgresql")))
    await admin.execute(f"CREATE DATABASE {name}")
    proxy = Outage(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.up()
    through = parts._replace(scheme="postgresql",
                             netloc=f"{parts.username or 'postgres'}@127.0.0.1:{proxy.port}",
                             path=f"/{name}")
    env = environment(tmp_path, front.url, front.server.token,
                      CLINIC_TIMEZONE=daytime_zone().key, DATABASE_URL=urlunsplit(through))
    db = Database(urlunsplit(parts._replace(path=f"/{name}")))
    try:
        await scenario(front, env, db, proxy.down, proxy.up)
    finally:
        await db.dispose()
        with contextlib.suppress(Exception):
            await proxy.down()
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


async def test_telegram_down_then_failing_for_longer_than_the_retries(tmp_path: Path) -> None:
    """Telegram answers 502 to every send, then refuses connections altogether, then
    answers 502 again: nothing current is failed meanwhile, and once it answers, the
    instruction, the page and every check-in go out within seconds, once each."""
    sandbox = SandboxTelegram(clock=proc_now)
    front = SandboxHTTP(sandbox)
    zone = daytime_zone()
    env = environment(tmp_path, front.url, sandbox.token, CLINIC_TIMEZONE=zone.key)
    await cli(env, "db", "upgrade", json_out=False)
    nurse_link = await cli(env, "clinician", "invite", "--name", "Nurse Joy")
    patients = [sandbox.user(f"T{n}") for n in range(30)]
    nurse, ana = sandbox.user("Nurse"), patients[0]
    bot = await start_bot(env)
    try:
        nurse.say(f"/start {nurse_link['token']}")
        await wait_for(lambda: bool(sandbox.sent(nurse.id)), "the nurse's registration")
        sandbox.inject("sendMessage", Fault.server_error(), times=1_000_000)
        db = Database(env["DATABASE_URL"])
        await seed_due_checkins(db, [u.id for u in patients], zone)
        ana.say("my lips are swelling and I can't breathe")
        await asyncio.sleep(OUTAGE / 2)  # 502s
        port = front.port
        await front.close()  # connections refused
        await asyncio.sleep(OUTAGE)
        front = SandboxHTTP(sandbox, port=port)  # 502s again
        await asyncio.sleep(OUTAGE / 2)
        async with db.unit_of_work() as uow:
            failed = [c for c in (await uow.orm.exec(select(CheckIn))).all()
                      if c.status == "failed"]
        assert failed == []  # still current: waiting, not failed
        sandbox.faults.clear()
        back = proc_now()
        await wait_for(lambda: bool(deliveries(sandbox, ana.id, CALL)), "the instruction", 30)
        await wait_for(lambda: any("EMERGENCY" in (m.text or "") for m in sandbox.sent(nurse.id)),
                       "the page", 30)
        # Ana's waits for her emergency to be seen (held, not failed).
        await wait_for(lambda: all(deliveries(sandbox, u.id, CHECKIN) for u in patients[1:]),
                       "every check-in", 30)
        last = max(deliveries(sandbox, u.id, CHECKIN)[0] for u in patients[1:])
        assert (last - back).total_seconds() < 10  # not after the backoff
        await asyncio.sleep(3)
        await db.dispose()
    finally:
        bot.send_signal(signal.SIGTERM)
        await bot.wait()
        await front.close()
    assert len(deliveries(sandbox, ana.id, CALL)) == 1
    assert max(len(deliveries(sandbox, u.id, CHECKIN)) for u in patients) <= 1
    assert deliveries(sandbox, ana.id, CHECKIN) == []  # not "how are you?" in an emergency
