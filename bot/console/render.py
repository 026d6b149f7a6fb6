"""Templates and what every page sees."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from bot.console.i18n import Gettext, translator
from bot.services.console import Staff

HERE = Path(__file__).parent
COOKIE = "aftercare_session"
templates = Jinja2Templates(env=jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True))

REFUSALS = {
    "signed_out": "You are not signed in. Send /console to the bot for a sign-in link.",
    "link_used": "This sign-in link was used already or has expired. Send /console to the "
                 "bot for a new one.",
    "admins_only": "This page is for the clinic's admins.",
    "csrf": "This form was out of date. Reload the page and try again.",
    "not_found": "Nothing here.",
}


def csrf_token(session_secret: str) -> str:
    """The CSRF token of a session: derived from its secret, so nothing more is stored."""
    return hmac.new(session_secret.encode(), b"csrf", hashlib.sha256).hexdigest()


def gettext(request: Request) -> Gettext:
    """The console's words in the clinic's language (`CLINIC_LANGUAGE`)."""
    return translator(request.app.state.services.deps.content.language)


def page(request: Request, template: str, staff: Staff | None, status: int = 200,
         **values: Any) -> Response:
    """A template, with what every page sees: the clinic, the clinician, the CSRF token,
    and `_` for its words in the clinic's language."""
    secret = request.cookies.get(COOKIE, "")
    content = request.app.state.services.deps.content
    return templates.TemplateResponse(request, template, {
        "staff": staff, "csrf": csrf_token(secret) if staff and secret else "",
        "clinic": content.clinic.name, "language": content.language,
        "_": translator(content.language), **values}, status_code=status)


def refused(request: Request, status: int, why: str) -> Response:
    """A refusal a person can act on (what to do next), never a stack trace. A part of a
    page asking (htmx) reloads the whole page instead, which then shows the refusal."""
    message = gettext(request)(REFUSALS[why])
    response = page(request, "refused.html", None, status, message=message)
    if request.headers.get("hx-request"):
        response.headers["HX-Refresh"] = "true"
    return response
