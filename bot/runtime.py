"""A running worker: the Application and its jobs, the heartbeat, the inbox, and a receiver
(long polling, or the webhook's HTTP front), until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter

from bot.adapters.receiver import Poller
from bot.app import AnyApp, prepare
from bot.config import Settings
from bot.console.server import console_app, serve_http
from bot.health import HEALTH
from bot.services.facade import Services

log = logging.getLogger(__name__)
BEAT_EVERY = 1.0  # seconds between heartbeats
GRACE = 5.0  # seconds in-flight handling and sends get to finish on SIGTERM

Front = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


async def run(app: AnyApp, settings: Settings, *, front: Front | None = None) -> None:
    """Run until a signal. `front` receives updates (the webhook's server); without one,
    this worker long-polls when `RECEIVE_UPDATES` is on, and only works the inbox and the
    queue when it is off."""
    services: Services = app.bot_data.services
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await _when_telegram_answers(app, stop)
    await app.start()
    tasks = [
        asyncio.create_task(heartbeat(services, stop), name="heartbeat"),
        asyncio.create_task(services.inbox.run(stop), name="inbox"),
    ]
    if front is not None:
        tasks.append(asyncio.create_task(front(stop), name="front"))
    elif settings.receive_updates:
        poller = Poller(app.bot, services.inbox, services.deps.store.is_outage)
        tasks.append(asyncio.create_task(poller.run(stop), name="poller"))
    if front is None and settings.console_listen != "off":
        token = settings.telegram_bot_token
        web = console_app(services, bot_username=app.bot.username or "",
                          bot_token=token.get_secret_value() if token else "", extra=HEALTH)
        tasks.append(asyncio.create_task(serve_http(web, settings.console_listen, stop),
                                         name="console"))
    for task in tasks:
        task.add_done_callback(lambda done: _ended(done, stop))
    log.info("worker %s started", services.deps.liveness.id)
    await _warn_if_nobody_on_call(services)
    await stop.wait()
    log.info("stopping: in-flight work gets %.0f s", GRACE)
    services.dispatcher.stopping = True  # a tick under way sends nothing more
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await services.inbox.lanes.close(GRACE)
    await services.outbox.close(GRACE)
    with contextlib.suppress(Exception):
        await app.stop()  # waits for a tick under way: its sends in flight end, then record
    try:  # what is still claimed goes to the next worker at once, not after a lease
        await asyncio.wait_for(services.deps.liveness.retire(services.deps.store), 2)
    except Exception as exc:
        log.warning("claims not handed back at stop (%s): they return after %s s",
                    type(exc).__name__, settings.heartbeat_stale_seconds)
    await app.shutdown()


async def _warn_if_nobody_on_call(services: Services) -> None:
    try:
        on_call = await asyncio.wait_for(services.clinic.on_call(), 5)
    except Exception:
        return
    if not on_call:
        log.warning("no clinician on call: red flags get the emergency instruction and the "
                    "clinic's phone, but nobody can be paged. Invite one: "
                    "aftercare clinician invite --name NAME")


def _ended(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    """A part of the worker stopped on its own: stop the worker (its process manager starts
    it again) rather than run on without receiving, beating or handling."""
    if task.cancelled() or stop.is_set():
        return
    error = task.exception()
    log.critical("%s stopped (%s): stopping the worker", task.get_name(),
                 type(error).__name__ if error else "returned",
                 exc_info=(type(error), error, error.__traceback__) if error else None)
    stop.set()


async def _when_telegram_answers(app: AnyApp, stop: asyncio.Event) -> None:
    """Initialise (`getMe`, the command menu), waiting out a Telegram that fails or asks
    to slow down: a worker restarted during an outage starts when Telegram is back."""
    pause = 1.0
    while True:
        try:
            await app.initialize()
            await prepare(app)
        except (RetryAfter, NetworkError) as exc:
            if isinstance(exc, BadRequest):  # a refusal, not an outage
                raise
            log.warning("Telegram did not answer at start (%s); trying again in %.0f s",
                        type(exc).__name__, pause)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            if stop.is_set():
                raise SystemExit(0) from exc
            pause = min(pause * 2, 30)
        else:
            return


async def heartbeat(services: Services, stop: asyncio.Event) -> None:
    """Beat every second; log once when the database goes away and once when it is back."""
    deps = services.deps
    away = False
    while not stop.is_set():
        alive = await deps.liveness.beat(deps.store, deps.clock.now())
        if not alive:
            deps.metrics.database_error()
        if alive == away:
            away = not alive
            if away:
                log.error("database unreachable: heartbeats, claims and records wait; "
                          "red flags are answered from memory")
            else:
                log.warning("database reachable again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), BEAT_EVERY)
