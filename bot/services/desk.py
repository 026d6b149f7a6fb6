"""`/enrol` in the chair: a clinician answers three questions (name, session time, treated
areas) and gets the patient's link and its QR code. The conversation's state is an
`EnrolDraft` kept with the clinician in the database, written in the same transaction as the
answer that moved it, so the next answer may reach any worker; every word comes from
content."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import segno

from bot.core import callbacks as cb
from bot.core.language import native_name
from bot.core.texts import plain
from bot.core.when import session_time, too_far_ahead
from bot.services.common import Deps
from bot.services.enrolment import Enrolment, deep_link
from bot.services.ports import Reply

MAX_NAME = 100
DRAFT_TTL = timedelta(hours=2)  # an /enrol left this long is dropped, not resumed
CLINICIANS_FOR = timedelta(seconds=30)
STEPS = ("name", "when", "areas")


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
    step: str = "name"  # the question waiting for an answer (STEPS)
    language: str = ""  # what the patient reads ("": their Telegram's at consent)

    def to_json(self, at: datetime) -> dict[str, Any]:
        return {"name": self.name, "areas": self.areas, "question": self.question,
                "step": self.step, "at": at.isoformat(), "language": self.language,
                "session_at": self.session_at.isoformat() if self.session_at else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EnrolDraft:
        when = data.get("session_at")
        return cls(str(data.get("name") or ""),
                   datetime.fromisoformat(when) if isinstance(when, str) else None,
                   [str(a) for a in data.get("areas") or []], str(data.get("question") or ""),
                   str(data.get("step")) if data.get("step") in STEPS else "name",
                   str(data.get("language") or ""))


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


@dataclass(frozen=True, slots=True)
class Handout:
    """The printed hand-out's words, in the patient's language."""

    title: str
    what: str
    emergency: str
    scan: str


class Desk:
    """The questions of `/enrol`, the checks of each answer, and the invitation at the end."""

    def __init__(self, deps: Deps, enrolment: Enrolment) -> None:
        self.d = deps
        self.enrolment = enrolment
        # Active clinicians' chats, looked up at most every CLINICIANS_FOR: a patient's
        # message is not asked about an /enrol unless it comes from one.
        self._clinician_chats: frozenset[int] = frozenset()
        self._looked_at: datetime | None = None

    async def may_enrol(self, chat_id: int) -> bool:
        """Whether this chat is an active clinician's (as of a few seconds ago)."""
        now = self.d.clock.now()
        if self._looked_at is None or now - self._looked_at > CLINICIANS_FOR:
            async with self.d.store.unit_of_work() as uow:
                self._clinician_chats = frozenset(
                    c.chat_id for c in await uow.clinicians.active() if c.chat_id is not None)
            self._looked_at = now
        return chat_id in self._clinician_chats

    def _say(self, key: str, **fields: object) -> str:
        return self.d.content.messages.format(key, **fields)

    def ask_name(self) -> Reply:
        return Reply(self._say("enrol_ask_name"))

    async def load(self, chat_id: int) -> EnrolDraft | None:
        """The /enrol under way in this active clinician's chat, if any (not too old)."""
        async with self.d.store.unit_of_work() as uow:
            clinician = await uow.clinicians.by_chat(chat_id)
        stored = clinician.desk_draft if clinician is not None and clinician.active else None
        if not stored or not isinstance(stored.get("at"), str):
            return None
        if self.d.clock.now() - datetime.fromisoformat(stored["at"]) > DRAFT_TTL:
            return None
        return EnrolDraft.from_json(stored)

    async def keep(self, chat_id: int, draft: EnrolDraft | None) -> None:
        """Keep the /enrol's answers so far (None: it has ended)."""
        async with self.d.store.unit_of_work() as uow:
            clinician = await uow.clinicians.by_chat(chat_id)
            if clinician is None:
                return
            clinician.desk_draft = draft.to_json(self.d.clock.now()) if draft else None
            uow.save(clinician)

    async def answer(self, chat_id: int, text: str) -> Reply | None:
        """A typed answer to the /enrol question waiting in this chat (the name or the
        session time); None if no such question waits."""
        draft = await self.load(chat_id)
        if draft is None or draft.step == "areas":
            return None
        if draft.step == "name":
            answered, after = self.take_name(draft, text), "when"
        else:
            answered, after = self.take_time(draft, text), "areas"
        if answered.accepted:
            draft.step = after
        await self.keep(chat_id, draft)
        return answered.reply

    def take_name(self, draft: EnrolDraft, text: str) -> Answered:
        """The patient's name; then the session time is asked."""
        name = plain(text).strip()
        if not 1 <= len(name) <= MAX_NAME:
            return Answered(Reply(self._say("enrol_name_invalid", limit=MAX_NAME)), False)
        draft.name = name
        now = cb.Button(self._say("enrol_now_button"), cb.enrol("now"))
        return Answered(Reply(self._say("enrol_ask_when"), ((now,),)))

    def session_now(self, draft: EnrolDraft) -> Reply:
        """The session is now; then the areas are asked."""
        draft.session_at = self.d.clock.now()
        draft.step = "areas"
        return self._ask_areas(draft, self._say("enrol_now"))

    def take_time(self, draft: EnrolDraft, text: str) -> Answered:
        """A typed session time (local to the clinic); then the areas are asked."""
        now = self.d.clock.now()
        try:
            moment = session_time(text, self.d.clinic_tz, now)
        except ValueError:
            return Answered(Reply(self._say("enrol_when_invalid")), False)
        days = self.d.content.clinic.session_days_ahead
        if too_far_ahead(moment, now, days):
            return Answered(Reply(self._say("enrol_when_future", days=days)), False)
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
        return Reply(draft.question, self._areas_keyboard(draft))

    def choose_language(self, draft: EnrolDraft, code: str) -> Reply | None:
        """Pick the patient's language (a second press unpicks it: Telegram's at consent);
        the redrawn screen (None for a language the clinic does not ship)."""
        if code not in self.d.spoken:
            return None
        draft.language = "" if draft.language == code else code
        return Reply(draft.question, self._areas_keyboard(draft))

    async def finish(
        self, draft: EnrolDraft, *, actor: str, bot_username: str
    ) -> Enrolled | Reply:
        """Create the patient and their invitation (a Reply when an answer is missing)."""
        if draft.session_at is None or not draft.name:
            return Reply(self._say("enrol_missing"))
        invitation = await self.enrolment.invite_patient(
            name=draft.name, session_at=draft.session_at, areas=", ".join(draft.areas),
            actor=actor, language=draft.language,
        )
        link = deep_link(bot_username, invitation.token)
        areas = ", ".join(draft.areas) or self._say("enrol_areas_none")
        caption = self._say(
            "enrol_link", name=draft.name, id=invitation.patient_id,
            days=self.d.token_ttl.days, link=link,
        )
        return Enrolled(Reply(self._say("enrol_areas", areas=areas)), qr_png(link), caption)

    def handout(self, language: str, country: str = "") -> Handout:
        """The hand-out given with the QR code: what the bot will do, the emergency number."""
        content = self.d.speaks(language, country)
        m, clinic = content.messages, content.clinic
        days = max((s.day for s in content.plan.steps), default=0)
        return Handout(m.format("handout_title", clinic=clinic.name),
                       m.format("handout_what", clinic=clinic.name, days=days),
                       m.format("handout_emergency", number=clinic.emergency_number),
                       m["handout_scan"])

    def cancelled(self) -> Reply:
        return Reply(self._say("enrol_cancelled"))

    def _ask_areas(self, draft: EnrolDraft, when: str) -> Reply:
        draft.question = self._say("enrol_ask_areas", when=when)
        return Reply(draft.question, self._areas_keyboard(draft))

    def _areas_keyboard(self, draft: EnrolDraft) -> cb.Keyboard:
        buttons = [
            cb.Button(("✔ " if a in draft.areas else "") + a, cb.enrol("a", str(i)))
            for i, a in enumerate(self.d.content.clinic.treated_areas)
        ]
        rows = [tuple(buttons[i : i + 3]) for i in range(0, len(buttons), 3)]
        # The patient's language, when the clinic ships several (none ticked: Telegram's).
        spoken = sorted(self.d.spoken) if len(self.d.spoken) > 1 else []
        languages = tuple(
            cb.Button(("✔ " if code == draft.language else "🌐 ") + native_name(code),
                      cb.enrol("l", code)) for code in spoken)
        done = cb.Button(self._say("enrol_done_button"), cb.enrol("done"))
        return (*rows, *(languages[i : i + 2] for i in range(0, len(languages), 2)), (done,))
