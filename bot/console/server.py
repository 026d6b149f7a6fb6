"""The HTTP side of a worker, on one port: the console, /healthz, and in webhook mode the
webhook. uvicorn runs in the worker's own event loop, beside the Application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator, Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.console import admin, pages
from bot.console.render import HERE, refused
from bot.console.security import HEADERS, SecurityHeaders
from bot.services.facade import Services

log = logging.getLogger(__name__)
ERROR_PAGE = ("<!doctype html><title>Aftercare console</title><p>Something went wrong on our "
              "side; it is logged. Go back and try again.</p>")


def routes() -> list[BaseRoute]:
    """The console's pages."""
    return [
        Route("/", pages.worklist_page),
        Route("/worklist", pages.worklist_part),
        Route("/login/{token}", pages.login_form),
        Route("/login/{token}", pages.login, methods=["POST"]),
        Route("/webapp", pages.webapp_page),
        Route("/webapp/login", pages.webapp_login, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/signed-out", pages.signed_out),
        Route("/escalations/{eid}/ack", pages.acknowledge, methods=["POST"]),
        Route("/escalations/{eid}/resolve", pages.resolve, methods=["POST"]),
        Route("/escalations/{eid}/call", pages.call_details),
        Route("/patients", pages.patients),
        Route("/patients/{pid}", pages.patient),
        Route("/media/{mid}", pages.media),
        Route("/enrol", pages.enrol_form),
        Route("/enrol", pages.enrol, methods=["POST"]),
        Route("/admin/clinicians", admin.clinicians),
        Route("/admin/clinicians/invite", admin.invite, methods=["POST"]),
        Route("/admin/clinicians/{cid}/deactivate", admin.deactivate, methods=["POST"]),
        Route("/admin/rota", admin.move, methods=["POST"]),
        Route("/admin/audit", admin.audit),
        Route("/admin/figures", admin.figures),
        Route("/admin/figures.csv", admin.figures_csv),
        Route("/admin/patients/{pid}/record.csv", admin.patient_csv),
        Route("/admin/content", admin.content_files),
        Route("/admin/content/{name:path}", admin.content_file),
        Route("/admin/content/{name:path}", admin.content_upload, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


async def _not_found(request: Request, _exc: Exception) -> Response:
    return refused(request, 404, "not_found")


async def _server_error(_request: Request, _exc: Exception) -> Response:
    """What a browser sees of a bug (logged with its traceback by uvicorn): no details, and
    the same headers as every page (this answer is made outside their middleware)."""
    response = HTMLResponse(ERROR_PAGE, status_code=500)
    for name, value in HEADERS:
        response.headers[name.decode()] = value.decode()
    return response


def console_app(services: Services, *, bot_username: str, bot_token: str,
                extra: Sequence[BaseRoute] = ()) -> Starlette:
    """The console (and `extra` routes: the webhook, /healthz) as one ASGI app."""
    app = Starlette(routes=[*extra, *routes()], middleware=[Middleware(SecurityHeaders)],
                    exception_handlers={404: _not_found, 500: _server_error})
    app.state.services = services
    app.state.bot_username = bot_username
    app.state.bot_token = bot_token
    return app


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the worker's stop event ends it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_http(app: Starlette, listen: str, stop: asyncio.Event,
                     ready: asyncio.Event | None = None) -> None:
    """Serve `app` on `listen` (host:port) until `stop`; `ready` is set once the port
    listens. A port that cannot be bound is logged, not fatal: patients' follow-up does
    not depend on it."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"  # "[::]:8080": IPv6
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, int(port)), family=family)
    except OSError as exc:
        log.error("console: cannot listen on %s (%s); the console and /healthz are not "  # noqa: TRY400
                  "served", listen, exc)  # a busy port needs no traceback
        await stop.wait()
        return
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off",
                            server_header=False, timeout_graceful_shutdown=3)
    server = _Server(config)
    bound = sock.getsockname()
    log.info("console: http://%s:%s (and /healthz)", bound[0], bound[1])
    task = asyncio.create_task(server.serve(sockets=[sock]))
    if ready is not None:
        ready.set()  # the socket listens: a connection waits in its backlog until served
    try:
        await stop.wait()
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
        sock.close()
