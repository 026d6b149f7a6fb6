"""Webhook mode: several front ends receive updates (only one process may long-poll).

Telegram posts each update to WEBHOOK_URL with the secret we registered in the
`X-Telegram-Bot-Api-Secret-Token` header; a request without it is refused with 403 and
never reaches the bot. An update is stored in the inbox before the 200 that tells Telegram
it arrived; when the database cannot take it, the answer is 503 (Telegram sends it again
later) and a red flag in it is answered from memory meanwhile. The same port serves the
console and `GET /healthz`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Update

from bot.app import AnyApp
from bot.config import Settings
from bot.console.server import console_app, serve_http
from bot.health import HEALTH
from bot.runtime import run
from bot.services.facade import Services

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # an update is a few KB; anything this big is not from Telegram


def updates_route(app: AnyApp, *, secret: str, path: str) -> Route:
    """Where Telegram posts updates: each is stored in the inbox before the 200."""

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return Response(status_code=403)
        size = request.headers.get("content-length", "")
        if size.isdigit() and int(size) > MAX_BODY:
            return Response(status_code=413)
        body = await request.body()
        if len(body) > MAX_BODY:
            return Response(status_code=413)
        try:
            data = json.loads(body)
            Update.de_json(data, app.bot)  # refuse what is not an update at all
        except (ValueError, TypeError, KeyError, AttributeError):
            return Response(status_code=400)
        services: Services = app.bot_data.services
        try:
            await services.inbox.receive([data])
        except Exception as exc:
            if not services.deps.store.is_outage(exc):
                raise
            # Not stored: Telegram must send it again (a red flag was answered on receipt).
            return Response(status_code=503)
        return Response(status_code=200)

    return Route(path, receive, methods=["POST"])


def webhook_app(app: AnyApp, settings: Settings, *, secret: str, path: str) -> Starlette:
    """The HTTP routes: updates at `path`, /healthz, and the console."""
    token = settings.telegram_bot_token
    return console_app(app.bot_data.services, bot_username=app.bot.username or "",
                       bot_token=token.get_secret_value() if token else "",
                       extra=[updates_route(app, secret=secret, path=path), *HEALTH])


async def serve(app: AnyApp, settings: Settings) -> None:
    """Run the bot behind the webhook until SIGINT/SIGTERM."""
    assert settings.webhook_url is not None
    if settings.webhook_secret is None:
        raise ValueError("WEBHOOK_SECRET is required in webhook mode")
    secret = settings.webhook_secret.get_secret_value()
    path = urlsplit(settings.webhook_url).path or "/"

    async def front(stop: asyncio.Event) -> None:
        await app.bot.set_webhook(
            settings.webhook_url, secret_token=secret, allowed_updates=Update.ALL_TYPES
        )
        log.info("webhook: updates at %s on %s", path, settings.webhook_listen)
        await serve_http(webhook_app(app, settings, secret=secret, path=path),
                         settings.webhook_listen, stop)

    await run(app, settings, front=front)
