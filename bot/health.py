"""Operations' view of a worker, served beside the console (on `CONSOLE_LISTEN`, or the
webhook's port): `/healthz` (alive), `/readyz` (able to work), `/metrics` (Prometheus)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.adapters.metrics import CONTENT_TYPE, PrometheusMetrics
from bot.adapters.telegram_io import TelegramMessenger
from bot.services.facade import Services
from bot.store.db import Database
from bot.store.migrate import current, head

SCHEMA_CHECK_EVERY = 60.0  # seconds; the schema changes only with an upgrade


async def healthz(request: Request) -> Response:
    """The process serves: 200 while the event loop runs."""
    services: Services = request.app.state.services
    return JSONResponse({"status": "alive", "worker": services.deps.liveness.id})


async def readyz(request: Request) -> Response:
    """Whether this worker can do its work: 200 when every check passes, else 503."""
    services: Services = request.app.state.services
    deps = services.deps
    database = deps.liveness.heard(deps.clock.now())
    checks: dict[str, Any] = {
        "database": "reachable" if database else "unreachable",
        "schema": await _schema(request) if database else "unknown",
        "telegram": "reachable" if await _telegram(services) else "unreachable",
    }
    on_call = await _on_call(services) if database else None
    checks["clinicians"] = ("unknown" if on_call is None
                            else "on call" if on_call else "no clinician on call")
    ready = (database and checks["schema"] == "current"
             and checks["telegram"] == "reachable" and bool(on_call))
    return JSONResponse({"status": "ready" if ready else "not ready", **checks},
                        status_code=200 if ready else 503)


async def metrics(request: Request) -> Response:
    """Prometheus' text format; what is waiting is read from the database now."""
    services: Services = request.app.state.services
    counters = services.deps.metrics
    if not isinstance(counters, PrometheusMetrics):
        return Response("metrics are off\n", status_code=404, media_type="text/plain")
    try:
        backlog = await asyncio.wait_for(services.monitoring.backlog(), 5)
    except Exception:  # the counters still tell; the database's part is left out
        backlog = None
    body = counters.render(backlog, services.deps.clock.now())
    return Response(body, media_type=CONTENT_TYPE)


async def _schema(request: Request) -> str:
    state = request.app.state
    checked = getattr(state, "schema_checked", None)
    if checked is not None and time.monotonic() - checked[0] < SCHEMA_CHECK_EVERY:
        return str(checked[1])
    store = request.app.state.services.deps.store
    if not isinstance(store, Database):
        return "unknown"
    try:
        found = await asyncio.wait_for(current(store), 5)
    except Exception:
        return "unknown"
    verdict = ("current" if found == head() else
               f"at {found or 'no revision'}, not {head()}: run aftercare db upgrade")
    state.schema_checked = (time.monotonic(), verdict)
    return verdict


async def _telegram(services: Services) -> bool:
    messenger = services.deps.messenger
    if not isinstance(messenger, TelegramMessenger):
        return True
    return await messenger.answered_lately()


async def _on_call(services: Services) -> int | None:
    try:
        return await asyncio.wait_for(services.clinic.on_call(), 2)
    except Exception:
        return None


HEALTH: list[BaseRoute] = [Route("/healthz", healthz), Route("/readyz", readyz),
                           Route("/metrics", metrics)]
