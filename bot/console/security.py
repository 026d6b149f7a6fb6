"""Sessions, CSRF and the headers every console response carries."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.console.render import COOKIE, csrf_token, refused
from bot.services.console import Staff
from bot.services.facade import Services

CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
# Telegram may frame the pages (the Mini App in Telegram Web); nobody else may.
CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
       "script-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
       "frame-ancestors 'self' https://web.telegram.org https://*.telegram.org")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # a login link never leaves in a Referer
    (b"cache-control", b"no-store"),  # patients' details stay out of caches
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]

Endpoint = Callable[..., Awaitable[Response]]


class SecurityHeaders:
    """Adds `HEADERS` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      *(h for h in HEADERS if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, with_headers)


def services_of(request: Request) -> Services:
    """The use cases the console was built over."""
    services: Services = request.app.state.services
    return services


async def staff_of(request: Request) -> Staff | None:
    """The clinician whose session cookie came with the request, if it is live."""
    secret = request.cookies.get(COOKIE)
    if not secret or len(secret) > 128:
        return None
    # The worklist refreshing itself is nobody at work: it must not keep a session alive.
    polled = request.headers.get("hx-trigger") == "worklist" and request.method == "GET"
    return await services_of(request).console.staff(secret, touch=not polled)


async def csrf_ok(request: Request) -> bool:
    """Whether a POST carries its session's CSRF token (htmx's header or a form field)."""
    secret = request.cookies.get(COOKIE, "")
    given = request.headers.get(CSRF_HEADER, "")
    if not given:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else ""
    return bool(secret and given) and hmac.compare_digest(csrf_token(secret).encode(),
                                                          given.encode())


def signed_in(*, admin: bool = False) -> Callable[[Endpoint], Endpoint]:
    """Only for a signed-in clinician (an admin, with `admin`); POSTs need the CSRF token.
    The endpoint gets the `Staff` as its second argument."""
    def wrap(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            staff = await staff_of(request)
            if staff is None:
                return refused(request, 401, "signed_out")
            if admin and not staff.admin:
                return refused(request, 403, "admins_only")
            if request.method == "POST" and not await csrf_ok(request):
                return refused(request, 403, "csrf")
            return await endpoint(request, staff)
        return guarded
    return wrap


def session_cookie(response: Response, secret: str, *, secure: bool) -> None:
    """The session cookie: script cannot read it, other sites cannot send it."""
    response.set_cookie(COOKIE, secret, httponly=True, samesite="strict", secure=secure,
                        path="/")
