"""Records about the follow-up: audit, erasure, retention, rate windows, figures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    and_,
    delete,
    func,
    or_,
    text,
    update,
)
from sqlmodel import col, select

from bot.store.checkins import CheckinRepository
from bot.store.models import (
    Answer,
    AuditEvent,
    CheckIn,
    Clinician,
    Escalation,
    Invite,
    Patient,
    PatientStatus,
    Photo,
    Ping,
    RateWindow,
    Status,
    TreatmentSession,
)
from bot.store.sql import SqlRepository, Transaction

_COUNT_ATTEMPT = text(
    "INSERT INTO rate_window (key, \"window\", used) VALUES (:key, :window, 1) "
    "ON CONFLICT (key, \"window\") DO UPDATE SET used = rate_window.used + 1 RETURNING used"
)

ERASED_NAME = "(erased)"

ERASED_TEXT = "(erased at the patient's request or after the retention period)"



class RecordRepository(SqlRepository):
    """Records about the follow-up: audit, erasure, retention, rate windows, figures."""

    def __init__(self, tx: Transaction, checkins: CheckinRepository) -> None:
        super().__init__(tx)
        self._checkins = checkins  # erasure cancels what was still to be sent

    async def count_attempt(self, key: str, window: int) -> int:
        """Count one attempt under `key` in `window`; the number so far, this one included."""
        connection = await self._conn()
        result = await connection.execute(_COUNT_ATTEMPT, {"key": key, "window": window})
        return int(result.scalar_one())


    async def attempts(self, key: str, window: int) -> int:
        result = await self._orm.exec(
            select(RateWindow.used).where(RateWindow.key == key, RateWindow.window == window)
        )
        return result.first() or 0


    async def prune_rate_windows(self, before: int) -> None:
        await self._orm.exec(delete(RateWindow).where(col(RateWindow.window) < before))


    async def audit(
        self, at: datetime, actor: str, action: str, *, patient_id: int | None = None,
        detail: str = "",
    ) -> None:
        self._orm.add(
            AuditEvent(at=at, actor=actor, action=action, patient_id=patient_id, detail=detail)
        )


    async def audit_events(
        self, *, since: datetime | None = None, patient_id: int | None = None, limit: int = 1000
    ) -> list[AuditEvent]:
        query = select(AuditEvent)
        if since is not None:
            query = query.where(col(AuditEvent.at) >= since)
        if patient_id is not None:
            query = query.where(AuditEvent.patient_id == patient_id)
        result = await self._orm.exec(query.order_by(col(AuditEvent.id)).limit(limit))
        return list(result.all())


    async def erase_patient(
        self, patient_id: int, now: datetime, *, keep_escalations: bool = False
    ) -> bool:
        """Remove a patient's personal data and words, keep the anonymous counts.

        Kept: levels, days, timestamps and delivery states (the clinic's figures), and with
        `keep_escalations` the escalations whole (the clinic's medical record: text, outcome,
        pages). Gone: name, phone, chat, free text, photos (rows; the caller deletes the
        files), treated areas, invitation tokens, and otherwise ping and outcome texts. False
        if already erased (by another worker).
        """
        claimed = await self._orm.exec(
            update(Patient)
            .where(col(Patient.id) == patient_id, col(Patient.erased_at).is_(None))
            .values(erased_at=now)
        )
        if not claimed.rowcount:
            return False
        await self._orm.exec(delete(Photo).where(col(Photo.patient_id) == patient_id))
        sessions = select(TreatmentSession.id).where(TreatmentSession.patient_id == patient_id)
        await self._orm.exec(delete(Invite).where(col(Invite.session_id).in_(sessions)))
        await self._orm.exec(
            update(TreatmentSession)
            .where(col(TreatmentSession.patient_id) == patient_id)
            .values(areas="")
        )
        await self._orm.exec(
            update(Answer)
            .where(col(Answer.patient_id) == patient_id)
            .values(text=None, photo_file_id=None, pending_trend=None)
        )
        await self._orm.exec(
            update(CheckIn)
            .where(col(CheckIn.patient_id) == patient_id, col(CheckIn.draft).is_not(None))
            .values(draft=None)
        )
        await self._checkins.cancel_pending(patient_id, "erased")
        if not keep_escalations:
            await self._erase_escalations(patient_id)
        await self._orm.exec(
            update(Patient)
            .where(col(Patient.id) == patient_id)
            .values(
                name=ERASED_NAME, phone=None, chat_id=None, status=PatientStatus.ERASED,
                consent_text=None,
            )
        )
        return True

    async def _erase_escalations(self, patient_id: int) -> None:
        escalations = select(Escalation.id).where(Escalation.patient_id == patient_id)
        await self._orm.exec(
            update(Clinician)
            .where(col(Clinician.awaiting_outcome_for).in_(escalations))
            .values(awaiting_outcome_for=None)
        )
        await self._orm.exec(
            update(Ping)
            .where(col(Ping.escalation_id).in_(escalations), col(Ping.status) == Status.PENDING)
            .values(status=Status.CANCELLED, reason="erased")
        )
        await self._orm.exec(
            update(Escalation)
            .where(col(Escalation.patient_id) == patient_id)
            .values(body=ERASED_TEXT, summary=ERASED_NAME, outcome=None, next_step_at=None)
        )


    async def expired_patients(
        self, cutoff: datetime, *, limit: int, kept: bool = False
    ) -> list[int]:
        """Patients not yet erased whose last session (and enrolment) is before `cutoff`;
        with `kept`, those erased at their request whose escalations were kept."""
        last_session = (
            select(func.max(TreatmentSession.session_at))
            .where(TreatmentSession.patient_id == Patient.id)
            .scalar_subquery()
        )
        kept_records = (
            select(Escalation.id)
            .where(col(Escalation.patient_id) == Patient.id,
                   col(Escalation.body) != ERASED_TEXT)
            .exists()
        )
        state = (and_(col(Patient.erased_at).is_not(None), kept_records) if kept
                 else col(Patient.erased_at).is_(None))
        result = await self._orm.exec(
            select(Patient.id)
            .where(
                state,
                col(Patient.created_at) < cutoff,
                or_(last_session.is_(None), last_session < cutoff),
            )
            .order_by(col(Patient.id))
            .limit(limit)
        )
        return [pid for pid in result.all() if pid is not None]

    async def erase_kept_escalations(self, patient_id: int) -> None:
        """The escalations /forget kept as the clinic's record, erased (retention ended)."""
        await self._erase_escalations(patient_id)


    async def patient_counts(self) -> tuple[int, int, int]:
        """(enrolled: every patient the clinic enrolled, consented: of whom ever consented,
        active now)."""
        result = await self._orm.exec(
            select(
                func.count(),
                func.count(col(Patient.consent_at)),
                func.count().filter(col(Patient.status) == PatientStatus.ACTIVE),
            )
        )
        enrolled, consented, active = result.one()
        return int(enrolled), int(consented), int(active)


    async def reply_rate_by_day(self) -> list[tuple[int, int, int]]:
        """(plan day, scheduled check-ins delivered, of which answered), by day."""
        result = await self._orm.exec(
            select(col(CheckIn.day), func.count(),
                   func.count(func.coalesce(col(CheckIn.answered_at), col(CheckIn.replied_at))))
            .where(CheckIn.kind == "scheduled", CheckIn.status == Status.SENT)
            .group_by(col(CheckIn.day))
            .order_by(col(CheckIn.day))
        )
        return [(int(d), int(s), int(a)) for d, s, a in result.all()]
