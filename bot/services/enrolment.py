"""Enrolment: invitations, deep links, consent, and expanding the care plan into rows."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core import callbacks as cb
from bot.core import schedule
from bot.core.countries import country_code, country_of
from bot.core.texts import join, plain, tips_block, yes_no
from bot.core.when import too_far_ahead, too_long_ago, unknown_areas
from bot.services.common import Deps, hash_token, local_text, zone
from bot.services.ports import PressResult, Reply
from bot.services.repositories import UnitOfWork
from bot.store.models import (
    CheckIn,
    Clinician,
    Invite,
    Patient,
    PatientStatus,
    TreatmentSession,
)

TOKEN_BYTES = 24  # 192 random bits; token_urlsafe gives 32 characters of [A-Za-z0-9_-]
TOKEN_FAILURES_PER_HOUR = 5  # per chat, across workers (rate_window)
HOUR = 3600

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Invitation:
    """A fresh invitation; `token` is shown once and only its hash is stored."""

    token: str
    patient_id: int | None = None
    session_id: int | None = None
    clinician_id: int | None = None


def deep_link(bot_username: str, token: str) -> str:
    """The t.me link that opens the bot with `/start <token>`."""
    return f"https://t.me/{bot_username}?start={token}"


class Enrolment:
    """Invite patients and clinicians; turn an opened link into an enrolled chat."""

    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def invite_patient(
        self,
        *,
        name: str,
        session_at: datetime,
        timezone: str | None = None,
        areas: str = "",
        phone: str | None = None,
        patient_id: int | None = None,
        actor: str = "cli",
        language: str = "",
        country: str = "",
    ) -> Invitation:
        """Create (or reuse) the patient, record the session, and mint a link token.
        `language` ("": chosen at consent, their Telegram's if shipped, else the clinic's)
        must be one the clinic ships; `country` (ISO 3166, for the emergency number) is
        read from an international `phone` when not given."""
        self._check_session(session_at, areas)
        language = language.strip().lower()
        if language and language not in self.d.spoken:
            raise ValueError(f"language {language!r} is not shipped (the clinic ships "
                             f"{', '.join(sorted(self.d.spoken))})")
        country = country_code(country) if country.strip() else country_of(phone)
        tz_name = timezone or self.d.clinic_tz.key
        ZoneInfo(tz_name)  # raises for an unknown zone before anything is written
        now = self.d.clock.now()
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.get(patient_id) if patient_id is not None else None
            if patient_id is not None and (patient is None or patient.erased_at is not None):
                raise LookupError(f"no patient #{patient_id} (or their data was erased)")
            if patient is None:
                patient = await uow.add(
                    Patient(
                        name=plain(name).strip(), phone=plain(phone) if phone else None,
                        timezone=tz_name, created_at=now, language=language,
                        country=country,
                    )
                )
            elif language or country:
                patient.language = language or patient.language
                patient.country = country or patient.country
                uow.save(patient)
            assert patient.id is not None
            session = await uow.add(
                TreatmentSession(
                    patient_id=patient.id, session_at=session_at, areas=plain(areas),
                    created_at=now,
                )
            )
            assert session.id is not None
            token = await self._mint(uow, now, kind="patient", session_id=session.id)
            await uow.records.audit(now, actor, "enrol", patient_id=patient.id,
                             detail=f"session #{session.id}")
        self.d.whereabouts.seen(patient)  # a later session may change their country
        return Invitation(token, patient_id=patient.id, session_id=session.id)

    def _check_session(self, session_at: datetime, areas: str) -> None:
        """The checks the CLI, a CSV and /enrol share (ValueError says what is wrong)."""
        if session_at.tzinfo is None:
            raise ValueError("session time needs a UTC offset or a time zone")
        clinic = self.d.content.clinic
        if too_far_ahead(session_at, self.d.clock.now(), clinic.session_days_ahead):
            raise ValueError(f"the session is more than {clinic.session_days_ahead} days ahead "
                             "(the clinic's session_days_ahead)")
        if too_long_ago(session_at, self.d.clock.now()):
            raise ValueError("the session is more than a year ago (a typo in the year?)")
        unknown = unknown_areas(areas, clinic.treated_areas)
        if unknown:
            raise ValueError(f"unknown treated area(s): {', '.join(unknown)} (the clinic "
                             f"offers {', '.join(clinic.treated_areas)})")

    async def invite_clinician(
        self, *, name: str, admin: bool = False, actor: str = "cli"
    ) -> Invitation:
        now = self.d.clock.now()
        async with self.d.store.unit_of_work() as uow:
            clinician = await uow.add(Clinician(name=name, created_at=now, is_admin=admin))
            assert clinician.id is not None
            token = await self._mint(uow, now, kind="clinician", clinician_id=clinician.id)
            await uow.records.audit(now, actor, "invite_clinician",
                             detail=f"clinician #{clinician.id}{' (admin)' if admin else ''}")
        return Invitation(token, clinician_id=clinician.id)

    async def _mint(
        self,
        uow: UnitOfWork,
        now: datetime,
        *,
        kind: str,
        session_id: int | None = None,
        clinician_id: int | None = None,
    ) -> str:
        """A new single-use token for a session or a clinician; only its hash is stored."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        await uow.add(
            Invite(
                token_hash=hash_token(token),
                kind=kind,
                session_id=session_id,
                clinician_id=clinician_id,
                created_at=now,
                expires_at=now + self.d.token_ttl,
            )
        )
        return token

    async def open_link(self, chat_id: int, token: str, telegram_language: str = "") -> Reply:
        """`/start <token>`: check the token; a patient is asked for consent, in the language
        the clinic chose for them, else their Telegram's when the clinic ships it.

        Wrong, used and expired tokens count against the chat: after a few in an hour every
        token is refused, so guessing is pointless even before the 2^192 odds.
        """
        content = self.d.speaks(telegram_language)
        m, clinic = content.messages, content.clinic.name
        now = self.d.clock.now()
        window, key = int(now.timestamp()) // HOUR, f"token:{chat_id}"
        async with self.d.store.unit_of_work() as uow:
            if await uow.records.attempts(key, window) >= TOKEN_FAILURES_PER_HOUR:
                log.warning("chat %s: too many invalid link tokens this hour", chat_id)
                return Reply(m.format("too_many_tokens", clinic=clinic))
            invite = await uow.patients.invite_by_hash(hash_token(token)) if token else None
            failure = (
                "token_invalid" if invite is None
                else "token_used" if invite.used_at is not None
                else "token_expired" if invite.expires_at <= now
                else None
            )
            if failure is not None or invite is None:
                await uow.records.count_attempt(key, window)
                await uow.records.prune_rate_windows(window - 24)
                return Reply(m.format(failure or "token_invalid", clinic=clinic))
            assert invite.id is not None
            if invite.kind == "clinician":
                return await self._register_clinician(uow, invite, chat_id, now)
            owner = await self._invited_patient(uow, invite)
            if owner is not None and owner.chat_id not in (None, chat_id):
                # A later session's link reaching someone else must not hand them the record.
                log.warning("invite %s opened from a chat other than its patient's", invite.id)
                return Reply(m.format("token_other_chat", clinic=clinic))
            invite.opened_by_chat = chat_id
            uow.save(invite)
            name = await self._patient_name(uow, invite)
            # Kept with the consent, by whoever consents (not by whoever opened it first).
            language = self._language(owner, telegram_language)
        return Reply(self.consent_text(name, language),
                     self._consent_keyboard(invite.id, language))

    def _language(self, patient: Patient | None, telegram_language: str) -> str:
        """The clinic's choice for the patient, else Telegram's if shipped, else the clinic's."""
        chosen = patient.language if patient is not None else ""
        return self.d.speaks(chosen or telegram_language).language

    def consent_text(self, name: str, language: str) -> str:
        content = self.d.speaks(language)
        return content.messages.format("consent", clinic=content.clinic.name, name=name)

    def _consent_keyboard(self, invite_id: int, language: str) -> cb.Keyboard:
        return yes_no(self.d.speaks(language), "consent",
                      lambda yes: cb.consent(invite_id, yes=yes, language=language))

    async def _invited_patient(self, uow: UnitOfWork, invite: Invite) -> Patient | None:
        session = await uow.patients.treatment_session(invite.session_id or 0)
        return await uow.patients.get(session.patient_id) if session else None

    async def _patient_name(self, uow: UnitOfWork, invite: Invite) -> str:
        patient = await self._invited_patient(uow, invite)
        return patient.name.split()[0] if patient and patient.name else ""

    async def _register_clinician(
        self, uow: UnitOfWork, invite: Invite, chat_id: int, now: datetime
    ) -> Reply:
        m, clinic = self.d.content.messages, self.d.content.clinic.name
        clinician = await uow.clinicians.get(invite.clinician_id or 0)
        assert invite.id is not None
        if clinician is None or not await uow.patients.use_invite(invite.id, now):
            return Reply(m.format("token_invalid", clinic=clinic))
        if await uow.patients.by_chat(chat_id) is not None:
            # One chat is one role: a patient's chat must never receive other patients' data.
            return Reply(m.format("token_invalid", clinic=clinic))
        previous = await uow.clinicians.by_chat(chat_id)
        if previous is not None and previous.id != clinician.id:
            previous.chat_id = None
            uow.save(previous)
            await uow.flush()
        clinician.chat_id = chat_id
        clinician.registered_at = now
        clinician.active = True
        uow.save(clinician)
        return Reply(m.format("clinician_registered", name=clinician.name, clinic=clinic))

    async def consent(self, chat_id: int, press: cb.Consent) -> PressResult:
        """A tap on Yes or No under the consent message."""
        now = self.d.clock.now()
        async with self.d.store.unit_of_work() as uow:
            invite = await uow.patients.invite(press.token_id)
            invited = await self._invited_patient(uow, invite) if invite is not None else None
            language = self._language(invited, press.language)
            content = self.d.speaks(language)
            m, clinic = content.messages, content.clinic.name
            if invite is None or invite.kind != "patient" or invite.opened_by_chat != chat_id:
                return PressResult(toast=m["stale_button"])
            if invite.used_at is not None:
                return PressResult(toast=m.format("token_used", clinic=clinic), edit=None)
            if invite.expires_at <= now:
                return PressResult(toast=m.format("token_expired", clinic=clinic))
            if not press.yes:
                # The link stays valid: the patient may change their mind and open it again.
                return PressResult(edit=Reply(m.format("consent_declined", clinic=clinic)))
            if await uow.clinicians.by_chat(chat_id) is not None:
                return PressResult(toast=m.format("token_invalid", clinic=clinic))
            if not await uow.patients.use_invite(press.token_id, now):
                return PressResult(toast=m.format("token_used", clinic=clinic))
            patient = await self._enrol(uow, invite, chat_id, now, language)
            welcome = await self._welcome(uow, patient)
        self.d.whereabouts.seen(patient)  # for the instruction on receipt
        consent_record = self.consent_text(patient.name.split()[0] if patient.name else "",
                                           language)
        # The consent screen becomes the welcome: one message, not two, on a busy morning
        # (150 consents at once must all be checked in within Telegram's 30 messages/s).
        return PressResult(
            edit=Reply(f"{consent_record}\n\n✔ {m['consent_yes']}\n\n{welcome.text}"),
            dispatch=True,
        )

    async def _enrol(
        self, uow: UnitOfWork, invite: Invite, chat_id: int, now: datetime, language: str
    ) -> Patient:
        """Link the chat to the invited patient (or the chat's patient already known), with
        the consent as shown, in `language`, which becomes theirs unless they have one."""
        session = await uow.patients.treatment_session(invite.session_id or 0)
        assert session is not None and session.id is not None
        invited = await uow.patients.get(session.patient_id)
        assert invited is not None and invited.id is not None
        patient = await uow.patients.by_chat(chat_id)
        if patient is not None and patient.id != invited.id:
            # The same person enrolled again for a later session under a new record:
            # the chat identifies them, so the session joins their existing course.
            assert patient.id is not None
            await uow.patients.move_session(session.id, patient.id)
            if invited.chat_id is None and not await uow.patients.has_history(invited.id):
                await uow.flush()
                await uow.patients.delete(invited.id)
            session.patient_id = patient.id
        else:
            patient = invited
        patient.chat_id = chat_id
        patient.status = PatientStatus.ACTIVE
        patient.consent_at = now
        patient.consent_text = self.consent_text(patient.name.split()[0] if patient.name else "",
                                                 language)
        patient.language = patient.language or language
        patient.stopped_at = None
        uow.save(patient)
        await uow.flush()
        await self.expand(uow, patient, session, now)
        return patient

    async def expand(
        self, uow: UnitOfWork, patient: Patient, session: TreatmentSession, now: datetime
    ) -> int:
        """Expand a session's plan into check-in rows, merged with earlier sessions' plans.

        Idempotent (one row per session and step). From the new session's first day on, the
        new plan replaces what is left of earlier ones, so no day carries two check-ins.
        """
        assert patient.id is not None and session.id is not None
        tz = zone(patient)
        planned = schedule.expand(self.d.content.plan, session.session_at, tz)
        first_day = planned[0].local_date
        await uow.checkins.cancel_pending(
            patient.id, f"replaced by the plan of session #{session.id}", from_date=first_day
        )
        existing = await uow.checkins.step_ids(session.id)
        taken = await uow.checkins.dated_checkins(patient.id)
        rows = [
            CheckIn(
                patient_id=patient.id,
                session_id=session.id,
                step_id=p.step_id,
                day=p.day,
                local_date=p.local_date,
                due_at=p.due_at,
            )
            for p in planned
            if p.step_id not in existing and p.local_date not in taken
        ]
        await uow.add_all(rows)
        session.expanded_at = now
        uow.save(session)
        return len(rows)

    async def _welcome(self, uow: UnitOfWork, patient: Patient) -> Reply:
        assert patient.id is not None
        content = self.d.speaks_to(patient)
        pending = await uow.checkins.next_pending(patient.id)
        tz = zone(patient)
        m = content.messages
        nxt = (
            m.format("welcome_next", when=local_text(pending.due_at, tz, content.language))
            if pending
            else m["welcome_none_left"]
        )
        if pending and pending.due_at <= self.d.clock.now():
            nxt = m["welcome_next_now"]
        text = content.messages.format(
            "welcome",
            name=patient.name.split()[0] if patient.name else "",
            clinic=content.clinic.name,
            emergency_number=content.clinic.emergency_number,
            next=nxt,
        )
        day0 = content.plan.steps[0]
        return Reply(join(text, tips_block(content, day0.tips)))
