"""What the console shows: the open escalations as a worklist, and the patients with their
state, for searching and filtering."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.model import Level
from bot.core.texts import level_mark, record_id
from bot.services.common import Deps, day_of
from bot.store.models import Patient


@dataclass(frozen=True, slots=True)
class Paged:
    """One page of an escalation: who, and when it went (None: not sent yet)."""

    clinician: str
    sent_at: str | None


@dataclass(frozen=True, slots=True)
class WorkItem:
    """An open escalation as a row of the worklist."""

    escalation_id: int
    patient_id: int
    patient: str
    day: int
    level: str  # Level's label, for styling
    mark: str  # the level in the clinic's words
    what: str
    raised: str  # when, in the clinic's time
    ago: str
    pages: tuple[Paged, ...]
    acked_by: str | None
    acked_at: str | None


@dataclass(frozen=True, slots=True)
class PatientRow:
    """A patient in the console's list."""

    patient_id: int
    name: str
    status: str
    day: int
    language: str
    open_level: str | None  # their most serious open escalation's level label


FILTERS = ("all", "active", "invited", "stopped", "unreachable", "open")


def _order(item: WorkItem, created: datetime) -> tuple[int, datetime, int]:
    return (-Level.parse(item.level), created, item.escalation_id)


class Worklist:
    """Reads for the console's worklist and patient list."""

    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def items(self) -> list[WorkItem]:
        """Open escalations, the most serious first, then the oldest."""
        found: list[tuple[WorkItem, datetime]] = []
        async with self.d.store.unit_of_work() as uow:
            names = {c.id: c.name for c in await uow.clinicians.all()}
            for e in await uow.escalations.open():
                if e.kind != "clinical" or e.id is None:
                    continue
                patient = await uow.patients.get(e.patient_id)
                sessions = await uow.patients.sessions_of(e.patient_id) if patient else []
                day = day_of(patient, sessions, self.d.clock.now()) if patient else 0
                pings = await uow.escalations.pings_of(e.id)
                pages = tuple(Paged(names.get(p.clinician_id, "?"),
                                    self.d.clinic_time(p.sent_at) if p.sent_at else None)
                              for p in pings)
                level = Level.parse(e.level)
                item = WorkItem(
                    e.id, e.patient_id, patient.name if patient else "?", day, level.label,
                    level_mark(self.d.content, level), e.summary,
                    self.d.clinic_time(e.created_at), self.d.ago(e.created_at), pages,
                    names.get(e.acked_by) if e.acked_by else None,
                    self.d.clinic_time(e.acked_at) if e.acked_at else None)
                found.append((item, e.created_at))
        found.sort(key=lambda pair: _order(*pair))
        return [item for item, _ in found]

    async def call(self, actor: str, escalation_id: int) -> tuple[str, str | None] | None:
        """Whom to call about an escalation: the patient's name and phone (audited)."""
        async with self.d.store.unit_of_work() as uow:
            escalation = await uow.escalations.get(escalation_id)
            if escalation is None:
                return None
            patient = await uow.patients.get(escalation.patient_id)
            if patient is None or patient.erased_at is not None:
                return None
            await uow.records.audit(self.d.clock.now(), actor, "view_phone",
                                    patient_id=patient.id, detail=f"escalation #{escalation_id}")
            return patient.name, patient.phone

    async def media(self, photo_id: int, actor: str) -> tuple[str, bytes] | None:
        """A photo or voice note's type and bytes; the viewing is audited."""
        store = self.d.photo_store
        async with self.d.store.unit_of_work() as uow:
            photo = await uow.patients.photo(photo_id)
            if photo is None or store is None:
                return None
            await uow.records.audit(self.d.clock.now(), actor, "view_media",
                                    patient_id=photo.patient_id, detail=f"media #{photo_id}")
        try:
            return photo.mime, await store.read(photo.path)
        except OSError:
            return None

    async def patients(
        self, query: str = "", show: str = "all", day: int | None = None
    ) -> list[PatientRow]:
        """Patients matching part of a name (or an id), in one of `FILTERS`, on a day of
        their course when `day` is given; erased records are not listed."""
        query = query.strip().lstrip("#")
        wanted = record_id(query) if query.isdigit() else None
        now = self.d.clock.now()
        rows: list[PatientRow] = []
        async with self.d.store.unit_of_work() as uow:
            worst: dict[int, Level] = {}
            for e in await uow.escalations.open():
                if e.kind == "clinical":
                    worst[e.patient_id] = max(worst.get(e.patient_id, Level.NONE),
                                              Level.parse(e.level))
            everyone = await uow.patients.find(query) if query and not query.isdigit() else (
                await uow.patients.all())
            for p in everyone:
                if p.id is None or not _shown(p, query, wanted, show, p.id in worst):
                    continue
                on = day_of(p, await uow.patients.sessions_of(p.id), now)
                if day is not None and on != day:
                    continue
                rows.append(PatientRow(p.id, p.name, p.status, on, p.language,
                                       worst[p.id].label if p.id in worst else None))
        rows.sort(key=lambda r: (r.open_level is None, r.name.lower(), r.patient_id))
        return rows


def _shown(p: Patient, query: str, wanted: int | None, show: str, has_open: bool) -> bool:
    if p.erased_at is not None:
        return False
    if query.isdigit() and p.id != wanted:
        return False
    if show == "open":
        return has_open
    return show not in FILTERS[1:] or p.status == show
