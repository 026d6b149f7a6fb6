"""`GET /healthz`: whether the database and Telegram are reachable, as JSON. Served on the
webhook's port in webhook mode, and on `HEALTH_LISTEN` by a polling worker (which has no
other port)."""

from __future__ import annotations

import asyncio
import logging

from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler

from bot.adapters.telegram_io import TelegramMessenger
from bot.app import AnyApp
from bot.services.facade import Services

log = logging.getLogger(__name__)


class Health(RequestHandler):
    """200 when both answer, 503 when the database does not (the worker cannot work)."""

    def initialize(self, app: AnyApp) -> None:
        self.app = app

    async def get(self) -> None:
        services: Services = self.app.bot_data.services
        database = services.deps.liveness.heard(services.deps.clock.now())
        messenger = services.deps.messenger
        telegram = not (isinstance(messenger, TelegramMessenger)
                        and messenger.reachability.down_since is not None)
        on_call = await _on_call(services) if database else None
        if not database:
            self.set_status(503)
        self.finish({
            "status": "ok" if database and telegram and on_call else "degraded",
            "database": "reachable" if database else "unreachable",
            "telegram": "reachable" if telegram else "unreachable",
            "clinicians": ("unknown" if on_call is None
                           else "on call" if on_call else "no clinician on call"),
        })


async def _on_call(services: Services) -> int | None:
    try:
        return await asyncio.wait_for(services.clinic.on_call(), 2)
    except Exception:
        return None


async def serve_health(app: AnyApp, listen: str, stop: asyncio.Event) -> None:
    """Serve /healthz on `listen` (host:port) until `stop`. A port that cannot be bound is
    logged, not fatal: patients' follow-up does not depend on it."""
    host, _, port = listen.rpartition(":")
    server = HTTPServer(Application([("/healthz", Health, {"app": app})]))
    try:
        server.listen(int(port), host or None)
    except OSError as exc:
        log.error("health: cannot listen on %s (%s); /healthz is not served",  # noqa: TRY400
                  listen, exc)  # a busy port needs no traceback
    else:
        log.info("health: /healthz on %s", listen)
    try:
        await stop.wait()
    finally:
        server.stop()
