"""Webhook mode: several front ends receive updates (only one process may long-poll).

Telegram posts each update to WEBHOOK_URL with the secret we registered in the
`X-Telegram-Bot-Api-Secret-Token` header; a request without it is refused with 403 and
never reaches the bot. An update is stored in the inbox before the 200 that tells Telegram
it arrived; when the database cannot take it, the answer is 503 (Telegram sends it again
later) and a red flag in it is answered from memory meanwhile. `GET /healthz` says whether
the database and Telegram are reachable.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from urllib.parse import urlsplit

from telegram import Update
from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler

from bot.app import AnyApp
from bot.config import Settings
from bot.health import Health
from bot.runtime import run
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
            Update.de_json(data, self.app.bot)  # refuse what is not an update at all
        except (ValueError, TypeError, KeyError, AttributeError):
            self.set_status(400)
            self.finish()
            return
        services: Services = self.app.bot_data.services
        try:
            await services.inbox.receive([data])
        except Exception as exc:
            if not services.deps.store.is_outage(exc):
                raise
            # Not stored: Telegram must send it again (a red flag was answered on receipt).
            self.set_status(503)
            self.finish()
            return
        self.finish()


def webhook_app(app: AnyApp, *, secret: str, path: str) -> Application:
    """The HTTP routes: updates at `path`, health at /healthz."""
    return Application(
        [
            (path, _Updates, {"app": app, "secret": secret}),
            ("/healthz", Health, {"app": app}),
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

    async def front(stop: asyncio.Event) -> None:
        await app.bot.set_webhook(
            settings.webhook_url, secret_token=secret, allowed_updates=Update.ALL_TYPES
        )
        server = HTTPServer(webhook_app(app, secret=secret, path=path), max_body_size=MAX_BODY)
        server.listen(int(port), host or None)
        log.info("webhook: listening on %s, updates at %s", settings.webhook_listen, path)
        try:
            await stop.wait()
        finally:
            server.stop()

    await run(app, settings, front=front)
