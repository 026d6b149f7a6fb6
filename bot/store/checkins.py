"""The check-ins of the care plan, as rows (the schedule is data)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    func,
    or_,
    update,
)
from sqlmodel import col, select

from bot.core import schedule
from bot.store.models import (
    CheckIn,
    Patient,
    PatientStatus,
    Status,
)
from bot.store.sql import SqlRepository

# The latest scheduled check-in still open, and the open red-flag questions: replied to
# in words, in one statement (it runs for every message a patient writes).
_LATEST_OPEN = (
    select(CheckIn.id)
    .where(
        col(CheckIn.patient_id) == bindparam("p_patient"),
        col(CheckIn.kind) == "scheduled",
        col(CheckIn.status) == Status.SENT,
        col(CheckIn.answered_at).is_(None),
        col(CheckIn.replied_at).is_(None),
        col(CheckIn.sent_at) >= bindparam("since"),
    )
    .order_by(col(CheckIn.sent_at).desc())
    .limit(1)
    .scalar_subquery()
)
_REPLY_TO_OPEN = (
    update(CheckIn)
    .where(
        col(CheckIn.patient_id) == bindparam("p_patient"),
        col(CheckIn.answered_at).is_(None),
        col(CheckIn.replied_at).is_(None),
        or_(
            col(CheckIn.id) == _LATEST_OPEN,
            and_(col(CheckIn.kind).in_(bindparam("questions", expanding=True)),
                 col(CheckIn.nudged_at).is_(None)),
        ),
    )
    .values(replied_at=bindparam("now"))
    .returning(col(CheckIn.id), col(CheckIn.kind))
)


class CheckinRepository(SqlRepository):
    """The check-ins of the care plan, as rows (the schedule is data)."""

    async def get(self, checkin_id: int) -> CheckIn | None:
        return await self._orm.get(CheckIn, checkin_id)


    async def checkins_of(self, patient_id: int) -> list[CheckIn]:
        result = await self._orm.exec(
            select(CheckIn)
            .where(CheckIn.patient_id == patient_id)
            .order_by(col(CheckIn.due_at), col(CheckIn.id))
        )
        return list(result.all())


    async def step_ids(self, session_id: int) -> set[str]:
        result = await self._orm.exec(
            select(CheckIn.step_id).where(CheckIn.session_id == session_id)
        )
        return set(result.all())


    async def cancel_pending(
        self, patient_id: int, reason: str, *, from_date: date | None = None
    ) -> int:
        """Cancel the patient's unsent scheduled check-ins (from `from_date` on, if given)."""
        conditions = [
            col(CheckIn.patient_id) == patient_id,
            col(CheckIn.status).in_([Status.PENDING, Status.CLAIMED]),
            col(CheckIn.kind) == "scheduled",
        ]
        if from_date is not None:
            conditions.append(col(CheckIn.local_date) >= from_date)
        result = await self._orm.exec(
            update(CheckIn).where(*conditions).values(status=Status.CANCELLED, reason=reason)
        )
        return int(result.rowcount)


    async def restore_cancelled(self, patient_id: int, reason: str, from_date: date) -> int:
        """Put back check-ins cancelled for `reason` whose day has not passed."""
        result = await self._orm.exec(
            update(CheckIn)
            .where(
                col(CheckIn.patient_id) == patient_id,
                col(CheckIn.status) == Status.CANCELLED,
                col(CheckIn.reason) == reason,
                col(CheckIn.local_date) >= from_date,
            )
            .values(status=Status.PENDING, reason=None)
        )
        return int(result.rowcount)


    async def dated_checkins(self, patient_id: int) -> set[date]:
        """Local dates that already carry a live scheduled check-in."""
        result = await self._orm.exec(
            select(col(CheckIn.local_date)).where(
                CheckIn.patient_id == patient_id,
                CheckIn.kind == "scheduled",
                col(CheckIn.status).not_in([Status.CANCELLED]),
            )
        )
        return set(result.all())


    async def next_pending(self, patient_id: int) -> CheckIn | None:
        result = await self._orm.exec(
            select(CheckIn)
            .where(CheckIn.patient_id == patient_id, CheckIn.status == Status.PENDING)
            .order_by(col(CheckIn.due_at))
            .limit(1)
        )
        return result.first()


    async def last_scheduled(self, patient_id: int) -> CheckIn | None:
        result = await self._orm.exec(
            select(CheckIn)
            .where(
                CheckIn.patient_id == patient_id,
                CheckIn.kind == "scheduled",
                col(CheckIn.status).not_in([Status.CANCELLED]),
            )
            .order_by(col(CheckIn.local_date).desc())
            .limit(1)
        )
        return result.first()


    async def unanswered_since(self, cutoff: datetime, *, limit: int) -> list[CheckIn]:
        """Scheduled check-ins sent before `cutoff`, unanswered, not yet re-asked."""
        result = await self._orm.exec(
            select(CheckIn)
            .join(Patient, col(Patient.id) == CheckIn.patient_id)
            .where(
                CheckIn.kind == "scheduled",
                CheckIn.status == Status.SENT,
                col(CheckIn.answered_at).is_(None),
                col(CheckIn.replied_at).is_(None),
                col(CheckIn.nudged_at).is_(None),
                col(CheckIn.sent_at) <= cutoff,
                Patient.status == PatientStatus.ACTIVE,
            )
            .order_by(col(CheckIn.sent_at))
            .limit(limit)
        )
        return list(result.all())


    async def unanswered_questions(
        self, kinds: Sequence[str], cutoff: datetime, *, limit: int
    ) -> list[CheckIn]:
        """Red-flag questions sent before `cutoff`, neither answered by a tap nor replied to
        in words, not yet escalated (the nudge mark records the escalation: a question is
        never re-asked)."""
        result = await self._orm.exec(
            select(CheckIn)
            .where(
                col(CheckIn.kind).in_(list(kinds)),
                CheckIn.status == Status.SENT,
                col(CheckIn.answered_at).is_(None),
                col(CheckIn.replied_at).is_(None),
                col(CheckIn.nudged_at).is_(None),
                col(CheckIn.sent_at) <= cutoff,
            )
            .order_by(col(CheckIn.sent_at))
            .limit(limit)
        )
        return list(result.all())


    async def supersede_questions(
        self, patient_id: int, kinds: Sequence[str], now: datetime
    ) -> datetime | None:
        """The patient's open red-flag questions, superseded by a new one (only the newest
        can become an escalation). Their buttons still work. Returns when the oldest of them
        was asked (None: none was open): the new one keeps that deadline."""
        still_open = (
            col(CheckIn.patient_id) == patient_id,
            col(CheckIn.kind).in_(list(kinds)),
            col(CheckIn.answered_at).is_(None),
            col(CheckIn.replied_at).is_(None),
            col(CheckIn.nudged_at).is_(None),
        )
        oldest = (await self._orm.exec(
            select(CheckIn.sent_at).where(*still_open).order_by(col(CheckIn.sent_at)).limit(1)
        )).first()
        await self._orm.exec(update(CheckIn).where(*still_open).values(nudged_at=now))
        return oldest


    async def claim_nudge(self, checkin_id: int, now: datetime) -> bool:
        """Mark a check-in as re-asked; False if another dispatcher got there first."""
        result = await self._orm.exec(
            update(CheckIn)
            .where(col(CheckIn.id) == checkin_id, col(CheckIn.nudged_at).is_(None))
            .values(nudged_at=now)
        )
        return bool(result.rowcount)


    async def newer_checkin_sent(self, checkin: CheckIn) -> bool:
        result = await self._orm.exec(
            select(func.count()).select_from(CheckIn).where(
                CheckIn.patient_id == checkin.patient_id,
                CheckIn.status == Status.SENT,
                col(CheckIn.due_at) > checkin.due_at,
            )
        )
        return bool(result.one())


    async def sent_scheduled(self, patient_id: int) -> list[CheckIn]:
        """The patient's delivered scheduled check-ins, newest first."""
        result = await self._orm.exec(
            select(CheckIn)
            .where(
                CheckIn.patient_id == patient_id,
                CheckIn.kind == "scheduled",
                CheckIn.status == Status.SENT,
            )
            .order_by(col(CheckIn.due_at).desc())
        )
        return list(result.all())


    async def save_draft(self, checkin_id: int, draft: dict[str, Any]) -> None:
        await self._orm.exec(
            update(CheckIn).where(col(CheckIn.id) == checkin_id).values(draft=draft)
        )


    async def answer_open(
        self, patient_id: int, since: datetime, now: datetime, *, questions: Sequence[str] = ()
    ) -> int | None:
        """Mark the patient's latest scheduled check-in still open (sent since `since`,
        unanswered) as replied to in their own words, and their open red-flag questions of
        the kinds `questions` (not superseded); the scheduled one's id, or None. Their
        buttons still work (a warning sign tapped later is an emergency like any other)."""
        connection = await self._conn()  # Core: the ORM's bulk-update path costs 5x more
        result = await connection.execute(_REPLY_TO_OPEN, {
            "p_patient": patient_id, "since": since, "now": now, "questions": list(questions)})
        ids = [row[0] for row in result.all() if row[1] == "scheduled" and row[0] is not None]
        return ids[0] if ids else None


    async def release_held(self, patient_id: int, now: datetime) -> int:
        """Check-ins held back while an emergency waited for a clinician: due now."""
        result = await self._orm.exec(
            update(CheckIn)
            .where(col(CheckIn.patient_id) == patient_id, col(CheckIn.status) == Status.PENDING,
                   col(CheckIn.reason) == schedule.HELD, col(CheckIn.due_at) > now)
            .values(due_at=now, reason=None)
        )
        return int(result.rowcount or 0)


    async def mark_answered(self, checkin_id: int, now: datetime) -> bool:
        """Close a check-in for answers; False if it was already answered (a double tap)."""
        result = await self._orm.exec(
            update(CheckIn)
            .where(col(CheckIn.id) == checkin_id, col(CheckIn.answered_at).is_(None))
            .values(answered_at=now)
        )
        return bool(result.rowcount)
