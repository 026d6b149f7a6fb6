"""Webhook mode: several front ends receive updates (only one process may long-poll).

Telegram posts each update to WEBHOOK_URL with the secret we registered in the
`X-Telegram-Bot-Api-Secret-Token` header; a request without it is refused with 403 and
never reaches the bot. `GET /healthz` answers 200 while the database answers.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
from urllib.parse import urlsplit

from telegram import Update
from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler

from bot.app import AnyApp, prepare
from bot.config import Settings
from bot.services.facade import Services

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # an update is a few KB; anything this big is not from Telegram


class _Updates(RequestHandler):
    def initialize(self, app: AnyApp, secret: str) -> None:
        self.app = app
        self.secret = secret

    async def post(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            self.set_status(403)
            self.finish()
            return
        if len(self.request.body) > MAX_BODY:
            self.set_status(413)
            self.finish()
            return
        try:
            data = json.loads(self.request.body)
            update = Update.de_json(data, self.app.bot)
        except (ValueError, TypeError, KeyError):
            self.set_status(400)
            self.finish()
            return
        await self.app.update_queue.put(update)
        self.finish()


class _Health(RequestHandler):
    def initialize(self, app: AnyApp) -> None:
        self.app = app

    async def get(self) -> None:
        services: Services = self.app.bot_data.services
        if not await services.deps.store.reachable(within=2):
            self.set_status(503)
            self.finish({"status": "database unreachable"})
            return
        self.finish({"status": "ok"})


def webhook_app(app: AnyApp, *, secret: str, path: str) -> Application:
    """The HTTP routes: updates at `path`, health at /healthz."""
    return Application(
        [
            (path, _Updates, {"app": app, "secret": secret}),
            ("/healthz", _Health, {"app": app}),
        ]
    )


async def serve(app: AnyApp, settings: Settings) -> None:
    """Run the bot behind the webhook until SIGINT/SIGTERM."""
    assert settings.webhook_url is not None
    if settings.webhook_secret is None:
        raise ValueError("WEBHOOK_SECRET is required in webhook mode")
    secret = settings.webhook_secret.get_secret_value()
    path = urlsplit(settings.webhook_url).path or "/"
    host, _, port = settings.webhook_listen.rpartition(":")
    await app.initialize()
    await prepare(app)
    await app.bot.set_webhook(
        settings.webhook_url, secret_token=secret, allowed_updates=Update.ALL_TYPES
    )
    await app.start()
    server = HTTPServer(webhook_app(app, secret=secret, path=path), max_body_size=MAX_BODY)
    server.listen(int(port), host or None)
    log.info("webhook: listening on %s, updates at %s", settings.webhook_listen, path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    await app.stop()
    await app.shutdown()

