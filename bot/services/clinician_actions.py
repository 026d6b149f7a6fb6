"""What clinicians do with an escalation: acknowledge it, resolve it with an outcome note,
call the patient, open the timeline. Every action that took effect is audited, and every
copy of the ping and of the summaries is updated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core import callbacks as cb
from bot.core.texts import clip, plain
from bot.services.common import Deps
from bot.services.escalation_views import EscalationViews
from bot.services.ports import PressResult, Reply
from bot.services.repositories import UnitOfWork
from bot.store.models import Clinician, Escalation, Patient, PatientStatus


@dataclass(frozen=True, slots=True)
class Pressed:
    """A clinician's press, answered; `timeline_for` asks the caller to show a timeline."""

    result: PressResult
    timeline_for: int | None = None


class ClinicianActions:
    """A clinician's buttons on pings and summaries, and the outcome note after Resolve."""

    def __init__(self, deps: Deps, views: EscalationViews) -> None:
        self.d = deps
        self.views = views

    # --- clinicians act
    async def press(self, chat_id: int, press: cb.EscalationPress) -> Pressed:
        """A clinician's button on a ping or a summary."""
        m = self.d.content.messages
        now = self.d.clock.now()
        async with self.d.store.unit_of_work() as uow:
            clinician = await uow.clinicians.by_chat(chat_id)
            if clinician is None or not clinician.active or clinician.id is None:
                return Pressed(PressResult(toast=m["not_clinician"]))
            escalation = await uow.escalations.get(press.escalation_id)
            if escalation is None or escalation.kind != "clinical":
                return Pressed(PressResult(toast=m["stale_button"]))
            patient = await uow.patients.get(escalation.patient_id)
            label = f"{patient.name} (#{escalation.patient_id})" if patient else "?"

            async def audit(action: str) -> None:  # only what took effect
                await uow.records.audit(now, f"clinician:{clinician.id}", action,
                                 patient_id=escalation.patient_id,
                                 detail=f"escalation #{escalation.id}")

            if press.action == "t":  # the viewing is audited where the timeline is built
                return Pressed(PressResult(), timeline_for=escalation.patient_id)
            if press.action == "c":
                await audit("view_phone")
                phone = patient.phone if patient else None
                toast = (
                    m.format("call_patient", patient=label, phone=phone)
                    if phone
                    else m.format("no_phone", patient=label)
                )
                return Pressed(PressResult(toast=toast, alert=True))
            if press.action == "s":
                return Pressed(await self._share(uow, escalation, patient, clinician, now))
            if press.action == "r":
                if escalation.resolved_at is not None:
                    return Pressed(PressResult(toast=await self._taken(uow, escalation)))
                if await uow.escalations.acknowledge(escalation.id or 0, clinician.id, now):
                    await self._seen(uow, patient, clinician.name, now)
                clinician.awaiting_outcome_for = escalation.id
                uow.save(clinician)
                await audit("resolve_started")
                result = PressResult(replies=(Reply(m.format("ask_outcome", id=escalation.id)),))
            elif not await uow.escalations.acknowledge(escalation.id or 0, clinician.id, now):
                await uow.refresh(escalation)
                return Pressed(PressResult(toast=await self._taken(uow, escalation)))
            else:
                await audit("acknowledge")
                await self._seen(uow, patient, clinician.name, now)
                result = PressResult(toast=m["acked_toast"])
            copies = await self.views.copies(uow, escalation)
        await self.views.rewrite(copies)
        return Pressed(result)

    async def acknowledge(self, clinician_id: int, escalation_id: int) -> str:
        """Acknowledge from the console: the same effects as the ping's button (every copy
        updated, the patient told); what to show the clinician."""
        async with self.views.outbox.acting():
            return await self._acknowledge(clinician_id, escalation_id)

    async def _acknowledge(self, clinician_id: int, escalation_id: int) -> str:
        m = self.d.content.messages
        now = self.d.clock.now()
        async with self.d.store.unit_of_work() as uow:
            found = await self._acting(uow, clinician_id, escalation_id)
            if found is None:
                return m["stale_button"]
            clinician, escalation = found
            if not await uow.escalations.acknowledge(escalation_id, clinician_id, now):
                await uow.refresh(escalation)
                return await self._taken(uow, escalation)
            await uow.records.audit(now, f"clinician:{clinician_id}", "acknowledge",
                                    patient_id=escalation.patient_id,
                                    detail=f"escalation #{escalation_id}")
            await self._seen(uow, await uow.patients.get(escalation.patient_id),
                             clinician.name, now)
            copies = await self.views.copies(uow, escalation)
        await self.views.rewrite(copies)
        return m["acked_toast"]

    async def resolve(self, clinician_id: int, escalation_id: int, note: str) -> str:
        """Resolve from the console with an outcome note (acknowledging it first if nobody
        had): every copy updated; what to show the clinician."""
        async with self.views.outbox.acting():
            return await self._resolve(clinician_id, escalation_id, note)

    async def _resolve(self, clinician_id: int, escalation_id: int, note: str) -> str:
        m = self.d.content.messages
        now = self.d.clock.now()
        note = clip(plain(note).strip(), 500) or m["no_outcome_note"]
        async with self.d.store.unit_of_work() as uow:
            found = await self._acting(uow, clinician_id, escalation_id)
            if found is None:
                return m["stale_button"]
            clinician, escalation = found
            if escalation.resolved_at is not None:
                return await self._taken(uow, escalation)
            if await uow.escalations.acknowledge(escalation_id, clinician_id, now):
                await self._seen(uow, await uow.patients.get(escalation.patient_id),
                                 clinician.name, now)
            await uow.escalations.resolve(escalation_id, clinician_id, now, note)
            await uow.records.audit(now, f"clinician:{clinician_id}", "resolve",
                                    patient_id=escalation.patient_id,
                                    detail=f"escalation #{escalation_id}")
            await uow.refresh(escalation)
            copies = await self.views.copies(uow, escalation)
        await self.views.rewrite(copies)
        return m.format("resolved_toast", id=escalation_id)

    @staticmethod
    async def _acting(
        uow: UnitOfWork, clinician_id: int, escalation_id: int
    ) -> tuple[Clinician, Escalation] | None:
        """An active clinician and a clinical escalation, by their ids (None: either is
        gone, or it is a notice)."""
        clinician = await uow.clinicians.get(clinician_id)
        escalation = await uow.escalations.get(escalation_id)
        if (clinician is None or not clinician.active or escalation is None
                or escalation.kind != "clinical"):
            return None
        return clinician, escalation

    async def _seen(
        self, uow: UnitOfWork, patient: Patient | None, clinician: str, now: datetime
    ) -> None:
        """Close the loop: the patient hears that a person has seen it, and the check-ins
        held back while their emergency waited go out again."""
        if patient is None or patient.id is None:
            return
        await uow.checkins.release_held(patient.id, now)
        if patient.chat_id is None or patient.status == PatientStatus.ERASED:
            return
        content = self.d.speaks_to(patient)
        clinic = content.clinic
        text = content.messages.format(
            "seen_by_clinician", clinician=clinician, clinic=clinic.name,
            emergency_number=clinic.emergency_number)
        await self.views.outbox.say(patient.chat_id, Reply(text))

    async def _share(
        self, uow: UnitOfWork, escalation: Escalation, patient: Patient | None,
        clinician: Clinician, now: datetime,
    ) -> PressResult:
        """Send the outcome note to the patient, once, at the clinician's choice."""
        m = self.d.content.messages
        if (patient is None or patient.chat_id is None or not escalation.outcome
                or patient.status == PatientStatus.ERASED):
            return PressResult(toast=m["stale_button"])
        if not await uow.escalations.share_outcome(escalation.id or 0, now):
            return PressResult(toast=m["outcome_already_shared"])
        await uow.records.audit(now, f"clinician:{clinician.id}", "share_outcome",
                                patient_id=escalation.patient_id,
                                detail=f"escalation #{escalation.id}")
        theirs = self.d.speaks_to(patient)
        text = theirs.messages.format("outcome_for_patient", clinician=clinician.name,
                                      clinic=theirs.clinic.name, note=escalation.outcome)
        await self.views.outbox.say(patient.chat_id, Reply(text))
        return PressResult(toast=m["outcome_shared"],
                           edit=Reply(m.format("resolved_toast", id=escalation.id)))

    async def _taken(self, uow: UnitOfWork, escalation: Escalation) -> str:
        m = self.d.content.messages
        if escalation.resolved_at is not None:
            who = await uow.clinicians.get(escalation.resolved_by or 0)
            when = self.d.clinic_time(escalation.resolved_at)
            return m.format("already_resolved", who=who.name if who else "?", when=when)
        who = await uow.clinicians.get(escalation.acked_by or 0)
        when = self.d.clinic_time(escalation.acked_at or self.d.clock.now())
        return m.format("already_acked", who=who.name if who else "?", when=when)

    async def outcome_note(self, chat_id: int, text: str) -> Reply | None:
        """A clinician's text after Resolve is the outcome note; None if we asked none."""
        async with self.d.store.unit_of_work() as uow:
            clinician = await uow.clinicians.by_chat(chat_id)
            if clinician is None or not clinician.active or clinician.id is None:
                return None
            escalation_id = clinician.awaiting_outcome_for
            if escalation_id is None:
                return None
            clinician.awaiting_outcome_for = None
            uow.save(clinician)
            note = clip(plain(text).strip(), 500) or self.d.content.messages["no_outcome_note"]
            await uow.escalations.resolve(escalation_id, clinician.id, self.d.clock.now(), note)
            escalation = await uow.escalations.get(escalation_id)
            await uow.records.audit(
                self.d.clock.now(), f"clinician:{clinician.id}", "resolve",
                patient_id=escalation.patient_id if escalation else None,
                detail=f"escalation #{escalation_id}",
            )
            copies = await self.views.copies(uow, escalation) if escalation is not None else []
        await self.views.rewrite(copies)
        m = self.d.content.messages
        share = ((cb.Button(m["share_outcome_button"], cb.escalation(escalation_id, "s")),),)
        return Reply(m.format("resolved_toast", id=escalation_id),
                     share if note != m["no_outcome_note"] else None)
