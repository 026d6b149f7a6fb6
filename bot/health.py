"""`GET /healthz`: whether the database and Telegram are reachable, as JSON. Served beside
the console: on `CONSOLE_LISTEN` by a polling worker, on the webhook's port in webhook mode."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.adapters.telegram_io import TelegramMessenger
from bot.services.facade import Services


async def healthz(request: Request) -> Response:
    """200 when the database answers, 503 when it does not (the worker cannot work)."""
    services: Services = request.app.state.services
    database = services.deps.liveness.heard(services.deps.clock.now())
    messenger = services.deps.messenger
    telegram = not (isinstance(messenger, TelegramMessenger)
                    and messenger.reachability.down_since is not None)
    on_call = await _on_call(services) if database else None
    return JSONResponse({
        "status": "ok" if database and telegram and on_call else "degraded",
        "database": "reachable" if database else "unreachable",
        "telegram": "reachable" if telegram else "unreachable",
        "clinicians": ("unknown" if on_call is None
                       else "on call" if on_call else "no clinician on call"),
    }, status_code=200 if database else 503)


async def _on_call(services: Services) -> int | None:
    try:
        return await asyncio.wait_for(services.clinic.on_call(), 2)
    except Exception:
        return None


HEALTH = Route("/healthz", healthz)
