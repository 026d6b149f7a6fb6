"""Patients' rights over their data: see it all (/mydata), erase it (/forget), retention.

Erasure keeps the anonymous rows the clinic's figures count (levels, days, delivery states)
and removes everything else that names the person or carries their words. At the patient's
request the escalations stay whole, as the clinic's medical record (`keep_escalation_records`,
on by default), and the clinicians' copies are left as they are; when the retention period
ends, or with that setting off, they are erased too and the copies rewritten to the erased
wording, so the words do not survive in the clinicians' chats.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.core import callbacks as cb
from bot.core.texts import yes_no
from bot.services.common import Deps
from bot.services.escalation_views import EscalationViews
from bot.services.ports import PressResult, Reply
from bot.services.repositories import UnitOfWork
from bot.store.models import Entity, Patient

log = logging.getLogger(__name__)

RETENTION_BATCH = 100


@dataclass(frozen=True, slots=True)
class Export:
    """A patient's data: a readable summary and the whole of it as a JSON file."""

    summary: Reply
    document: bytes
    filename: str
    language: str  # the patient's, for what goes with it


def _rows(rows: list[Any], *, drop: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        assert isinstance(row, Entity)
        data = row.model_dump(mode="json")
        out.append({k: v for k, v in data.items() if k not in drop})
    return out


class Privacy:
    """Access, erasure and retention of a patient's data."""

    def __init__(self, deps: Deps, views: EscalationViews) -> None:
        self.d = deps
        self.views = views

    # --- access
    async def export(self, chat_id: int) -> Export | None:
        """Everything stored about the patient using this chat; None for anyone else."""
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.by_chat(chat_id)
            if patient is None or patient.id is None:
                return None
            data: dict[str, Any] = {
                "exported_at": self.d.clock.now().isoformat(),
                "clinic": self.d.content.clinic.name,
                "patient": _rows([patient], drop=frozenset({"silence_alerted_at"}))[0],
                "treatment_sessions": _rows(await uow.patients.sessions_of(patient.id)),
                "checkins": _rows(await uow.checkins.checkins_of(patient.id), drop=frozenset(
                    {"claimed_at", "attempts", "draft"}
                )),
                "answers": _rows(await uow.patients.answers_of(patient.id)),
                "messages_to_clinicians": _rows(
                    await uow.escalations.escalations_of(patient.id),
                    drop=frozenset({"ladder_step", "next_step_at", "summarised_at",
                                    "unpaged_at"}),
                ),
                "photos": _rows(
                    await uow.patients.photos_of(patient.id), drop=frozenset({"path"})
                ),
            }
            await uow.records.audit(self.d.clock.now(), f"patient:{patient.id}", "export",
                             patient_id=patient.id)
        return Export(self._summary(patient, data), _json(data), f"mydata-{patient.id}.json",
                      patient.language)

    def _summary(self, patient: Patient, data: dict[str, Any]) -> Reply:
        consent = (
            f"given {patient.consent_at:%Y-%m-%d %H:%M} UTC" if patient.consent_at else "not given"
        )
        return Reply(self.d.speaks_to(patient).messages.format(
            "mydata_summary", name=patient.name, status=patient.status, consent=consent,
            sessions=str(len(data["treatment_sessions"])), checkins=str(len(data["checkins"])),
            answers=str(len(data["answers"])),
            escalations=str(len(data["messages_to_clinicians"])),
            photos=str(len(data["photos"])),
        ))

    # --- erasure
    async def ask_forget(self, chat_id: int) -> Reply | None:
        """The confirmation question; None if this chat is not a patient's."""
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.by_chat(chat_id)
        if patient is None:
            return None
        content = self.d.speaks_to(patient)
        keyboard = yes_no(content, "forget", lambda yes: cb.forget(yes=yes))
        m, clinic = content.messages, content.clinic
        records = m["forget_records_kept" if self._keeps_records else "forget_records_erased"]
        return Reply(m.format("forget_confirm", clinic=clinic.name, records=records), keyboard)

    @property
    def _keeps_records(self) -> bool:
        return self.d.content.clinic.keep_escalation_records

    async def forget(self, chat_id: int, press: cb.ForgetPress) -> PressResult:
        """Erase the patient using this chat, once they confirmed."""
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.by_chat(chat_id)
            content = self.d.speaks_to(patient)
            m = content.messages
            if patient is None or patient.id is None:
                return PressResult(toast=m["stale_button"])
            if not press.yes:
                return PressResult(edit=Reply(m["forget_kept"]))
            copies = await self._erase(uow, patient.id, f"patient:{patient.id}", "request")
        if copies is not None:
            await self._after_erase(patient.id, copies)
        self.d.whereabouts.forget(chat_id)
        return PressResult(edit=Reply(m.format("forgotten", clinic=content.clinic.name)))

    async def expire(self) -> int:
        """Erase every course past the clinic's retention period; returns how many."""
        now = self.d.clock.now()
        cutoff = now - timedelta(days=self.d.content.clinic.retention_days)
        async with self.d.store.unit_of_work() as uow:
            due = await uow.records.expired_patients(cutoff, limit=RETENTION_BATCH)
        for patient_id in due:
            async with self.d.store.unit_of_work() as uow:
                copies = await self._erase(uow, patient_id, "system", "retention")
            if copies is not None:  # None: another worker got there first
                await self._after_erase(patient_id, copies)
        async with self.d.store.unit_of_work() as uow:  # the records /forget kept end too
            kept = await uow.records.expired_patients(cutoff, limit=RETENTION_BATCH, kept=True)
        for patient_id in kept:
            async with self.d.store.unit_of_work() as uow:
                await uow.records.erase_kept_escalations(patient_id)
                await uow.records.audit(now, "system", "erase", patient_id=patient_id,
                                        detail="retention of the kept record")
                copies = [c for e in await uow.escalations.escalations_of(patient_id)
                          for c in await self.views.copies(uow, e)]
            await self.views.rewrite(copies)
        return len(due) + len(kept)

    async def _erase(
        self, uow: UnitOfWork, patient_id: int, actor: str, why: str
    ) -> list[tuple[int, int, Reply]] | None:
        now = self.d.clock.now()
        patient = await uow.patients.get(patient_id)
        chat_id = patient.chat_id if patient is not None else None
        keep = why == "request" and self._keeps_records
        if not await uow.records.erase_patient(patient_id, now, keep_escalations=keep):
            return None
        if chat_id is not None:
            await uow.inbox.erase_chat(chat_id)
        await uow.inbox.erase_media_of(patient_id)  # their photos on the way to clinicians
        await uow.records.audit(now, actor, "erase", patient_id=patient_id, detail=why)
        copies: list[tuple[int, int, Reply]] = []
        if keep:  # the clinic's record: its copies stay as they were
            return copies
        for escalation in await uow.escalations.escalations_of(patient_id):
            copies.extend(await self.views.copies(uow, escalation))
        return copies

    async def _after_erase(self, patient_id: int, copies: list[tuple[int, int, Reply]]) -> None:
        """Outside the transaction: delete the photo files, rewrite the clinicians' copies."""
        if self.d.photo_store is not None:
            await self.d.photo_store.delete_patient(patient_id)
        await self.views.rewrite(copies)
        log.info("patient %s erased", patient_id)


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")

