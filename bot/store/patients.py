"""A patient and what hangs on them: sessions, invitations, answers, photos."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import (
    bindparam,
    delete,
    func,
    update,
)
from sqlmodel import col, select

from bot.store.models import (
    Answer,
    CheckIn,
    Escalation,
    Invite,
    Patient,
    PatientStatus,
    Photo,
    Status,
    TreatmentSession,
)
from bot.store.sql import SqlRepository

# The statements on hot paths (every patient message, every dispatcher tick) are built once,
# with bound parameters: building and cache-keying a statement costs more than SQLite takes
# to run it (about 0.1 ms against tens of microseconds on a small VM).
_PATIENT_BY_CHAT = select(Patient).where(col(Patient.chat_id) == bindparam("chat_id"))

_SESSIONS_OF = (
    select(TreatmentSession)
    .where(col(TreatmentSession.patient_id) == bindparam("patient_id"))
    .order_by(col(TreatmentSession.session_at))
)

_PREVIOUS = select(Answer.observations).where(
    col(Answer.patient_id) == bindparam("patient_id"), col(Answer.source) != "note"
)

_LATEST = (col(Answer.created_at).desc(), col(Answer.id).desc())

_PREVIOUS_LAST = _PREVIOUS.order_by(*_LATEST).limit(1)

_PREVIOUS_BEFORE = (
    _PREVIOUS.where(col(Answer.id) < bindparam("before")).order_by(*_LATEST).limit(1)
)

LAST_OBSERVATIONS = (
    select(Answer.observations)
    .where(col(Answer.patient_id) == col(Patient.id), col(Answer.source) != "note")
    .order_by(*_LATEST)
    .limit(1)
    .correlate(Patient)
    .scalar_subquery()
)


def present_symptoms(observations: Any) -> frozenset[str]:
    """The symptoms present in an answer's observations (stored JSON, decoded or not)."""
    if isinstance(observations, str):
        observations = json.loads(observations)
    return frozenset(str(o["symptom"]) for o in observations or () if o.get("present", True))

_REPLY_CONTEXT = (
    select(Patient, TreatmentSession, LAST_OBSERVATIONS)
    .outerjoin(TreatmentSession, col(TreatmentSession.patient_id) == col(Patient.id))
    .where(col(Patient.chat_id) == bindparam("chat_id"))
    .order_by(col(TreatmentSession.session_at))
)



