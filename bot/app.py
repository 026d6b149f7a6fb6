"""Composition root: the one place that builds the Application and wires everything together."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import BotCommand, Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import BaseRequest

from bot import handlers
from bot.adapters.charts import MatplotlibCharts
from bot.adapters.content_edit import ContentFolder
from bot.adapters.content_files import load_library
from bot.adapters.languages import FastLangdetect
from bot.adapters.metrics import PrometheusMetrics
from bot.adapters.pacing import Pacer
from bot.adapters.speech import MoonshineTranscriber
from bot.adapters.telegram_io import Reachability, TelegramMessenger, TelegramRequest
from bot.config import Settings
from bot.core.clock import Clock, ShiftedClock, SystemClock
from bot.core.content import Content
from bot.core.flood import FloodLimit
from bot.core.ladder import ClinicHours
from bot.core.library import Library
from bot.services.access import Role
from bot.services.common import Deps
from bot.services.facade import BotData, Services
from bot.services.liveness import Liveness
from bot.services.ports import MediaStore, Messenger, Metrics, NoMetrics
from bot.store.budget import DatabaseBudget
from bot.store.db import Database
from bot.store.files import PhotoStore
from bot.store.media import DatabaseMedia
from scheduler import jobs

AnyApp = Application[Any, Any, Any, Any, Any, Any]
log = logging.getLogger(__name__)


def build_application(
    settings: Settings,
    *,
    clock: Clock | None = None,
    content: Content | Library | None = None,
    database: Database | None = None,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
    schedule_jobs: bool = True,
) -> AnyApp:
    """Build the bot. Tests and the demo pass a sandbox request, a fake clock, a database."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    editable = content is None  # read from CONTENT_DIR: admins may edit it from the console
    library = _library(settings, content)
    db = database or Database(settings.database_url)
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.base_url)
        .base_file_url(settings.base_file_url)
        .context_types(ContextTypes(bot_data=BotData))
        .post_init(prepare)
        .post_shutdown(_close)
    )
    if request is None:  # PTB's default pool sizes, with a 504 read as a timeout
        request, updates_request = (
            TelegramRequest(connection_pool_size=256), TelegramRequest(connection_pool_size=1)
        )
    builder = builder.request(request).get_updates_request(updates_request or request)
    if settings.rate_limit:
        # PTB types the builder by its limiter's argument type; ours takes a dict.
        builder = builder.rate_limiter(pacer(settings, db))  # type: ignore[arg-type]
    app: AnyApp = builder.build()
    clock = clock or system_clock(settings)
    metrics = PrometheusMetrics()
    messenger = TelegramMessenger(app.bot, Reachability(clock.now),
                                  local_files=settings.telegram_local_files, metrics=metrics)
    app.bot_data.services = build_services(
        settings, messenger=messenger, clock=clock, content=library, database=db,
        editable=editable, metrics=metrics,
    )
    handlers.register(app, FloodLimit(settings.flood_burst, settings.flood_per_minute))
    app.bot_data.services.inbox.handler = lambda raw: app.process_update(
        Update.de_json(raw, app.bot)
    )
    if schedule_jobs and app.job_queue is not None:
        jobs.install(app.job_queue, settings.dispatch_interval_seconds)
    return app


def pacer(settings: Settings, db: Database) -> Pacer:
    """Telegram's limits; shared by every worker through the database when asked (or PG)."""
    shared = settings.global_pace if settings.global_pace is not None else (
        db.dialect == "postgresql"
    )
    budget = DatabaseBudget(db, int(settings.send_per_second)) if shared else None
    return Pacer(
        per_second=settings.send_per_second,
        chat_interval=settings.send_chat_interval_seconds,
        group_interval=60 / settings.send_group_per_minute,
        budget=budget,
    )


