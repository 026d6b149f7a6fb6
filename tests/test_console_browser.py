"""The console in a real browser: Debian's chromium driven by Playwright (issue 16, point 8).

The console runs on a real port in the test's event loop, beside the rehearsal's bot; the
screenshots in the README come from here (`AFTERCARE_SCREENSHOTS=docs make test` refreshes
them).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.console.server import console_app, serve_http
from bot.health import HEALTH
from bot.rehearsal import Rehearsal
from tests.conftest import paris
from tests.console_helpers import login_path, person
from tests.procs import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    if os.environ.get("AFTERCARE_BROWSER_REQUIRED"):
        raise RuntimeError("Debian's chromium is required (apt-get install chromium)")
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)",
                allow_module_level=True)

from playwright.async_api import Browser, Page, async_playwright, expect  # noqa: E402

SHOTS = os.environ.get("AFTERCARE_SCREENSHOTS")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        await launched.close()


@pytest.fixture
async def console(clinic: Rehearsal) -> AsyncIterator[str]:
    """The clinic's console on a free port; its base URL."""
    async with serving(clinic) as base:
        yield base


@contextlib.asynccontextmanager
async def serving(r: Rehearsal) -> AsyncIterator[str]:
    port = free_port()
    app = console_app(r.services, bot_username=r.app.bot.username or "aftercare_bot",
                      bot_token="123:secret", extra=HEALTH)
    stop, listening = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve_http(app, f"127.0.0.1:{port}", stop, listening))
    await asyncio.wait_for(listening.wait(), 10)
    yield f"http://127.0.0.1:{port}"
    stop.set()
    await task


async def shot(page: Page, name: str, tmp_path: Path, **options: object) -> None:
    await page.screenshot(path=str(tmp_path / name), **options)  # type: ignore[arg-type]
    if SHOTS:
        await asyncio.to_thread(_keep, tmp_path / name)


def _keep(taken: Path) -> None:
    assert SHOTS
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    shutil.copy(taken, Path(SHOTS) / taken.name)


async def signed_in_page(r: Rehearsal, browser: Browser, base: str, who: str) -> Page:
    page = await browser.new_page(viewport={"width": 1100, "height": 800})
    await page.goto(base + await login_path(r, person(r, who)))
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Open escalations")).to_be_visible()
    return page


async def test_a_clinician_signs_in_from_the_bot_and_acknowledges_on_the_web(
    clinic: Rehearsal, browser: Browser, console: str, tmp_path: Path,
) -> None:
    r = clinic
    nurse, ana = person(r, "Nurse"), r.server.user("Ana")
    r.clock.set(paris(2026, 11, 5, 10, 0))
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    await r.say(ana, "my lips are swelling and my throat feels tight")
    bea = r.server.user("Bea")
    await r.enrol(bea, session_at=paris(2026, 11, 4, 8, 0))
    await r.say(bea, "the itching is really bad and keeps me awake")
    await r.services.outbox.idle()
    page = await signed_in_page(r, browser, console, "Doctor")
    items = page.locator("article.item")
    await expect(items).to_have_count(2)
    await expect(items.first).to_contain_text("Ana")  # the emergency above the rest
    await shot(page, "console-worklist.png", tmp_path, full_page=True)
    await items.first.get_by_role("button", name="Acknowledge").click()
    await expect(items.first).to_contain_text("Acknowledged by Doctor")
    await r.services.outbox.idle()
    [ping] = [m for m in r.server.sent(nurse.id) if "EMERGENCY" in (m.text or "")]
    assert "Acknowledged by Doctor" in (ping.text or "")
    await r.press(nurse, "Acknowledge", message_id=None)  # Bea's page, in Telegram
    await expect(items.nth(1)).to_contain_text("Acknowledged by Nurse", timeout=8000)
    await items.first.get_by_role("button", name="Call details").click()
    await expect(items.first.locator(".phone")).to_contain_text("Ana")
    await items.first.get_by_label("Outcome note").fill("Seen in clinic: settled")
    await items.first.get_by_role("button", name="Resolve").click()
    await expect(items).to_have_count(1)
    await page.goto(console + "/patients/1")
    await expect(page.locator("svg.severity .mark-emergency")).to_have_count(1)
    await expect(page.locator(".events")).to_contain_text("lips are swelling")
    await shot(page, "console-timeline.png", tmp_path, full_page=True)