class PatientRepository(SqlRepository):
    """A patient and what hangs on them: sessions, invitations, answers, photos."""

    async def get(self, patient_id: int) -> Patient | None:
        return await self._orm.get(Patient, patient_id)


    async def by_chat(self, chat_id: int) -> Patient | None:
        result = await self._orm.exec(_PATIENT_BY_CHAT, params={"chat_id": chat_id})
        return result.first()


    async def reply_context(
        self, chat_id: int
    ) -> tuple[Patient, list[TreatmentSession], list[dict[str, Any]] | None] | None:
        """In one query, what answering a patient's message needs: the patient of the chat,
        their sessions in order, and the observations of their last evaluated answer (as
        `previous_observations`). None if the chat is not a patient's.
        """
        rows = (await self._orm.exec(_REPLY_CONTEXT, params={"chat_id": chat_id})).all()
        if not rows:
            return None
        patient, _, previous = rows[0]
        sessions = [session for _, session, _ in rows if session is not None]
        return patient, sessions, list(previous) if previous is not None else None


    async def delete(self, patient_id: int) -> None:
        await self._orm.exec(delete(Patient).where(col(Patient.id) == patient_id))


    async def treatment_session(self, session_id: int) -> TreatmentSession | None:
        return await self._orm.get(TreatmentSession, session_id)


    async def sessions_of(self, patient_id: int) -> list[TreatmentSession]:
        result = await self._orm.exec(_SESSIONS_OF, params={"patient_id": patient_id})
        return list(result.all())


    async def move_session(self, session_id: int, patient_id: int) -> None:
        await self._orm.exec(
            update(TreatmentSession)
            .where(col(TreatmentSession.id) == session_id)
            .values(patient_id=patient_id)
        )


    async def has_history(self, patient_id: int) -> bool:
        """Whether anything besides the invitation hangs on this patient."""
        for model in (CheckIn, Answer, Escalation):
            result = await self._orm.exec(
                select(func.count()).select_from(model).where(model.patient_id == patient_id)
            )
            if result.one():
                return True
        return False


    async def invite(self, invite_id: int) -> Invite | None:
        return await self._orm.get(Invite, invite_id)


    async def outside_by_chat(self, chat_id: int) -> Patient | None:
        """The patient of a chat outside the follow-up: stopped or blocked, else the not
        yet enrolled patient whose invitation link the chat opened last."""
        left = await self._orm.exec(select(Patient).where(
            col(Patient.chat_id) == chat_id,
            col(Patient.status).in_((PatientStatus.STOPPED, PatientStatus.UNREACHABLE))))
        return left.first() or await self._invited_by_chat(chat_id)


    async def _invited_by_chat(self, chat_id: int) -> Patient | None:
        result = await self._orm.exec(
            select(Patient)
            .join(TreatmentSession, col(TreatmentSession.patient_id) == col(Patient.id))
            .join(Invite, col(Invite.session_id) == col(TreatmentSession.id))
            .where(col(Invite.opened_by_chat) == chat_id, col(Patient.chat_id).is_(None),
                   col(Patient.status) == PatientStatus.INVITED)
            .order_by(col(Invite.id).desc())
            .limit(1)
        )
        return result.first()


    async def invite_by_hash(self, token_hash: str) -> Invite | None:
        result = await self._orm.exec(select(Invite).where(Invite.token_hash == token_hash))
        return result.first()


    async def use_invite(self, invite_id: int, now: datetime) -> bool:
        """Mark an invite used; False if it was used or expired meanwhile (single use)."""
        result = await self._orm.exec(
            update(Invite)
            .where(
                col(Invite.id) == invite_id,
                col(Invite.used_at).is_(None),
                col(Invite.expires_at) > now,
            )
            .values(used_at=now)
        )
        return bool(result.rowcount)


    async def previous_observations(
        self, patient_id: int, *, before: int | None = None
    ) -> list[dict[str, Any]] | None:
        """Observations of the patient's last evaluated answer (before answer `before`)."""
        if before is None:
            result = await self._orm.exec(_PREVIOUS_LAST, params={"patient_id": patient_id})
        else:
            result = await self._orm.exec(
                _PREVIOUS_BEFORE, params={"patient_id": patient_id, "before": before}
            )
        row = result.first()
        return list(row) if row is not None else None


    async def answer(self, answer_id: int) -> Answer | None:
        return await self._orm.get(Answer, answer_id)


    async def close_clarification(self, answer_id: int) -> bool:
        """Take the pending trend question off an answer; False if already answered."""
        result = await self._orm.exec(
            update(Answer)
            .where(col(Answer.id) == answer_id, col(Answer.pending_trend).is_not(None))
            .values(pending_trend=None)
        )
        return bool(result.rowcount)


    async def answers_of(self, patient_id: int) -> list[Answer]:
        result = await self._orm.exec(
            select(Answer).where(Answer.patient_id == patient_id).order_by(col(Answer.id))
        )
        return list(result.all())


    async def photos_of(self, patient_id: int) -> list[Photo]:
        result = await self._orm.exec(
            select(Photo).where(Photo.patient_id == patient_id).order_by(col(Photo.id))
        )
        return list(result.all())


    async def photo(self, photo_id: int) -> Photo | None:
        return await self._orm.get(Photo, photo_id)


    async def attach_photo(self, photo_id: int, escalation_id: int) -> bool:
        """Attach a kept photo or note not attached yet to an escalation; whether it was."""
        connection = await self._conn()
        result = await connection.execute(
            update(Photo).where(col(Photo.id) == photo_id, col(Photo.escalation_id).is_(None))
            .values(escalation_id=escalation_id)
        )
        return bool(result.rowcount)


    async def photo_known(self, patient_id: int, file_unique_id: str) -> bool:
        result = await self._orm.exec(
            select(func.count()).select_from(Photo).where(
                Photo.patient_id == patient_id, Photo.file_unique_id == file_unique_id
            )
        )
        return bool(result.one())


    async def all(self) -> list[Patient]:
        result = await self._orm.exec(select(Patient).order_by(col(Patient.id)))
        return list(result.all())


    async def find(self, name: str) -> list[Patient]:
        """Patients whose name contains `name`, ignoring case."""
        result = await self._orm.exec(
            select(Patient)
            .where(func.lower(Patient.name).contains(name.lower()))
            .order_by(col(Patient.id))
            .limit(20)
        )
        return list(result.all())


    async def active(self) -> list[Patient]:
        result = await self._orm.exec(
            select(Patient).where(Patient.status == PatientStatus.ACTIVE)
        )
        return list(result.all())


    async def last_answer_at(self, patient_id: int) -> datetime | None:
        result = await self._orm.exec(
            select(func.max(Answer.created_at)).where(Answer.patient_id == patient_id)
        )
        value = result.one()
        return value if isinstance(value, datetime) else None


    async def claim_silence_alert(
        self, patient_id: int, previous: datetime | None, now: datetime
    ) -> bool:
        """Record that the clinic is told of this silence; False if another worker was first."""
        stamp = col(Patient.silence_alerted_at)
        result = await self._orm.exec(
            update(Patient)
            .where(
                col(Patient.id) == patient_id,
                stamp.is_(None) if previous is None else stamp == previous,
            )
            .values(silence_alerted_at=now)
        )
        return bool(result.rowcount)


    async def quiet(self, cutoff: datetime) -> list[Patient]:
        """Active patients with a scheduled check-in sent before `cutoff` and unanswered."""
        result = await self._orm.exec(
            select(Patient)
            .where(
                Patient.status == PatientStatus.ACTIVE,
                col(Patient.id).in_(
                    select(CheckIn.patient_id).where(
                        CheckIn.kind == "scheduled",
                        CheckIn.status == Status.SENT,
                        col(CheckIn.answered_at).is_(None),
                        col(CheckIn.replied_at).is_(None),
                        col(CheckIn.sent_at) <= cutoff,
                    )
                ),
            )
            .order_by(col(Patient.id))
        )
        return list(result.all())
