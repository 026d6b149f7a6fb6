"""APScheduler wiring (PTB's JobQueue): one short dispatcher tick, the schedule being rows."""

from __future__ import annotations

import logging
from typing import Any

from telegram.ext import CallbackContext, ExtBot, Job, JobQueue

from bot.services.facade import BotData

log = logging.getLogger(__name__)

Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]


async def dispatch_tick(context: Context) -> None:
    """Claim and send what is due; a failure is logged and the next tick tries again (a
    database outage is logged once, by the heartbeat, not by every tick)."""
    services = context.bot_data.services
    try:
        report = await services.dispatcher.tick()
    except Exception as exc:
        if services.deps.store.is_outage(exc):
            return
        raise
    if report.claimed or report.pings:
        log.info(
            "tick: %s claimed, %s sent, %s deferred, %s skipped, %s failed, %s pings",
            report.claimed, report.sent, report.deferred, report.skipped, report.failed,
            report.pings,
        )


async def retention(context: Context) -> None:
    """Erase the courses past the clinic's retention period (several workers: claimed)."""
    services = context.bot_data.services
    erased = await services.privacy.expire()
    if erased:
        log.info("retention: %s course(s) erased", erased)
    pruned = await services.inbox.prune()
    if pruned:
        log.info("retention: %s handled update(s) and sent message(s) forgotten", pruned)


async def menus(context: Context) -> None:
    """Clinicians' command menus follow role changes made without the bot (the CLI)."""
    services = context.bot_data.services
    try:
        await services.menus.refresh()
    except Exception as exc:
        if services.deps.store.is_outage(exc):  # the heartbeat logs outages, once
            return
        raise


async def content(context: Context) -> None:
    """Content an admin applied on another worker (or edited on disk) is taken up here."""
    context.bot_data.services.content_admin.refresh()


RETENTION_EVERY_SECONDS = 3600
MENUS_EVERY_SECONDS = 60


def install(job_queue: JobQueue[Any], interval_seconds: float) -> Job[Any]:
    """Run the tick every `interval_seconds`, menus and content every minute, retention hourly;
    overdue runs coalesce into one, never pile up."""
    job_queue.run_repeating(
        retention, interval=RETENTION_EVERY_SECONDS, first=60.0, name="retention",
        job_kwargs={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
    )
    job_queue.run_repeating(
        menus, interval=MENUS_EVERY_SECONDS, first=MENUS_EVERY_SECONDS, name="menus",
        job_kwargs={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
    )
    job_queue.run_repeating(
        content, interval=MENUS_EVERY_SECONDS, first=MENUS_EVERY_SECONDS, name="content",
        job_kwargs={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
    )
    return job_queue.run_repeating(
        dispatch_tick,
        interval=interval_seconds,
        first=1.0,
        name="dispatcher",
        job_kwargs={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
    )
