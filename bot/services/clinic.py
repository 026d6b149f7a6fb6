"""What clinicians and admins can ask of the bot: patients, open escalations, the rota."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core import callbacks as cb
from bot.core.callbacks import Button
from bot.core.model import Level
from bot.core.texts import LEVEL_MARK, clip
from bot.services.common import Deps, day_of
from bot.services.ports import Reply
from bot.services.repositories import UnitOfWork
from bot.store.models import AuditEvent, Clinician


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
                patient = await uow.patients.get(int(query))
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
        """Active patients with their day and last status, worst first."""
        now = self.d.clock.now()
        m = self.d.content.messages
        rows: list[tuple[int, int, str]] = []
        async with self.d.store.unit_of_work() as uow:
            open_levels = await self._open_levels(uow)
            for p in await uow.patients.active():
                assert p.id is not None
                day = day_of(p, await uow.patients.sessions_of(p.id), now)
                answers = [a for a in await uow.patients.answers_of(p.id) if a.source != "note"]
                last = answers[-1] if answers else None
                worst = open_levels.get(p.id, -1)
                status = (
                    m.format("patient_open", mark=LEVEL_MARK[Level(worst)])
                    if worst >= 0
                    else m.format("patient_last", level=last.level) if last
                    else m["patient_no_answer"]
                )
                last_level = Level.parse(last.level) if last else Level.NONE
                line = m.format("patient_line", id=p.id, name=p.name, day=day, status=status)
                rows.append((worst, last_level, line))
        if not rows:
            return self._say("patients_none")
        rows.sort(key=lambda r: (-r[0], -r[1], r[2]))
        return Reply(clip("\n".join([m["patients_header"], *(r[2] for r in rows)]), 4000))

    async def _open_levels(self, uow: UnitOfWork) -> dict[int, int]:
        levels: dict[int, int] = {}
        for e in await uow.escalations.open():
            level = int(Level.parse(e.level))
            levels[e.patient_id] = max(levels.get(e.patient_id, -1), level)
        return levels

    async def open_escalations(self) -> Reply:
        """Escalations not yet resolved, oldest first, with their buttons."""
        tz = self.d.clinic_tz
        m = self.d.content.messages
        lines, rows = [], []
        async with self.d.store.unit_of_work() as uow:
            for e in (await uow.escalations.open())[:30]:
                assert e.id is not None
                patient = await uow.patients.get(e.patient_id)
                name = patient.name if patient else "?"
                state = m["open_acked"] if e.acked_at else m["open_not_acked"]
                lines.append(
                    f"#{e.id} {LEVEL_MARK[Level.parse(e.level)]} · {name} (#{e.patient_id}) · "
                    f"{self.d.clinic_time(e.created_at, tz)} · {state}\n   {clip(e.summary, 200)}"
                )
                buttons = [Button(f"📈 #{e.id}", cb.escalation(e.id, "t"))]
                if e.acked_at is None:
                    buttons.insert(0, Button(f"✅ #{e.id}", cb.escalation(e.id, "a")))
                buttons.append(Button(f"✔️ #{e.id}", cb.escalation(e.id, "r")))
                rows.append(tuple(buttons))
        if not lines:
            return self._say("open_none")
        text = clip("\n".join([m["open_header"], *lines]), 4000)
        return Reply(text, tuple(rows[:10]))

    # --- admins
    async def on_call(self) -> int:
        """How many clinicians a page can reach now."""
        async with self.d.store.unit_of_work() as uow:
            return len(await uow.clinicians.on_call())

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
            await uow.records.audit(self.d.clock.now(), actor, "deactivate",
                             detail=f"clinician #{clinician_id}")
        return self._say("deactivated", name=clinician.name, id=clinician_id).text


    async def audit(
        self, *, since: datetime | None = None, patient_id: int | None = None, limit: int = 10_000
    ) -> list[AuditEvent]:
        """The audit log, oldest first."""
        async with self.d.store.unit_of_work() as uow:
            return await uow.records.audit_events(since=since, patient_id=patient_id, limit=limit)
