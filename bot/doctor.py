"""`aftercare doctor`: is this deployment right? One line per check, with what to do about
each failure; exit status 1 if any check failed."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
from pydantic import ValidationError
from sqlalchemy import text

from bot.adapters.content_files import ContentError, load_library
from bot.config import Settings
from bot.store.db import Database
from bot.store.migrate import current, head

CLOCK_SKEW = 30.0  # seconds between this machine and Telegram's or the database's clock


@dataclass(frozen=True, slots=True)
class Check:
    """One check's verdict; `fix` says what to do when it failed."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        return f"{mark} {self.name}: {self.detail}" + (f" → {self.fix}" if self.fix else "")


async def diagnose() -> list[Check]:
    """Every check, in order; later ones are skipped when what they need failed."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the token
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                             for e in exc.errors())
        return [Check("configuration", False, problems, "fix the environment or .env")]
    checks = [_configuration(settings)]
    checks += await _telegram(settings)
    checks += await _database(settings)
    checks.append(_content(settings))
    checks.append(_storage(settings))
    return checks


def _configuration(s: Settings) -> Check:
    if s.telegram_bot_token is None:
        return Check("configuration", False, "TELEGRAM_BOT_TOKEN is not set",
                     "set it to the token @BotFather gave")
    if s.webhook_url and not s.webhook_url.startswith("https://"):
        return Check("configuration", False, "WEBHOOK_URL is not https",
                     "Telegram posts only to https: put the bot behind a TLS proxy")
    if s.webhook_url and s.webhook_secret is None:
        return Check("configuration", False, "WEBHOOK_SECRET is not set",
                     "set a long random WEBHOOK_SECRET (1-256 of A-Z a-z 0-9 _ -)")
    mode = "webhook" if s.webhook_url else ("polling" if s.receive_updates else "dispatch only")
    return Check("configuration", True, f"{mode}; clinic {s.clinic_timezone}, "
                 f"{s.clinic_hours}; console {s.console_base_url or 'off'}")


async def _telegram(s: Settings) -> list[Check]:
    assert s.telegram_bot_token is not None
    base = f"{s.base_url}{s.telegram_bot_token.get_secret_value()}"
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            me = await client.post(f"{base}/getMe")
            hook = await client.post(f"{base}/getWebhookInfo")
    except httpx.HTTPError as exc:
        return [Check("token", False, f"Telegram did not answer ({type(exc).__name__})",
                      f"check this machine reaches {s.telegram_api_url}")]
    if me.status_code == 401 or not me.json().get("ok"):
        return [Check("token", False, "Telegram refused the token",
                      "copy the token again from @BotFather (/token)")]
    checks = [Check("token", True, f"@{me.json()['result'].get('username')}")]
    url = str(hook.json().get("result", {}).get("url", ""))
    if s.webhook_url and url != s.webhook_url:
        checks.append(Check("webhook", False, f"Telegram posts to {url or 'nowhere'}",
                            "start `aftercare run`: it registers WEBHOOK_URL"))
    elif not s.webhook_url and url:
        checks.append(Check("webhook", False, f"a webhook is set ({url}): polling will fail",
                            "set WEBHOOK_URL to it, or delete it (deleteWebhook)"))
    else:
        checks.append(Check("webhook", True, url or "none (polling)"))
    checks.append(_clock("clock (Telegram)", me.headers.get("date")))
    return checks


def _clock(name: str, date_header: str | None) -> Check:
    if not date_header:
        return Check(name, True, "not told (no Date header)")
    skew = (datetime.now(UTC) - parsedate_to_datetime(date_header)).total_seconds()
    if abs(skew) > CLOCK_SKEW:
        return Check(name, False, f"this machine is {skew:+.0f} s off",
                     "run NTP (systemd-timesyncd or chrony): schedules and sign-ins need it")
    return Check(name, True, f"within {abs(skew):.0f} s")


async def _database(s: Settings) -> list[Check]:
    db = Database(s.database_url)
    try:
        found = await asyncio.wait_for(current(db), 10)
    except Exception as exc:
        await db.dispose()
        return [Check("database", False, f"unreachable ({type(exc).__name__})",
                      "check DATABASE_URL and that the server runs")]
    try:
        checks = [Check("database", True, db.dialect)]
        if found != head():
            checks.append(Check("schema", False, f"at {found or 'no revision'}, not {head()}",
                                "aftercare backup FILE, then aftercare db upgrade"))
            return checks
        checks.append(Check("schema", True, f"current ({head()})"))
        checks.append(await _clinicians(db))
        if db.dialect == "postgresql":
            checks.append(await _db_clock(db))
        return checks
    finally:
        await db.dispose()


async def _clinicians(db: Database) -> Check:
    async with db.unit_of_work() as uow:
        active = await uow.clinicians.on_call()
        rota = await uow.clinicians.rota()
    if not active:
        return Check("clinicians", False, "nobody can be paged",
                     "aftercare clinician invite --name NAME, and open the link in Telegram")
    if not rota:
        return Check("clinicians", True, f"{len(active)} registered, no rota: pages go to all")
    return Check("clinicians", True,
                 f"{len(active)} registered; on call first: {rota[0].name}")


async def _db_clock(db: Database) -> Check:
    async with db.engine.connect() as connection:
        theirs = (await connection.execute(text("SELECT now()"))).scalar_one()
    skew = (datetime.now(UTC) - theirs).total_seconds()
    if abs(skew) > CLOCK_SKEW:
        return Check("clock (database)", False, f"this machine is {skew:+.0f} s off the "
                     "database's", "run NTP on both machines")
    return Check("clock (database)", True, f"within {abs(skew):.0f} s")


def _content(s: Settings) -> Check:
    try:
        library = load_library(s.content_dir, s.clinic_language)
    except ContentError as exc:
        first = str(exc.problems[0]) if exc.problems else str(exc)
        return Check("content", False, f"{len(exc.problems)} problem(s), first: {first}",
                     f"aftercare check-content {s.content_dir}")
    return Check("content", True, f"{s.content_dir}: {', '.join(sorted(library.contents))}")


def _storage(s: Settings) -> Check:
    folder = Path(s.storage_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("media storage", False, f"{folder} is not writable ({exc.strerror})",
                     "give the bot's user a writable STORAGE_DIR")
    return Check("media storage", True, f"{folder.resolve()} writable")


def main(out: Callable[[str], object] = print) -> int:
    """Print each check; 1 if any failed."""
    checks = asyncio.run(diagnose())
    for check in checks:
        out(check.line())
    return 0 if all(c.ok for c in checks) else 1