def build_services(
    settings: Settings,
    *,
    messenger: Messenger,
    clock: Clock | None = None,
    content: Content | Library | None = None,
    database: Database | None = None,
    editable: bool | None = None,
    metrics: Metrics | None = None,
) -> Services:
    """The use cases over their dependencies (the CLI uses this without a running bot).
    `editable`: the content is CONTENT_DIR's, editable from the console (default: when no
    content is given)."""
    library = _library(settings, content)
    store = database or Database(settings.database_url)
    deps = Deps(
        store=store,
        content=library.speaks(library.clinic),
        library=library,
        clock=clock or system_clock(settings),
        messenger=messenger,
        clinic_tz=ZoneInfo(settings.clinic_timezone),
        token_ttl=timedelta(days=settings.token_ttl_days),
        clinic_hours=ClinicHours.parse(settings.clinic_hours),
        ack_timeout_urgent=timedelta(minutes=settings.ack_timeout_urgent_minutes),
        ack_timeout_emergency=timedelta(minutes=settings.ack_timeout_emergency_minutes),
        reask_after=timedelta(hours=settings.reask_after_hours),
        emergency_hold=timedelta(hours=settings.emergency_hold_hours),
        missed_checkins_alert=settings.missed_checkins_alert,
        charts=MatplotlibCharts(),
        photo_store=media_store(settings, store),
        max_photo_bytes=int(settings.max_photo_mb * 1024 * 1024),
        transcriber=(MoonshineTranscriber(max_seconds=settings.voice_max_seconds,
                                          timeout=settings.voice_timeout_seconds)
                     if settings.voice_transcription == "moonshine" else None),
        max_voice_bytes=int(settings.max_voice_mb * 1024 * 1024),
        languages=FastLangdetect(),
        claim_lease=timedelta(seconds=settings.claim_lease_seconds),
        claim_batch=settings.claim_batch,
        retry_base=timedelta(seconds=settings.retry_base_seconds),
        max_attempts=settings.max_attempts,
        send_concurrency=settings.send_concurrency,
        liveness=Liveness(timedelta(seconds=settings.heartbeat_stale_seconds)),
        metrics=metrics or NoMetrics(),
    )
    files = (ContentFolder(settings.content_dir, settings.clinic_language)
             if (content is None if editable is None else editable) else None)
    return Services(deps, console_url=settings.console_base_url, content_files=files)


def media_store(settings: Settings, db: Database) -> MediaStore:
    """Photos and voice notes: in the database when every worker must read them."""
    where = settings.media_storage
    if where == "database" or (where == "auto" and db.dialect == "postgresql"):
        return DatabaseMedia(db)
    return PhotoStore(settings.storage_dir / "photos")


def _library(settings: Settings, content: Content | Library | None) -> Library:
    """The shipped languages (a test's one Content stands for the clinic's only)."""
    if isinstance(content, Library):
        return content
    if content is not None:
        return Library({content.language: content}, content.language)
    return load_library(settings.content_dir, settings.clinic_language)


def system_clock(settings: Settings) -> Clock:
    """The machine's clock, shifted when a rehearsal or a process test asks for it."""
    if settings.clock_offset_seconds:
        log.warning("the clock is shifted by %.0f s (CLOCK_OFFSET_SECONDS): tests only",
                    settings.clock_offset_seconds)
        return ShiftedClock(timedelta(seconds=settings.clock_offset_seconds))
    return SystemClock()


async def prepare(app: AnyApp) -> None:
    """Before the first update: Telegram shows our commands (the schema is checked earlier),
    and each followed patient's language and country are in memory for the instruction on
    receipt (best effort: a database away now is no reason not to start)."""
    deps = app.bot_data.services.deps
    try:
        await app.bot_data.services.patients.recall_whereabouts()
    except Exception as exc:  # logged; each message refreshes its patient's
        log.warning("patients' languages and countries not recalled at start: %s",
                    type(exc).__name__)
    menus = app.bot_data.services.menus
    await app.bot.set_my_commands(
        [BotCommand(c, d) for c, d in menus.commands(Role.ANYONE)]
    )
    # Telegram shows each user the menu of their app's language, when there is one.
    for code in sorted(deps.spoken - {deps.content.language}):
        await app.bot.set_my_commands(
            [BotCommand(c, d) for c, d in menus.commands(Role.ANYONE, code)],
            language_code=code,
        )
    try:  # clinicians' and admins' own menus, per chat (a failure is retried every minute)
        await menus.refresh()
    except Exception as exc:
        log.warning("clinicians' command menus not set at start: %s", type(exc).__name__)


async def _close(app: AnyApp) -> None:
    services: Services = app.bot_data.services
    await services.deps.store.dispose()
