"""Two `aftercare run` workers on one PostgreSQL database (issue 18, point 5): a photo that
one worker received shows in the console another worker serves, from its own disk-less
storage: photos live in the database."""

from __future__ import annotations

import asyncio
import http.cookiejar
import urllib.request
from datetime import timedelta
from pathlib import Path

from bot.sandbox.http import SandboxHTTP
from bot.sandbox.users import TINY_JPEG
from tests.console_helpers import LINK
from tests.procs import (
    cli,
    daytime_zone,
    environment,
    free_port,
    fresh_postgres,
    proc_now,
    registered_nurse_and_photo,
    start_bot,
    wait_for,
)

PICTURE = TINY_JPEG


def signed_in(base: str, path: str) -> urllib.request.OpenerDirector:
    """A browser-like client signed in with the bot's one-time link."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    opener.open(urllib.request.Request(base + path, data=b"", method="POST"), timeout=10)
    return opener


async def test_a_photo_one_worker_received_shows_on_the_other_workers_console(
    front: SandboxHTTP, tmp_path: Path,
) -> None:
    sandbox = front.server
    zone = daytime_zone()
    async with fresh_postgres() as url:
        env = environment(tmp_path, front.url, sandbox.token, CLINIC_TIMEZONE=zone.key,
                          DATABASE_URL=url)
        await cli(env, "db", "upgrade", json_out=False)
        nurse_link = await cli(env, "clinician", "invite", "--name", "Nurse Joy")
        session_at = (proc_now().astimezone(zone) - timedelta(days=1)).replace(hour=8, minute=0)
        ana_link = await cli(env, "enrol", "--name", "Ana", "--session-at",
                             session_at.isoformat())
        port = free_port()
        receiver = await start_bot(env | {"STORAGE_DIR": str(tmp_path / "a")}, "a.log")
        other = await start_bot(env | {"RECEIVE_UPDATES": "false",
                                       "STORAGE_DIR": str(tmp_path / "b"),
                                       "CONSOLE_LISTEN": f"127.0.0.1:{port}"}, "b.log")
        try:
            nurse, _ = await registered_nurse_and_photo(
                sandbox, nurse_link["token"], ana_link["token"], "the spot on my cheek", PICTURE)
            nurse.say("/console")
            await wait_for(lambda: any(LINK.search(m.text or "") for m in sandbox.sent(nurse.id)),
                           "the console link")
            link = next(LINK.search(m.text or "") for m in sandbox.sent(nurse.id)
                        if LINK.search(m.text or ""))
            assert link is not None
            base = f"http://127.0.0.1:{port}"

            def fetch() -> tuple[str, bytes]:
                client = signed_in(base, f"/login/{link.group(1)}")
                with client.open(f"{base}/patients/1", timeout=10) as page:
                    html = page.read().decode()
                with client.open(f"{base}/media/1", timeout=10) as photo:
                    return html, photo.read()

            html, photo = await asyncio.to_thread(fetch)
            assert '<img src="/media/1"' in html
            assert photo == PICTURE
            assert not (tmp_path / "a").exists() or not list((tmp_path / "a").rglob("*.jpg"))
        finally:
            for worker in (receiver, other):
                worker.terminate()
            await asyncio.gather(receiver.wait(), other.wait())
