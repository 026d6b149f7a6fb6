"""Patient commands: /help, /status, /stop (with confirmation) and resuming with /start."""

from __future__ import annotations

from babel.dates import format_date

from bot.core import callbacks as cb
from bot.core.language import language_name, native_name
from bot.core.texts import yes_no
from bot.services.common import Deps, day_of, local_text, zone
from bot.services.escalation import Escalations
from bot.services.ports import MessageResult, PressResult, Reply
from bot.services.repositories import UnitOfWork
from bot.store.models import Patient, PatientStatus

STOPPED = "patient stopped the follow-up"
RESUMABLE = (STOPPED, "patient blocked the bot")


class Patients:
    """What patients can ask of the bot about their own follow-up."""

    def __init__(self, deps: Deps, escalations: Escalations) -> None:
        self.d = deps
        self.escalations = escalations

    async def recall_whereabouts(self) -> int:
        """Remember every followed patient's language and country (at start-up), so the
        instruction on receipt has them before their first message; how many."""
        async with self.d.store.unit_of_work() as uow:
            patients = await uow.patients.active()
        for patient in patients:
            self.d.whereabouts.seen(patient)
        return len(patients)

    async def help(self, chat_id: int, telegram_language: str = "") -> Reply:
        """`/help` in the patient's language (a stranger's: Telegram's, if shipped)."""
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.by_chat(chat_id)
        content = self.d.speaks_to(patient, telegram_language)
        clinic = content.clinic
        return Reply(content.messages.format(
            "help", clinic=clinic.name, emergency_number=clinic.emergency_number))

    async def greet(self, chat_id: int, telegram_language: str = "") -> MessageResult:
        """`/start` without a token: resume a stopped patient, or say who we are."""
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.by_chat(chat_id)
            content = self.d.speaks_to(patient, telegram_language)
            m = content.messages
            if patient is not None and patient.status in (
                PatientStatus.STOPPED,
                PatientStatus.UNREACHABLE,
            ):
                return await self._resume(uow, patient)
            if patient is not None:
                first = patient.name.split()[0] if patient.name else ""
                return MessageResult((Reply(m.format("already_enrolled", name=first)),))
            clinician = await uow.clinicians.by_chat(chat_id)
            if clinician is not None and clinician.active:
                m = self.d.content.messages
                return MessageResult((Reply(m.format("clinician_help", name=clinician.name)),))
        return MessageResult((Reply(m.format("not_enrolled", clinic=content.clinic.name)),))

    async def _resume(self, uow: UnitOfWork, patient: Patient) -> MessageResult:
        assert patient.id is not None
        now = self.d.clock.now()
        today = now.astimezone(zone(patient)).date()
        for reason in RESUMABLE:
            await uow.checkins.restore_cancelled(patient.id, reason, today)
        patient.status = PatientStatus.ACTIVE
        patient.stopped_at = None
        uow.save(patient)
        await uow.flush()
        nxt = await self._next_text(uow, patient)
        text = self.d.speaks_to(patient).messages.format("resumed", next=nxt)
        return MessageResult((Reply(text),), extra={"dispatch": True})

    async def _next_text(self, uow: UnitOfWork, patient: Patient) -> str:
        assert patient.id is not None
        pending = await uow.checkins.next_pending(patient.id)
        if pending is None:
            return ""
        content = self.d.speaks_to(patient)
        when = local_text(pending.due_at, zone(patient), content.language)
        return content.messages.format("resumed_next", when=when)

    async def status(self, chat_id: int) -> Reply | None:
        """What comes next and when; None if this chat is not a patient."""
        now = self.d.clock.now()
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.by_chat(chat_id)
            if patient is None or patient.id is None:
                return None
            content = self.d.speaks_to(patient)
            m = content.messages
            day = day_of(patient, await uow.patients.sessions_of(patient.id), now)
            if patient.status != PatientStatus.ACTIVE:
                return Reply(m.format("stopped", clinic=content.clinic.name))
            pending = await uow.checkins.next_pending(patient.id)
            last = await uow.checkins.last_scheduled(patient.id)
        if pending is None or last is None:
            return Reply(m.format("status_none_left", day=day))
        tz = zone(patient)
        return Reply(
            m.format(
                "status",
                day=day,
                next=local_text(max(pending.due_at, now), tz, content.language),
                end=format_date(last.local_date, "EEE dd MMM", locale=content.language),
            )
        )

    async def ask_stop(self, chat_id: int) -> Reply | None:
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.by_chat(chat_id)
        if patient is None:
            return None
        content = self.d.speaks_to(patient)
        m = content.messages
        if patient.status != PatientStatus.ACTIVE:
            return Reply(m.format("stopped", clinic=content.clinic.name))
        keyboard = yes_no(content, "stop", lambda yes: cb.stop(yes=yes))
        return Reply(m["stop_confirm"], keyboard)

    async def stop(self, chat_id: int, press: cb.StopPress) -> PressResult:
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.by_chat(chat_id)
            content = self.d.speaks_to(patient)
            m = content.messages
            if patient is None or patient.id is None:
                return PressResult(toast=m["stale_button"])
            if not press.yes:
                return PressResult(edit=Reply(m["stop_kept"]))
            stopped = Reply(m.format("stopped", clinic=content.clinic.name))
            if patient.status != PatientStatus.ACTIVE:
                return PressResult(edit=stopped)
            patient.status = PatientStatus.STOPPED
            patient.stopped_at = self.d.clock.now()
            uow.save(patient)
            await uow.checkins.cancel_pending(patient.id, STOPPED)
            # A notice: it waits for the morning summary, nothing is paged now.
            await self.escalations.notice(uow, patient, "notice_stopped")
        return PressResult(edit=stopped)

    # --- language
    async def ask_language(self, chat_id: int) -> Reply | None:
        """The shipped languages as buttons, each in its own words; None if not a patient."""
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.by_chat(chat_id)
        if patient is None:
            return None
        content = self.d.speaks_to(patient)
        keyboard = tuple(
            (cb.Button(("✔ " if code == content.language else "") + native_name(code),
                       cb.language(code)),)
            for code in sorted(self.d.spoken)
        )
        return Reply(content.messages["language_choose"], keyboard)

    async def set_language(self, chat_id: int, press: cb.LanguagePress) -> PressResult:
        """The patient's choice: every message from now on is worded in it, check-ins
        already scheduled included (they are worded when sent)."""
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.by_chat(chat_id)
            if patient is None or patient.id is None or press.code not in self.d.spoken:
                language = patient.language if patient is not None else ""
                return PressResult(toast=self.d.speaks(language).messages["stale_button"])
            patient.language = press.code
            uow.save(patient)
            await uow.records.audit(self.d.clock.now(), f"patient:{patient.id}", "language",
                                    patient_id=patient.id, detail=press.code)
        self.d.whereabouts.seen(patient)  # the instruction on receipt, in their new choice
        m = self.d.speaks(press.code).messages
        return PressResult(edit=Reply(m.format(
            "language_set", language=language_name(press.code, press.code))))