async def test_the_desk_enrols_from_the_form_and_prints_the_hand_out(
    clinic: Rehearsal, browser: Browser, console: str, tmp_path: Path,
) -> None:
    r = clinic
    page = await signed_in_page(r, browser, console, "Nurse")
    await page.get_by_role("link", name="Enrol").click()
    await page.get_by_label("Name").fill("Lea Dupont")
    await page.get_by_label("Session").fill("2026-11-03T08:30")
    await page.get_by_label("face").check()
    await page.get_by_label("Language").select_option("fr")
    await page.get_by_role("button", name="Enrol and show the link").click()
    await expect(page.get_by_role("heading", name="Lea Dupont is enrolled (#1)")).to_be_visible()
    handout = page.locator("#handout")
    await expect(handout).to_contain_text("Scannez pour commencer")
    await expect(handout).to_contain_text("112")
    await expect(handout.locator("svg")).to_be_visible()
    link = await page.locator("#deep-link").inner_text()
    assert link.startswith("https://t.me/")
    await page.emulate_media(media="print")
    await expect(page.locator(".top")).to_be_hidden()  # the hand-out prints alone
    await shot(page, "console-handout.png", tmp_path, full_page=True)


async def test_strangers_reach_nothing_and_a_clinician_no_admin_page(
    clinic: Rehearsal, browser: Browser, console: str,
) -> None:
    r = clinic
    page = await browser.new_page()
    await page.goto(console + "/")
    await expect(page.get_by_role("alert")).to_contain_text("not signed in")
    path = await login_path(r, person(r, "Nurse"))
    await page.goto(console + "/login/forged")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("used already or has expired")
    signed = await signed_in_page(r, browser, console, "Nurse")
    await expect(signed.get_by_role("link", name="Clinicians")).to_have_count(0)
    await signed.goto(console + "/admin/clinicians")
    await expect(signed.get_by_role("alert")).to_contain_text("for the clinic's admins")
    again = await browser.new_page()
    await again.goto(console + path)
    await again.get_by_role("button", name="Sign in").click()
    await expect(again.get_by_role("heading", name="Open escalations")).to_be_visible()
    await again.goto(console + path)  # the same link a second time
    await again.get_by_role("button", name="Sign in").click()
    await expect(again.get_by_role("alert")).to_contain_text("used already")
    late = await login_path(r, person(r, "Doctor"))
    r.clock.advance(minutes=11)  # past the link's ten minutes
    await again.goto(console + late)
    await again.get_by_role("button", name="Sign in").click()
    await expect(again.get_by_role("alert")).to_contain_text("has expired")
    # A form posted without its CSRF token (as another site's page would) changes nothing.
    await signed.goto(console + "/enrol")
    await signed.evaluate("document.querySelector('form.enrol input[name=csrf]').remove()")
    await signed.get_by_label("Name").fill("Forged")
    await signed.get_by_label("Session").fill("2026-11-03T08:30")
    await signed.get_by_role("button", name="Enrol and show the link").click()
    await expect(signed.get_by_role("alert")).to_contain_text("out of date")
    await signed.goto(console + "/patients")
    await expect(signed.locator("#patients")).not_to_contain_text("Forged")


async def test_an_admin_uploads_a_broken_content_file_and_sees_where(
    editable: Rehearsal, browser: Browser, tmp_path: Path,
) -> None:
    r = editable
    broken = tmp_path / "messages.yaml"
    text = (r.settings.content_dir / "en" / "messages.yaml").read_text(encoding="utf-8")
    broken.write_text(text.replace("consent_yes:", "consent_yes_typo:", 1), encoding="utf-8")
    async with serving(r) as base:
        page = await signed_in_page(r, browser, base, "Admin")
        await page.get_by_role("link", name="Content").click()
        await page.get_by_role("link", name="en/messages.yaml").click()
        await page.get_by_label("Edited copy").set_input_files(str(broken))
        await page.get_by_role("button", name="Check and apply").click()
        alert = page.get_by_role("alert")
        await expect(alert).to_contain_text("Not applied")
        await expect(alert).to_contain_text("en/messages.yaml")
        await expect(alert).to_contain_text("consent_yes")
