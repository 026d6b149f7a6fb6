"""Signing in to the console as a clinician would: `/console` in the bot, then its link."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx

from bot.adapters.content_files import BUNDLED
from bot.console.server import console_app
from bot.health import HEALTH
from bot.rehearsal import Rehearsal
from bot.sandbox import SandboxUser

LINK = re.compile(r"https?://\S+/login/([A-Za-z0-9_-]+)")


def web(r: Rehearsal, base: str = "http://console") -> httpx.AsyncClient:
    """A client of the console app (in the test's loop, no socket)."""
    app = console_app(r.services, bot_username=r.app.bot.username or "aftercare_bot",
                      bot_token="123:secret", extra=HEALTH)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                             base_url=base, follow_redirects=False)


def person(r: Rehearsal, name: str) -> SandboxUser:
    """Someone the fixture created (Nurse, Doctor, Admin)."""
    return next(u for u in r.server.users() if u.first_name == name)


async def login_path(r: Rehearsal, clinician: SandboxUser) -> str:
    """The path of the one-time link the bot sends for `/console`."""
    await r.say(clinician, "/console")
    await r.services.outbox.idle()
    text = r.server.last(clinician.id).text or ""
    found = LINK.search(text)
    assert found, text
    return f"/login/{found.group(1)}"


async def sign_in(r: Rehearsal, client: httpx.AsyncClient, clinician: SandboxUser) -> str:
    """Sign `client` in; the page's CSRF token."""
    path = await login_path(r, clinician)
    assert (await client.get(path)).status_code == 200  # a page with a button: not used yet
    done = await client.post(path)
    assert done.status_code == 303, done.text
    page = await client.get("/")
    assert page.status_code == 200
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found
    return found.group(1)


def content_copy(tmp_path: Path) -> Path:
    """A copy of the shipped content, for tests that edit it."""
    folder = tmp_path / "content"
    shutil.copytree(BUNDLED, folder)
    return folder
