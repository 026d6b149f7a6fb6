"""What every `aftercare` command shares: settings, the schema check, the bot's name, and
the use cases without a running bot. Errors a user can fix are `CliError`s."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from bot.config import Settings


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def load_settings() -> Settings:
    """The settings from the environment, or one line saying what is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise CliError(f"configuration: {problems}") from exc


async def check_schema(settings: Settings) -> None:
    """Refuse to run against a database whose schema is not current."""
    from bot.store.db import Database  # noqa: PLC0415
    from bot.store.migrate import SchemaOutOfDate, ensure_current  # noqa: PLC0415

    db = Database(settings.database_url)
    try:
        await ensure_current(db)
    except SchemaOutOfDate as exc:
        raise CliError(str(exc)) from exc
    finally:
        await db.dispose()


async def bot_username(settings: Settings) -> str:
    """The bot's @name, for deep links (BOT_USERNAME, else asked of Telegram)."""
    if settings.bot_username:
        return settings.bot_username.lstrip("@")
    if settings.telegram_bot_token is None:
        raise CliError("set BOT_USERNAME (or TELEGRAM_BOT_TOKEN to ask Telegram) to build links")
    from telegram import Bot  # noqa: PLC0415

    bot = Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=settings.base_url,
        base_file_url=settings.base_file_url,
    )
    async with bot:
        me = await bot.get_me()
    return str(me.username)


async def with_services(work: Any) -> Any:
    """Run `work(services)` against the configured database, without a bot."""
    from bot.app import build_services  # noqa: PLC0415
    from bot.services.ports import OfflineMessenger  # noqa: PLC0415

    settings = load_settings()
    await check_schema(settings)
    services = build_services(settings, messenger=OfflineMessenger())
    try:
        return await work(services)
    finally:
        await services.deps.store.dispose()
