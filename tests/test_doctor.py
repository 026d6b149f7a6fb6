"""`aftercare doctor` against the sandbox Telegram over HTTP and a real database (issue 18,
point 3): one line per check, what to do about each failure, non-zero on any."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from bot.sandbox.http import SandboxHTTP
from tests.procs import cli, environment


async def doctor(env: dict[str, str]) -> tuple[int, list[str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "doctor", env=env, cwd=env["WORKDIR"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    assert not err, err.decode()
    return process.returncode, out.decode().splitlines()


async def test_doctor_names_each_failure_with_its_fix_then_passes(
    front: SandboxHTTP, tmp_path: Path,
) -> None:
    sandbox = front.server
    env = environment(tmp_path, front.url, sandbox.token)
    status, lines = await doctor(env)
    assert status == 1
    assert "FAIL database: unreachable" not in lines  # a SQLite file is made on first use
    schema = next(line for line in lines if line.startswith("FAIL schema"))
    assert "aftercare db upgrade" in schema
    await cli(env, "db", "upgrade", json_out=False)
    status, lines = await doctor(env)
    assert status == 1
    clinicians = next(line for line in lines if "clinicians" in line)
    assert clinicians.startswith("FAIL")
    assert "aftercare clinician invite" in clinicians
    link = await cli(env, "clinician", "invite", "--name", "Nurse Joy")
    nurse = sandbox.user("Nurse")
    status, lines = await doctor(env | {"TELEGRAM_BOT_TOKEN": "123:not-the-token"})
    assert any(line.startswith("FAIL token: Telegram refused the token") for line in lines)
    assert status == 1
    from tests.procs import start_bot, wait_for

    bot = await start_bot(env)
    try:
        nurse.say(f"/start {link['token']}")
        await wait_for(lambda: bool(sandbox.sent(nurse.id)), "the nurse's registration")
    finally:
        bot.terminate()
        await bot.wait()
    status, lines = await doctor(env)
    assert status == 0, "\n".join(lines)
    names = [line.split(":")[0] for line in lines]
    assert names == ["ok   configuration", "ok   token", "ok   webhook", "ok   clock (Telegram)",
                     "ok   database", "ok   schema", "ok   clinicians", "ok   content",
                     "ok   media storage"]
    assert all("TOKEN" not in line and sandbox.token not in line for line in lines)
