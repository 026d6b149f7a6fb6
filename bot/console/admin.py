"""The console's pages for admins: clinicians and the rota, content, figures, the audit
log, CSV exports."""

from __future__ import annotations

import csv
import io

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.console.render import gettext, page, refused
from bot.console.security import services_of, signed_in
from bot.core.texts import record_id
from bot.services.console import Staff
from bot.services.desk import qr_code
from bot.services.enrolment import deep_link

AUDIT_SHOWN = 500
MAX_UPLOAD = 512 * 1024


async def _clinicians(request: Request, staff: Staff, said: str = "", status: int = 200,
                      **extra: object) -> Response:
    everyone, order = await services_of(request).clinic.roster()
    by_id = {c.id: c for c in everyone}
    rota = [by_id[i] for i in order]
    return page(request, "admin_clinicians.html", staff, status, clinicians=everyone,
                rota=rota, said=said, **extra)


@signed_in(admin=True)
async def clinicians(request: Request, staff: Staff) -> Response:
    return await _clinicians(request, staff)


@signed_in(admin=True)
async def invite(request: Request, staff: Staff) -> Response:
    form = await request.form()
    name = str(form.get("name") or "").strip()[:200]
    _ = gettext(request)
    if not name:
        return await _clinicians(request, staff, _("A name is needed."), 422)
    invitation = await services_of(request).enrolment.invite_clinician(
        name=name, admin=form.get("admin") == "on", actor=staff.actor)
    link = deep_link(request.app.state.bot_username, invitation.token)
    return await _clinicians(request, staff, _("%(name)s is invited: they open this link.",
                                               name=name),
                             invited=link, qr=qr_code(link).svg_inline(scale=4))


@signed_in(admin=True)
async def deactivate(request: Request, staff: Staff) -> Response:
    cid = record_id(str(request.path_params["cid"]))
    if cid is None:
        return refused(request, 404, "not_found")
    services = services_of(request)
    said = await services.clinic.deactivate(cid, actor=staff.actor)
    return await _clinicians(request, staff, said)


@signed_in(admin=True)
async def move(request: Request, staff: Staff) -> Response:
    """Move a clinician up or down the rota, add them at its end, or take them off."""
    form = await request.form()
    cid, how = str(form.get("clinician") or ""), str(form.get("how") or "")
    services = services_of(request)
    _, order = await services.clinic.roster()
    who = record_id(cid)
    if who is None:
        return refused(request, 404, "not_found")
    if how == "add" and who not in order:
        order.append(who)
    elif how == "off" and who in order:
        order.remove(who)
    elif how in ("up", "down") and who in order:
        at = order.index(who)
        to = max(0, at - 1) if how == "up" else min(len(order) - 1, at + 1)
        order[at], order[to] = order[to], order[at]
    changed = await services.clinic.set_rota(order, actor=staff.actor)
    return await _clinicians(request, staff, changed.text)


@signed_in(admin=True)
async def audit(request: Request, staff: Staff) -> Response:
    """The audit log, newest first, filtered by action, actor or patient."""
    action = request.query_params.get("action", "")[:60]
    actor = request.query_params.get("actor", "")[:60]
    patient = request.query_params.get("patient", "").lstrip("#")
    pid = record_id(patient)
    events = await services_of(request).clinic.audit(patient_id=pid)
    shown = [e for e in reversed(events)
             if (not action or e.action == action) and (not actor or e.actor == actor)]
    actions = sorted({e.action for e in events})
    return page(request, "admin_audit.html", staff, events=shown[:AUDIT_SHOWN],
                actions=actions, action=action, actor=actor, patient=patient,
                when=services_of(request).deps.clinic_time)


async def home(_request: Request) -> Response:
    return RedirectResponse("/", status_code=303)


@signed_in(admin=True)
async def content_files(request: Request, staff: Staff) -> Response:
    names = services_of(request).content_admin.names()
    return page(request, "admin_content.html", staff, names=names)


async def _content_file(request: Request, staff: Staff, name: str, status: int = 200,
                        **extra: object) -> Response:
    admin_ = services_of(request).content_admin
    text = admin_.read(name)
    if text is None:
        return refused(request, 404, "not_found")
    return page(request, "admin_content_file.html", staff, status, name=name, text=text,
                history=admin_.history(name), **extra)


@signed_in(admin=True)
async def content_file(request: Request, staff: Staff) -> Response:
    return await _content_file(request, staff, str(request.path_params["name"]))


@signed_in(admin=True)
async def content_upload(request: Request, staff: Staff) -> Response:
    """An edited copy of one file: applied only if every language still loads with it."""
    name = str(request.path_params["name"])
    _ = gettext(request)
    form = await request.form()
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        await form.close()
        return await _content_file(request, staff, name, 422,
                                   problems=[_("No file was sent.")])
    raw = await upload.read(MAX_UPLOAD + 1)
    await form.close()  # the spooled upload's file
    if len(raw) > MAX_UPLOAD:
        return await _content_file(request, staff, name, 422,
                                   problems=[_("The file is too big.")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return await _content_file(request, staff, name, 422,
                                   problems=[_("%(name)s: not UTF-8 text", name=name)])
    done = await services_of(request).content_admin.upload(name, text, actor=staff.actor)
    if not done.applied:
        return await _content_file(request, staff, name, 422, problems=list(done.problems))
    return await _content_file(request, staff, name, said=_("%(name)s is applied.", name=name))


@signed_in(admin=True)
async def figures(request: Request, staff: Staff) -> Response:
    trends = await services_of(request).trends.trends()
    top = max([1, *(w.enrolled for w in trends.weeks),
               *(sum(w.escalations.values()) for w in trends.weeks)])
    return page(request, "admin_figures.html", staff, t=trends, top=top)


@signed_in(admin=True)
async def figures_csv(request: Request, _staff: Staff) -> Response:
    """Figures over time in long form: figure, period, what, value."""
    t = await services_of(request).trends.trends()
    rows: list[tuple[object, ...]] = [("figure", "period", "what", "value")]
    for w in t.weeks:
        rows.append(("enrolled", w.start.isoformat(), "", w.enrolled))
        rows += [("escalations", w.start.isoformat(), level, n)
                 for level, n in w.escalations.items()]
        if w.ack_median_minutes is not None:
            rows.append(("ack_median_minutes", w.start.isoformat(), "", w.ack_median_minutes))
    for day, sent, answered in t.reply_rate:
        rows.append(("reply_rate", f"day {day}", f"{answered}/{sent}",
                     round(answered / sent, 3) if sent else ""))
    rows += [("escalations_by_symptom", "", symptom, n) for symptom, n in t.by_symptom]
    return _csv(rows, "aftercare-figures.csv")


@signed_in(admin=True)
async def patient_csv(request: Request, staff: Staff) -> Response:
    """One patient's record as CSV (audited): when, and what happened."""
    pid = record_id(str(request.path_params["pid"]))
    record = (await services_of(request).timeline.record(pid, actor=staff.actor,
                                                          action="export_record")
              if pid else None)
    if record is None or record.patient.erased_at is not None:
        return refused(request, 404, "not_found")
    rows: list[tuple[object, ...]] = [("when", "what")]
    rows += [("", line) for line in record.header]
    rows += [tuple(line.split(" · ", 1)) if " · " in line else ("", line)
             for line in record.events]
    return _csv(rows, f"patient-{record.patient.id}.csv")


def _csv(rows: list[tuple[object, ...]], filename: str) -> Response:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{filename}"'})
