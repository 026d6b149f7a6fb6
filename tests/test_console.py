"""The clinic console over HTTP (issue 16): signing in through the bot, sessions, CSRF,
roles, the worklist acting on the same escalations as Telegram, the desk's form."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from sqlmodel import select

from bot.core.clock import FakeClock
from bot.rehearsal import Rehearsal, sandbox_settings
from bot.sandbox import SandboxUser
from bot.store.db import Database
from bot.store.models import AuditEvent, Escalation, Patient
from tests.conftest import paris
from tests.console_helpers import login_path, person, sign_in, web


async def emergency(r: Rehearsal) -> tuple[SandboxUser, SandboxUser]:
    """Ana, enrolled, reports an emergency; Nurse and Doctor are paged."""
    nurse, ana = person(r, "Nurse"), r.server.user("Ana")
    r.clock.set(paris(2026, 11, 5, 10, 0))
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    await r.say(ana, "my lips are swelling and my throat feels tight")
    await r.services.outbox.idle()
    assert "EMERGENCY" in (r.server.last(nurse.id).text or "")
    return nurse, ana


async def audited(r: Rehearsal, action: str) -> list[AuditEvent]:
    async with r.db.unit_of_work() as uow:
        rows = (await uow.orm.exec(select(AuditEvent).where(AuditEvent.action == action))).all()
    return list(rows)


async def test_a_login_link_works_once_for_ten_minutes_and_nothing_else_gets_in(
    clinic: Rehearsal,
) -> None:
    r = clinic
    nurse = person(r, "Nurse")
    async with web(r) as client:
        assert (await client.get("/")).status_code == 401  # a stranger reaches nothing
        assert (await client.get("/patients/1")).status_code == 401
        assert (await client.post("/login/forged-token-that-was-never-sent")).status_code == 401
        path = await login_path(r, nurse)
        first = await client.post(path)
        assert first.status_code == 303
        cookie = first.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert (await client.get("/")).status_code == 200
    async with web(r) as other:
        assert (await other.post(path)).status_code == 401  # used: no second session
        late = await login_path(r, nurse)
        r.clock.advance(timedelta(minutes=11))
        assert (await other.post(late)).status_code == 401  # expired
    stranger = r.server.user("Stranger")
    await r.say(stranger, "/console")
    await r.services.outbox.idle()
    assert "/login/" not in (r.server.last(stranger.id).text or "")
    assert len(await audited(r, "console_login")) == 1


async def test_posts_need_the_csrf_token_and_headers_forbid_framing(clinic: Rehearsal) -> None:
    r = clinic
    await emergency(r)
    async with web(r) as client:
        csrf = await sign_in(r, client, person(r, "Nurse"))
        refused = await client.post("/escalations/1/ack")
        assert refused.status_code == 403
        forged = await client.post("/escalations/1/ack", data={"csrf": "0" * 64})
        assert forged.status_code == 403
        page = await client.get("/")
        assert "frame-ancestors 'self' https://web.telegram.org" in page.headers[
            "content-security-policy"]
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "Ana" not in page.text.split("<title>")[1].split("</title>")[0]
        assert (await client.post("/escalations/1/ack",
                                  headers={"X-CSRF-Token": csrf})).status_code == 200


async def test_acknowledging_on_the_web_changes_every_telegram_copy(clinic: Rehearsal) -> None:
    r = clinic
    nurse, ana = await emergency(r)
    doctor = person(r, "Doctor")
    async with web(r) as client:
        csrf = await sign_in(r, client, person(r, "Admin"))
        listed = await client.get("/worklist")
        assert "Ana" in listed.text
        assert "Not acknowledged" in listed.text
        done = await client.post("/escalations/1/ack", headers={"X-CSRF-Token": csrf})
        assert "Acknowledged by Admin" in done.text
        await r.services.outbox.idle()
        [ping] = [m for m in r.server.sent(nurse.id) if "EMERGENCY" in (m.text or "")]
        assert "Acknowledged by Admin" in (ping.text or ""), ping.text  # the copy, edited
        await r.advance(timedelta(minutes=2))  # the ladder stopped: Doctor is not paged
        assert not [m for m in r.server.sent(doctor.id) if "EMERGENCY" in (m.text or "")]
        assert "Admin" in (r.server.last(ana.id).text or "")  # the patient hears it was seen
        again = await client.post("/escalations/1/ack", headers={"X-CSRF-Token": csrf})
        assert "already" in again.text.lower()
        call = await client.get("/escalations/1/call")
        assert "Ana" in call.text
        assert len(await audited(r, "view_phone")) == 1
        resolved = await client.post("/escalations/1/resolve",
                                     data={"csrf": csrf, "note": "Seen in clinic, settled"})
        assert "No open escalations" in resolved.text
    async with r.db.unit_of_work() as uow:
        escalation = await uow.orm.get(Escalation, 1)
    assert escalation is not None
    assert escalation.outcome == "Seen in clinic, settled"


async def test_a_telegram_acknowledgement_shows_on_the_page(clinic: Rehearsal) -> None:
    r = clinic
    nurse, _ = await emergency(r)
    async with web(r) as client:
        await sign_in(r, client, person(r, "Doctor"))
        await r.press(nurse, "Acknowledge")
        listed = await client.get("/worklist")
        assert "Acknowledged by Nurse" in listed.text


async def test_clinicians_cannot_reach_admin_pages_and_deactivation_ends_sessions(
    clinic: Rehearsal,
) -> None:
    r = clinic
    async with web(r) as nurse_web, web(r) as admin_web:
        await sign_in(r, nurse_web, person(r, "Nurse"))
        csrf = await sign_in(r, admin_web, person(r, "Admin"))
        assert (await nurse_web.get("/admin/clinicians")).status_code == 403
        assert (await nurse_web.get("/admin/audit")).status_code == 403
        assert (await admin_web.get("/admin/clinicians")).status_code == 200
        done = await admin_web.post("/admin/clinicians/1/deactivate", data={"csrf": csrf})
        assert "Nurse" in done.text
        assert (await nurse_web.get("/")).status_code == 401  # at once
        log = await admin_web.get("/admin/audit", params={"action": "deactivate"})
        assert "clinician #1" in log.text


async def test_a_session_ends_after_a_working_day_idle(clinic: Rehearsal) -> None:
    r = clinic
    async with web(r) as client:
        await sign_in(r, client, person(r, "Nurse"))
        r.clock.advance(timedelta(hours=9))
        assert (await client.get("/")).status_code == 200  # used: the day starts again
        r.clock.advance(timedelta(hours=9))
        assert (await client.get("/")).status_code == 200
        r.clock.advance(timedelta(hours=10, minutes=1))
        assert (await client.get("/")).status_code == 401


async def test_the_desk_form_enrols_and_shows_the_link_and_the_hand_out(
    clinic: Rehearsal,
) -> None:
    r = clinic
    async with web(r) as client:
        csrf = await sign_in(r, client, person(r, "Nurse"))
        bad = await client.post("/enrol", data={"csrf": csrf, "name": "Lea", "when": "tomorrow"})
        assert bad.status_code == 422
        assert "Lea" in bad.text
        far = await client.post("/enrol", data={
            "csrf": csrf, "name": "Lea", "when": "2027-06-01T10:00", "zone": "Europe/Paris"})
        assert far.status_code == 422
        assert "days ahead" in far.text
        done = await client.post("/enrol", data={
            "csrf": csrf, "name": "Lea Dupont", "when": "2026-11-03T08:30",
            "zone": "Europe/Paris", "areas": "face", "phone": "+44 20 7946 0958",
            "language": "fr"})
        assert done.status_code == 200, done.text
        assert "https://t.me/" in done.text
        assert "<svg" in done.text
        assert "Scannez pour commencer" in done.text
        assert "999" in done.text  # her phone's country's number, in her language
        listed = await client.get("/patients", params={"q": "dupont"})
        assert "Lea Dupont" in listed.text
        invited = await client.get("/patients", params={"show": "invited", "day": "0"})
        assert "Lea Dupont" in invited.text  # her session day, not yet consented
        assert "Lea Dupont" not in (await client.get("/patients", params={
            "show": "active"})).text
        assert "Lea Dupont" not in (await client.get("/patients", params={"day": "5"})).text
    async with r.db.unit_of_work() as uow:
        [patient] = (await uow.orm.exec(select(Patient).where(Patient.name == "Lea Dupont"))).all()
    assert patient.language == "fr"
    assert patient.country == "GB"
    assert [e.actor for e in await audited(r, "enrol")] == ["clinician:1"]


async def test_a_patient_page_shows_the_timeline_and_is_audited(clinic: Rehearsal) -> None:
    r = clinic
    await emergency(r)
    async with web(r) as client:
        await sign_in(r, client, person(r, "Nurse"))
        page = await client.get("/patients/1")
        assert page.status_code == 200
        assert "lips are swelling" in page.text
        assert "<svg" in page.text
        assert 'class="mark mark-emergency"' in page.text
        assert (await client.get("/patients/99")).status_code == 404
        assert (await client.get("/patients/1; drop")).status_code == 404
        assert (await client.get("/media/1")).status_code == 404
    [viewed] = await audited(r, "view_timeline")
    assert viewed.actor == "clinician:1"
    assert viewed.patient_id == 1


def signed(token: str, fields: dict[str, str]) -> str:
    """Init data as Telegram signs it for a Mini App (the documented algorithm)."""
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    key = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    digest = hmac.new(key, check.encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest})


async def test_the_mini_app_signs_a_clinician_in_with_telegrams_signed_init_data(
    database: Database, clock: FakeClock, tmp_path: Path,
) -> None:
    settings = sandbox_settings(database.url, storage_dir=tmp_path / "storage",
                                console_url="https://clinic.example/")
    async with Rehearsal(database, clock, settings=settings) as r:
        nurse, ana = r.server.user("Nurse"), r.server.user("Ana")
        await r.invite_clinician(nurse)
        await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
        button = await r.app.bot.get_chat_menu_button(chat_id=nurse.id)
        assert button.type == "web_app"
        assert button.web_app.url == "https://clinic.example/webapp"  # type: ignore[attr-defined]
        assert (await r.app.bot.get_chat_menu_button(chat_id=ana.id)).type == "default"
        now = int(clock.now().timestamp())

        def init(user_id: int, at: int = now, query: str = "AAE") -> str:
            return signed("123:secret", {"auth_date": str(at), "query_id": query,
                                         "user": json.dumps({"id": user_id, "first_name": "N"})})

        async with web(r, "https://clinic.example") as client:
            assert (await client.post("/webapp/login", data={
                "init_data": init(nurse.id).replace("hash=", "hash=0")})).status_code == 401
            assert (await client.post("/webapp/login", data={
                "init_data": init(nurse.id, now - 600)})).status_code == 401  # replayed late
            assert (await client.post("/webapp/login", data={
                "init_data": init(ana.id)})).status_code == 401  # a patient is no clinician
            assert (await client.get("/")).status_code == 401
            done = await client.post("/webapp/login", data={"init_data": init(nurse.id)})
            assert done.status_code == 204
            assert (await client.get("/")).status_code == 200
            again = await client.post("/webapp/login", data={"init_data": init(nurse.id)})
            assert again.status_code == 401  # the same init data signs in once
        async with web(r) as plain:  # plain HTTP, as a TLS proxy hands requests on
            done = await plain.post("/webapp/login", data={"init_data": init(nurse.id,
                                                                             query="AAF")})
            assert "secure" in done.headers["set-cookie"].lower()  # CONSOLE_URL is https
            huge = await plain.post("/webapp/login", data={"init_data": "x" * 100_000})
            assert huge.status_code == 401
            odd = await plain.post("/webapp/login", data={"init_data": "hash=%C3%A9&user=1"})
            assert odd.status_code == 401
        assert r.server.violations == []


async def test_admins_see_figures_over_time_and_export_them_and_a_record(
    clinic: Rehearsal,
) -> None:
    r = clinic
    nurse, _ = await emergency(r)
    r.clock.advance(timedelta(minutes=4))
    await r.press(nurse, "Acknowledge")
    async with web(r) as client:
        await sign_in(r, client, person(r, "Admin"))
        figures = await client.get("/admin/figures")
        assert figures.status_code == 200
        assert "Allergic reaction" in figures.text  # escalations by what was reported
        assert "<td>emergency</td><td>4.0 min</td>" in figures.text
        assert '<table class="by-symptom">' in figures.text  # each with its bar
        assert 'class="bar-emergency" width="100.0"' in figures.text
        table = (await client.get("/admin/figures.csv")).text.splitlines()
        assert table[0] == "figure,period,what,value"
        assert "escalations,2026-11-02,emergency,1" in table  # the week of Monday 2 Nov
        assert "enrolled,2026-11-02,,1" in table
        record = await client.get("/admin/patients/1/record.csv")
        assert record.headers["content-type"].startswith("text/csv")
        assert "my lips are swelling" in record.text
    async with web(r) as client:
        await sign_in(r, client, person(r, "Nurse"))
        assert (await client.get("/admin/figures.csv")).status_code == 403
        assert (await client.get("/admin/patients/1/record.csv")).status_code == 403
    assert [e.actor for e in await audited(r, "export_record")] == ["clinician:3"]


async def test_photos_show_at_full_size_on_the_patient_page_and_nowhere_else(
    clinic: Rehearsal,
) -> None:
    r = clinic
    ana = r.server.user("Ana")
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    await r.process(ana.send_photo(caption="a little swollen, here is a picture"))
    await r.services.outbox.idle()
    async with web(r) as client:
        await sign_in(r, client, person(r, "Nurse"))
        page = await client.get("/patients/1")
        assert '<img src="/media/1"' in page.text
        assert 'class="normal"' in page.text  # swelling's normal days, shaded on the chart
        assert "a little swollen, here is a picture" in page.text
        photo = await client.get("/media/1")
        assert photo.status_code == 200
        assert [e.detail for e in await audited(r, "view_media")] == ["media #1"]
        assert photo.headers["content-type"] == "image/jpeg"
        assert photo.content[:2] == b"\xff\xd8"
    async with web(r) as stranger:
        assert (await stranger.get("/media/1")).status_code == 401


async def test_odd_input_gets_a_clear_answer_never_a_crash(clinic: Rehearsal) -> None:
    r = clinic
    await emergency(r)
    async with web(r) as client:
        csrf = await sign_in(r, client, person(r, "Admin"))
        for path in ("/patients/%C2%B2", "/patients/99999999999", "/patients/0",
                     "/admin/patients/%C2%B2/record.csv", "/media/%D9%A1"):
            assert (await client.get(path)).status_code == 404, path
        for query in ({"day": "²"}, {"q": "²"}, {"q": "99999999999"}):
            assert (await client.get("/patients", params=query)).status_code == 200, query
        assert (await client.get("/admin/audit", params={"patient": "²"})).status_code == 200
        weird = await client.post("/escalations/1/ack", data={"csrf": "é"})
        assert weird.status_code == 403
        for zone, when in (("America", "2026-11-03T08:30"), ("a" * 300, "2026-11-03T08:30"),
                           ("Europe/Paris", "0001-01-01T00:00"),
                           ("Europe/Paris", "9999-12-31T23:59")):
            refused = await client.post("/enrol", data={"csrf": csrf, "name": "Lea",
                                                        "when": when, "zone": zone})
            assert refused.status_code == 422, (zone, when)
            assert "Lea" in refused.text
        stale = await client.get("/worklist", headers={"HX-Request": "true",
                                                        "Cookie": "aftercare_session=gone"})
        assert stale.headers.get("hx-refresh") == "true"  # the page reloads to its refusal
        cross = await client.post("/login/whatever", headers={"Origin": "https://evil.example"})
        assert cross.status_code == 403
        hidden = await client.post("/login/whatever", headers={"Origin": "null",
                                                                "Sec-Fetch-Site": "cross-site"})
        assert hidden.status_code == 403


async def test_a_page_refreshing_itself_does_not_keep_a_session_alive(
    clinic: Rehearsal,
) -> None:
    r = clinic
    async with web(r) as client:
        await sign_in(r, client, person(r, "Nurse"))
        for _ in range(12):  # an open tab, polling for eleven hours
            r.clock.advance(timedelta(hours=1))
            await client.get("/worklist", headers={"HX-Request": "true",
                                                   "HX-Trigger": "worklist"})
        assert (await client.get("/")).status_code == 401
