"""`/enrol` in the chair: a clinician answers three questions (name, session time, treated
areas) and gets the patient's link and its QR code. The conversation's state is a plain
`EnrolDraft` the handler keeps per chat; every word comes from content."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import segno

from bot.core import callbacks as cb
from bot.core.when import session_time
from bot.services.common import Deps
from bot.services.enrolment import Enrolment, deep_link
from bot.services.ports import Reply

MAX_NAME = 100


def qr_code(link: str) -> Any:
    """The link as a QR code (segno's), as printed or shown at the desk."""
    return segno.make(link, error="m")


QR_LOOK = {"scale": 8, "border": 4}


def qr_png(link: str) -> bytes:
    """The link's QR code as PNG bytes."""
    out = io.BytesIO()
    qr_code(link).save(out, kind="png", **QR_LOOK)
    return out.getvalue()


@dataclass(slots=True)
class EnrolDraft:
    """What the clinician has answered so far."""

    name: str = ""
    session_at: datetime | None = None
    areas: list[str] = field(default_factory=list)
    question: str = ""  # the areas question as shown (its buttons are redrawn under it)


@dataclass(frozen=True, slots=True)
class Answered:
    """The conversation's next screen, and whether the answer was accepted."""

    reply: Reply
    accepted: bool = True


@dataclass(frozen=True, slots=True)
class Enrolled:
    """The end of the conversation: the areas screen's last words, and the link as a QR code
    with its caption."""

    edit: Reply
    qr: bytes
    caption: str


class Desk:
    """The questions of `/enrol`, the checks of each answer, and the invitation at the end."""

    def __init__(self, deps: Deps, enrolment: Enrolment) -> None:
        self.d = deps
        self.enrolment = enrolment

    def _say(self, key: str, **fields: object) -> str:
        return self.d.content.messages.format(key, **fields)

    def ask_name(self) -> Reply:
        return Reply(self._say("enrol_ask_name"))

    def take_name(self, draft: EnrolDraft, text: str) -> Answered:
        """The patient's name; then the session time is asked."""
        name = text.strip()
        if not 1 <= len(name) <= MAX_NAME:
            return Answered(Reply(self._say("enrol_name_invalid", limit=MAX_NAME)), False)
        draft.name = name
        now = cb.Button(self._say("enrol_now_button"), cb.enrol("now"))
        return Answered(Reply(self._say("enrol_ask_when"), ((now,),)))

    def session_now(self, draft: EnrolDraft) -> Reply:
        """The session is now; then the areas are asked."""
        draft.session_at = self.d.clock.now()
        return self._ask_areas(draft, self._say("enrol_now"))

    def take_time(self, draft: EnrolDraft, text: str) -> Answered:
        """A typed session time (local to the clinic); then the areas are asked."""
        now = self.d.clock.now()
        try:
            moment = session_time(text, self.d.clinic_tz, now)
        except ValueError:
            return Answered(Reply(self._say("enrol_when_invalid")), False)
        if moment > now:
            return Answered(Reply(self._say("enrol_when_future")), False)
        draft.session_at = moment
        local = moment.astimezone(self.d.clinic_tz)
        return Answered(self._ask_areas(draft, f"{local:%a %d %b %H:%M}"))

    def toggle_area(self, draft: EnrolDraft, index: int) -> Reply | None:
        """Tick or untick a treated area; the redrawn screen (None for a stale button)."""
        areas = self.d.content.clinic.treated_areas
        if not 0 <= index < len(areas):
            return None
        area = areas[index]
        chosen = draft.areas
        draft.areas = [a for a in chosen if a != area] if area in chosen else [*chosen, area]
        return Reply(draft.question, self._areas_keyboard(draft.areas))

    async def finish(
        self, draft: EnrolDraft, *, actor: str, bot_username: str
    ) -> Enrolled | Reply:
        """Create the patient and their invitation (a Reply when an answer is missing)."""
        if draft.session_at is None or not draft.name:
            return Reply(self._say("enrol_missing"))
        invitation = await self.enrolment.invite_patient(
            name=draft.name, session_at=draft.session_at, areas=", ".join(draft.areas),
            actor=actor,
        )
        link = deep_link(bot_username, invitation.token)
        areas = ", ".join(draft.areas) or self._say("enrol_areas_none")
        caption = self._say(
            "enrol_link", name=draft.name, id=invitation.patient_id,
            days=self.d.token_ttl.days, link=link,
        )
        return Enrolled(Reply(self._say("enrol_areas", areas=areas)), qr_png(link), caption)

    def cancelled(self) -> Reply:
        return Reply(self._say("enrol_cancelled"))

    def _ask_areas(self, draft: EnrolDraft, when: str) -> Reply:
        draft.question = self._say("enrol_ask_areas", when=when)
        return Reply(draft.question, self._areas_keyboard(draft.areas))

    def _areas_keyboard(self, chosen: list[str]) -> cb.Keyboard:
        buttons = [
            cb.Button(("✔ " if a in chosen else "") + a, cb.enrol("a", str(i)))
            for i, a in enumerate(self.d.content.clinic.treated_areas)
        ]
        rows = [tuple(buttons[i : i + 3]) for i in range(0, len(buttons), 3)]
        done = cb.Button(self._say("enrol_done_button"), cb.enrol("done"))
        return (*rows, (done,))
