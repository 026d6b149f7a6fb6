"""The console's pages for every clinician: sign-in, the worklist, patients, the desk."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, available_timezones

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.console.render import COOKIE, gettext, page, refused
from bot.console.security import services_of, session_cookie, signed_in
from bot.core.countries import country_of
from bot.core.texts import record_id
from bot.core.webapp import init_data_user
from bot.services.console import Staff
from bot.services.desk import qr_code
from bot.services.enrolment import deep_link
from bot.services.worklist import FILTERS

MAX_FIELD = 2000  # characters: a name, a note; more is not a person typing


def _int(request: Request, name: str) -> int | None:
    return record_id(str(request.path_params.get(name, "")))


def _behind_https(request: Request) -> bool:
    """Whether browsers reach the console over HTTPS: its public URL says so (a TLS proxy in
    front hands us plain HTTP), or the request itself came that way."""
    url = services_of(request).console.url or ""
    return url.startswith("https://") or request.url.scheme == "https"


def _same_origin(request: Request) -> bool:
    """Whether a sign-in POST comes from our own page: another site must not sign a
    browser in as someone else (an `Origin` of another host is refused; tools send none)."""
    origin = request.headers.get("origin")
    if origin in (None, "null"):  # "null": what browsers send under no-referrer
        return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
    public = urlsplit(services_of(request).console.url or "").netloc
    ours = {request.headers.get("host", ""), public}
    return urlsplit(origin).netloc in ours


async def _small_body(request: Request, limit: int) -> bytes | None:
    """The request's body, or None past `limit` bytes (read no further than that)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return body


# --- signing in
async def login_form(request: Request) -> Response:
    """The link from the bot opens a page with one button: a link preview or a scanner that
    fetches the URL does not use it up."""
    return page(request, "login.html", None, token=request.path_params["token"])


async def login(request: Request) -> Response:
    if not _same_origin(request):
        return refused(request, 403, "csrf")
    token = str(request.path_params["token"])
    secret = await services_of(request).console.login(token) if len(token) < 100 else None
    if secret is None:
        return refused(request, 401, "link_used")
    response = RedirectResponse("/", status_code=303)
    session_cookie(response, secret, secure=_behind_https(request))
    return response


async def webapp_page(request: Request) -> Response:
    """The Mini App's entry: its script posts Telegram's signed init data to sign in."""
    return page(request, "webapp.html", None)


async def webapp_login(request: Request) -> Response:
    body = await _small_body(request, 8192) if _same_origin(request) else None
    data = parse_qs(body.decode("utf-8", "replace")).get("init_data", [""])[0] if body else ""
    signed = init_data_user(data, request.app.state.bot_token,
                            services_of(request).deps.clock.now()) if data else None
    secret = (await services_of(request).console.login_by_chat(*signed) if signed
              else None)
    if secret is None:
        return refused(request, 401, "signed_out")
    response = Response(status_code=204)
    session_cookie(response, secret, secure=_behind_https(request))
    return response


