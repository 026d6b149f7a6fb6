"""What clinicians and admins can ask of the bot: patients, open escalations, the rota."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core import callbacks as cb
from bot.core.callbacks import Button
from bot.core.model import Level, Observation
from bot.core.texts import clip, describe, level_mark, record_id, short_name
from bot.services.common import Deps, day_of
from bot.services.ports import Reply
from bot.services.repositories import UnitOfWork
from bot.store.models import Answer, AuditEvent, Clinician, Escalation

OPEN_WITH_BUTTONS = 10  # escalations listed by /open with a row of buttons each


def _most_serious_first(e: Escalation) -> tuple[int, datetime, int]:
    return (-Level.parse(e.level), e.created_at, e.id or 0)


@dataclass(frozen=True, slots=True)
class Found:
    """The result of looking a patient up: one id, or a reply listing the candidates."""

    patient_id: int | None
    reply: Reply | None = None


@dataclass(frozen=True, slots=True)
class Changed:
    """An admin's change: what to tell them, and whether anything changed."""

    text: str
    ok: bool = False


class Clinic:
    """What clinicians and admins ask of the bot (their role is checked by the caller)."""

    def __init__(self, deps: Deps) -> None:
        self.d = deps

    def _describe(self, c: Clinician) -> str:
        """'#3 Dr Martin · active, admin, rota #1, registered'."""
        m = self.d.content.messages
        flags = [
            m["clinician_active"] if c.active else m["clinician_inactive"],
            m["clinician_admin"] if c.is_admin else "",
            m.format("clinician_rota", n=c.rota_position + 1) if c.rota_position is not None
            else "",
            m["clinician_registered_flag"] if c.chat_id else m["clinician_link_pending"],
        ]
        return f"#{c.id} {c.name} · " + ", ".join(f for f in flags if f)

    def _say(self, key: str, **fields: object) -> Reply:
        return Reply(self.d.content.messages.format(key, **fields))

    async def help(self, clinician_id: int, *, admin: bool) -> Reply:
        """`/help` for a clinician: their commands (an admin's too), in the clinic's words."""
        async with self.d.store.unit_of_work() as uow:
            clinician = await uow.clinicians.get(clinician_id)
        m = self.d.content.messages
        text = m.format("help_clinician", name=clinician.name if clinician else "",
                        clinic=self.d.content.clinic.name)
        return Reply(f"{text}\n{m['help_admin']}" if admin else text)

    async def find(self, query: str) -> Found:
        """A patient by id ('12', '#12') or by part of their name."""
        query = query.strip().lstrip("#")
        async with self.d.store.unit_of_work() as uow:
            if query.isdigit():
                number = record_id(query)
                patient = await uow.patients.get(number) if number else None
                if patient is not None:
                    return Found(patient.id)
                return Found(None, self._say("no_patient_id", id=query))
            matches = await uow.patients.find(query) if query else []
        if len(matches) == 1:
            return Found(matches[0].id)
        if not matches:
            return Found(None, self._say("no_patient_match"))
        lines = [self._say("patients_several").text]
        lines += [f"#{p.id} {p.name} ({p.status})" for p in matches]
        return Found(None, Reply("\n".join(lines)))

    async def patients(self) -> Reply:
        """Active patients, those with the most serious open escalation first (the oldest
        first among equals), then by their last answer's level: day, state, how long ago."""
        m = self.d.content.messages
        rows: list[tuple[int, int, datetime, str]] = []
        async with self.d.store.unit_of_work() as uow:
            open_ones = await self._open_by_patient(uow)
            for p in await uow.patients.active():
                assert p.id is not None
                day = day_of(p, await uow.patients.sessions_of(p.id), self.d.clock.now())
                answers = [a for a in await uow.patients.answers_of(p.id) if a.source != "note"]
                last = answers[-1] if answers else None
                escalation = open_ones.get(p.id)
                what = self._what(last)
                if escalation is not None:
                    worst, since = Level.parse(escalation.level), escalation.created_at
                    status = m.format("patient_open", mark=level_mark(self.d.content, worst),
                                      ago=self.d.ago(since), what=what)
                elif last is not None:
                    worst, since = Level.NONE, last.created_at
                    status = m.format("patient_last", level=level_mark(
                        self.d.content, Level.parse(last.level)), ago=self.d.ago(since),
                        what=what)
                else:
                    worst, since, status = Level.NONE, p.created_at, m["patient_no_answer"]
                last_level = Level.parse(last.level) if last else Level.NONE
                line = m.format("patient_line", id=p.id, name=p.name, day=day, status=status)
                rows.append((-worst if escalation else 1, -last_level, since, line))
        if not rows:
            return self._say("patients_none")
        rows.sort(key=lambda r: r[:3])
        return Reply(clip("\n".join([m["patients_header"], *(r[3] for r in rows)]), 4000))

    def _what(self, answer: Answer | None) -> str:
        """What an answer reported, in a few words ("all good" when nothing)."""
        if answer is None:
            return ""
        present = [o for o in map(Observation.from_json, answer.observations) if o.present]
        said = "; ".join(describe(o, self.d.content) for o in present)
        return clip(said, 120) or self.d.content.messages["timeline_all_good"]

    @staticmethod
    async def _open_by_patient(uow: UnitOfWork) -> dict[int, Escalation]:
        """Each patient's most serious open escalation (the oldest among equals)."""
        found: dict[int, Escalation] = {}
        for e in sorted(await uow.escalations.open(), key=_most_serious_first):
            found.setdefault(e.patient_id, e)
        return found

    async def open_escalations(self) -> Reply:
        """Escalations not yet resolved, the most serious first and the oldest first among
        equals, a line each; buttons in words for the first ten."""
        m = self.d.content.messages
        lines: list[str] = []
        rows: list[tuple[Button, ...]] = []
        async with self.d.store.unit_of_work() as uow:
            for e in sorted(await uow.escalations.open(), key=_most_serious_first)[:30]:
                assert e.id is not None
                patient = await uow.patients.get(e.patient_id)
                name = patient.name if patient else "?"
                acker = await uow.clinicians.get(e.acked_by) if e.acked_by else None
                state = (m.format("open_acked", who=acker.name if acker else "?")
                         if e.acked_at else m["open_not_acked"])
                lines.append(m.format(
                    "open_line", mark=level_mark(self.d.content, Level.parse(e.level)),
                    name=name, id=e.patient_id, what=clip(e.summary, 200),
                    ago=self.d.ago(e.created_at), state=state))
                if len(rows) < OPEN_WITH_BUTTONS:
                    rows.append(self._open_buttons(e.id, short_name(name), e.acked_at is None))
        if not lines:
            return self._say("open_none")
        text = clip("\n".join([m["open_header"], *lines]), 4000)
        return Reply(text, tuple(rows))

    def _open_buttons(self, eid: int, name: str, unacked: bool) -> tuple[Button, ...]:
        m = self.d.content.messages
        buttons = [Button(m.format("open_timeline", name=name), cb.escalation(eid, "t")),
                   Button(m.format("open_resolve", name=name), cb.escalation(eid, "r"))]
        if unacked:
            buttons.insert(0, Button(m.format("open_take", name=name), cb.escalation(eid, "a")))
        return tuple(buttons)

    # --- admins
    async def on_call(self) -> int:
        """How many clinicians a page can reach now."""
        async with self.d.store.unit_of_work() as uow:
            return len(await uow.clinicians.on_call())

    async def roster(self) -> tuple[list[Clinician], list[int]]:
        """Every clinician, and the on-call rota's ids in order."""
        async with self.d.store.unit_of_work() as uow:
            everyone = await uow.clinicians.all()
            rota = [c.id for c in await uow.clinicians.rota() if c.id is not None]
        return everyone, rota

    async def clinicians(self) -> str:
        async with self.d.store.unit_of_work() as uow:
            everyone = await uow.clinicians.all()
        if not everyone:
            return self._say("clinicians_none").text
        return "\n".join(self._describe(c) for c in everyone)

    async def set_rota(self, ids: list[int], *, actor: str = "cli") -> Changed:
        """The on-call order: these clinicians first to last; everyone else off the rota."""
        async with self.d.store.unit_of_work() as uow:
            everyone = {c.id: c for c in await uow.clinicians.all()}
            unknown = [i for i in ids if i not in everyone]
            if unknown:
                return Changed(self._say("rota_unknown", ids=", ".join(map(str, unknown))).text)
            inactive = [i for i in ids if not everyone[i].active]
            if inactive:
                return Changed(self._say("rota_inactive", ids=", ".join(map(str, inactive))).text)
            for c in everyone.values():
                c.rota_position = ids.index(c.id) if c.id in ids else None
                uow.save(c)
            await uow.records.audit(self.d.clock.now(), actor, "set_rota",
                             detail=" ".join(f"#{i}" for i in ids))
        if not ids:
            return Changed(self._say("rota_empty").text, ok=True)
        names = " → ".join(everyone[i].name for i in ids)
        return Changed(self._say("rota_set", names=names).text, ok=True)

    async def deactivate(self, clinician_id: int, *, actor: str = "cli") -> str:
        async with self.d.store.unit_of_work() as uow:
            clinician = await uow.clinicians.get(clinician_id)
            if clinician is None:
                return self._say("no_clinician", id=clinician_id).text
            clinician.active = False
            clinician.rota_position = None
            uow.save(clinician)
            await uow.console.end_all(clinician_id)  # signed out of the console at once
            await uow.records.audit(self.d.clock.now(), actor, "deactivate",
                             detail=f"clinician #{clinician_id}")
        return self._say("deactivated", name=clinician.name, id=clinician_id).text


    async def audit(
        self, *, since: datetime | None = None, patient_id: int | None = None, limit: int = 10_000
    ) -> list[AuditEvent]:
        """The audit log, oldest first."""
        async with self.d.store.unit_of_work() as uow:
            return await uow.records.audit_events(since=since, patient_id=patient_id, limit=limit)
