"""Black box: `aftercare run` as a real process against the sandbox served over HTTP.

Patients and clinicians use their deep links, the current day's check-in follows consent,
an answer pings the clinician, and `kill -9` plus a restart loses and duplicates nothing.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.sandbox import SandboxTelegram
from bot.sandbox.http import SandboxHTTP
from bot.store.db import Database
from bot.store.models import Ping
from tests.procs import (
    POLL,
    cli,
    daytime_zone,
    environment,
    proc_now,
    start_bot,
    wait_for,
)

pytestmark = pytest.mark.clock
QUESTION = "How are you feeling?"


async def wait_until_recorded(url: str) -> None:
    db = Database(url)
    try:
        for _ in range(200):
            async with db.unit_of_work() as uow:
                pings = (await uow.orm.exec(select(Ping))).all()
            if pings and all(p.status == "sent" for p in pings):
                return
            await asyncio.sleep(POLL)
        raise AssertionError("the page was never recorded as sent")
    finally:
        await db.dispose()


def labels(sandbox: SandboxTelegram, chat_id: int, message_id: int) -> list[str]:
    """The button labels a message shows right now."""
    markup = sandbox.message_json(chat_id, message_id).get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


async def test_run_enrols_pings_and_survives_kill_9(front: SandboxHTTP, tmp_path: Path) -> None:
    zone = daytime_zone()
    sandbox = front.server
    env = environment(tmp_path, front.url, sandbox.token, CLINIC_TIMEZONE=zone.key)
    await cli(env, "db", "upgrade", json_out=False)
    nurse_link = await cli(env, "clinician", "invite", "--name", "Nurse Joy")
    session_at = (proc_now().astimezone(zone) - timedelta(days=2)).replace(hour=8, minute=0)
    ana_link = await cli(
        env, "enrol", "--name", "Ana Lopez", "--session-at", session_at.isoformat()
    )
    assert str(ana_link["link"]).startswith(f"https://t.me/{sandbox.bot_username}?start=")

    bot = await start_bot(env)
    try:
        nurse, ana = sandbox.user("Nurse"), sandbox.user("Ana")
        nurse.say(f"/start {nurse_link['token']}")
        await wait_for(lambda: any("receives escalations" in (m.text or "")
                                   for m in sandbox.sent(nurse.id)), "clinician registration")
        ana.say(f"/start {ana_link['token']}")
        await wait_for(lambda: "Yes, I agree" in sandbox.last(ana.id).labels
                       if sandbox.sent(ana.id) else False, "consent question")
        ana.press_button("Yes")
        await wait_for(lambda: any(QUESTION in (m.text or "") for m in sandbox.sent(ana.id)),
                       "the current day's check-in")
        checkin = next(m for m in sandbox.sent(ana.id) if QUESTION in (m.text or ""))
        assert (checkin.text or "").startswith("Day 2.")

        for label, then in (("Soreness", "Severe"), ("Severe", "Done"), ("Done", None)):
            ana.press_button(label, message_id=checkin.message_id)
            if then is not None:  # wait for the next screen before the next tap
                await wait_for(
                    lambda t=then: any(
                        b.startswith(t) for b in labels(sandbox, ana.id, checkin.message_id)
                    ),
                    f"the screen offering {then}",
                )
        await wait_for(lambda: any("URGENT" in (m.text or "") for m in sandbox.sent(nurse.id)),
                       "the clinician's ping")
        # Killed once the page is recorded as sent: only a send in flight may repeat.
        await wait_until_recorded(env["DATABASE_URL"])

        bot.send_signal(signal.SIGKILL)
        await bot.wait()
        bot = await start_bot(env)
        ping = next(m for m in sandbox.sent(nurse.id) if "URGENT" in (m.text or ""))
        nurse.press_button("Acknowledge", message_id=ping.message_id)
        await wait_for(lambda: "Acknowledged by Nurse Joy" in (
            sandbox.message_json(nurse.id, ping.message_id).get("text", "")), "acknowledgement")
        await asyncio.sleep(POLL * 40)  # a few dispatcher ticks after the restart
        assert sum((m.text or "").startswith("Day 2.") for m in sandbox.sent(ana.id)) == 1
        assert sum("URGENT" in (m.text or "") for m in sandbox.sent(nurse.id)) == 1
        assert sandbox.violations == []
        # The first start warned that nobody could be paged; the restart, with a nurse on
        # call, did not.
        log = (Path(env["WORKDIR"]) / "bot.log").read_text()
        assert log.count("no clinician on call") == 1, log
    finally:
        bot.send_signal(signal.SIGTERM)
        await bot.wait()