@signed_in()
async def logout(request: Request, _staff: Staff) -> Response:
    await services_of(request).console.logout(request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/signed-out", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


async def signed_out(request: Request) -> Response:
    return refused(request, 200, "signed_out")


# --- the worklist
async def _worklist(request: Request, staff: Staff, template: str, said: str = "") -> Response:
    items = await services_of(request).worklist.items()
    return page(request, template, staff, items=items, said=said)


@signed_in()
async def worklist_page(request: Request, staff: Staff) -> Response:
    return await _worklist(request, staff, "worklist.html")


@signed_in()
async def worklist_part(request: Request, staff: Staff) -> Response:
    return await _worklist(request, staff, "_worklist.html")


@signed_in()
async def acknowledge(request: Request, staff: Staff) -> Response:
    eid = _int(request, "eid")
    if eid is None:
        return refused(request, 404, "not_found")
    said = await services_of(request).clinician_actions.acknowledge(staff.clinician_id, eid)
    return await _worklist(request, staff, "_worklist.html", said)


@signed_in()
async def resolve(request: Request, staff: Staff) -> Response:
    eid = _int(request, "eid")
    note = (await request.form()).get("note")
    if eid is None:
        return refused(request, 404, "not_found")
    text = note[:MAX_FIELD] if isinstance(note, str) else ""
    said = await services_of(request).clinician_actions.resolve(staff.clinician_id, eid, text)
    return await _worklist(request, staff, "_worklist.html", said)


@signed_in()
async def call_details(request: Request, staff: Staff) -> Response:
    eid = _int(request, "eid")
    found = await services_of(request).worklist.call(staff.actor, eid) if eid else None
    if found is None:
        return refused(request, 404, "not_found")
    return page(request, "_call.html", staff, name=found[0], phone=found[1])


# --- patients
@signed_in()
async def patients(request: Request, staff: Staff) -> Response:
    query = request.query_params.get("q", "")[:100]
    show = request.query_params.get("show", "all")
    show = show if show in FILTERS else "all"
    day_text = request.query_params.get("day", "")
    day = (int(day_text) if day_text.isascii() and day_text.isdigit() and len(day_text) < 4
           else None)
    rows = await services_of(request).worklist.patients(query, show, day)
    template = "_patients.html" if request.headers.get("hx-request") else "patients.html"
    return page(request, template, staff, rows=rows, q=query, show=show, filters=FILTERS,
                day=day)


@signed_in()
async def patient(request: Request, staff: Staff) -> Response:
    pid = _int(request, "pid")
    record = (await services_of(request).timeline.record(pid, actor=staff.actor)
              if pid else None)
    if record is None or record.patient.erased_at is not None:
        return refused(request, 404, "not_found")
    return page(request, "patient.html", staff, r=record)


@signed_in()
async def media(request: Request, staff: Staff) -> Response:
    mid = _int(request, "mid")
    found = await services_of(request).worklist.media(mid, staff.actor) if mid else None
    if found is None:
        return refused(request, 404, "not_found")
    mime, data = found
    return Response(data, media_type=mime)


# --- the desk
def _enrol_form(request: Request, staff: Staff, error: str = "", status: int = 200,
                **given: object) -> Response:
    deps = services_of(request).deps
    return page(request, "enrol.html", staff, status, error=error,
                areas=deps.content.clinic.treated_areas, languages=sorted(deps.spoken),
                zone=given.get("zone") or deps.clinic_tz.key, given=given)


@signed_in()
async def enrol_form(request: Request, staff: Staff) -> Response:
    return _enrol_form(request, staff)


@signed_in()
async def enrol(request: Request, staff: Staff) -> Response:
    """The desk's form: the same use case as `aftercare enrol` and `/enrol`."""
    form = await request.form()
    field = {k: str(v)[:MAX_FIELD] for k, v in form.multi_items() if isinstance(v, str)}
    areas = [str(a) for a in form.getlist("areas") if isinstance(a, str)]
    given = {"name": field.get("name", "").strip(), "when": field.get("when", ""),
             "zone": field.get("zone", "").strip(), "phone": field.get("phone", "").strip(),
             "language": field.get("language", ""), "areas": areas}
    services = services_of(request)
    _ = gettext(request)
    if not given["name"]:
        return _enrol_form(request, staff, _("The patient's name is missing."), 422, **given)
    zone_name = str(given["zone"]) or services.deps.clinic_tz.key
    if zone_name not in available_timezones():
        problem = _("Unknown time zone %(zone)s: use a name such as Europe/Paris.",
                    zone=zone_name)
        return _enrol_form(request, staff, problem, 422, **given)
    try:
        zone = ZoneInfo(zone_name)
        session_at = datetime.fromisoformat(str(given["when"])).replace(tzinfo=zone)
        invitation = await services.enrolment.invite_patient(
            name=str(given["name"]), session_at=session_at, timezone=zone.key,
            areas=", ".join(areas), phone=str(given["phone"]) or None,
            actor=staff.actor, language=str(given["language"]))
    except (ValueError, LookupError, OverflowError) as exc:
        message = str(exc) or "check the session time and time zone"
        return _enrol_form(request, staff, message, 422, **given)
    link = deep_link(request.app.state.bot_username, invitation.token)
    return page(request, "enrolled.html", staff, link=link,
                qr=qr_code(link).svg_inline(scale=5, omitsize=True),
                handout=services.desk.handout(str(given["language"]),
                                              country_of(str(given["phone"]) or None)),
                name=given["name"], pid=invitation.patient_id)
