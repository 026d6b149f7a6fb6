"""Each role sees its own bot: command menus per chat and /help per role (issue 17, point 1)."""

from __future__ import annotations

from telegram import BotCommandScopeChat

from bot.rehearsal import Rehearsal
from bot.sandbox import Fault, SandboxUser
from tests.conftest import paris

PATIENTS = ["start", "status", "report", "help", "language", "stop", "mydata", "forget"]
CLINICIANS = ["open", "patients", "patient", "enrol", "console", "stats", "help"]
ADMINS = [*CLINICIANS, "clinicians", "rota", "deactivate"]


async def menu(r: Rehearsal, user: SandboxUser | None = None) -> list[str]:
    """The commands Telegram shows in this chat's own menu ([] when it has none), or the
    default menu without a user."""
    scope = BotCommandScopeChat(user.id) if user is not None else None
    return [c.command for c in await r.app.bot.get_my_commands(scope=scope)]


async def team(r: Rehearsal) -> tuple[SandboxUser, SandboxUser]:
    nurse, admin = r.server.user("Nurse"), r.server.user("Admin")
    await r.invite_clinician(nurse)
    invitation = await r.services.enrolment.invite_clinician(name="Admin", admin=True)
    await r.say(admin, f"/start {invitation.token}")
    return nurse, admin


async def test_patients_clinicians_and_admins_each_see_their_commands(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse, admin = await team(r)
    ana = r.server.user("Ana")
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    assert await menu(r) == PATIENTS  # everyone's, unless their chat has its own
    assert await menu(r, nurse) == CLINICIANS
    assert await menu(r, admin) == ADMINS
    assert await menu(r, ana) == []
    descriptions = {c.command: c.description for c in await r.app.bot.get_my_commands(
        scope=BotCommandScopeChat(nurse.id))}
    assert descriptions["open"] == "Open escalations, most urgent first"

    await r.say(nurse, "/help")
    said = r.server.last(nurse.id).text or ""
    assert "/open" in said
    assert "/patients" in said
    assert "Nurse" in said
    assert "/forget" not in said
    assert "/rota" not in said
    await r.say(admin, "/help")
    said = r.server.last(admin.id).text or ""
    assert "/open" in said
    assert "/rota" in said
    assert "/deactivate" in said
    await r.say(ana, "/help")
    said = r.server.last(ana.id).text or ""
    assert "/forget" in said
    assert "/open" not in said


async def test_a_deactivated_clinician_gets_the_patients_menu_back(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse, admin = await team(r)
    doctor = r.server.user("Doctor")
    await r.invite_clinician(doctor)
    assert await menu(r, doctor) == CLINICIANS
    await r.say(admin, "/deactivate 1")  # the nurse, from the chat: at once
    assert await menu(r, nurse) == []
    await r.say(nurse, "/help")
    assert "/forget" in (r.server.last(nurse.id).text or "")
    # From the CLI, which has no bot: the next minute's refresh; Telegram failing first.
    await r.services.clinic.deactivate(3)
    r.server.inject("deleteMyCommands", Fault.server_error())
    await r.services.menus.refresh()
    assert await menu(r, doctor) == CLINICIANS  # refused: tried again at the next refresh
    await r.services.menus.refresh()
    assert await menu(r, doctor) == []
    assert await menu(r, admin) == ADMINS
