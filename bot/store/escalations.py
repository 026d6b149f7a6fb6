"""Escalations, the pings that page them and the morning digests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import (
    and_,
    bindparam,
    func,
    or_,
    update,
)
from sqlmodel import col, select

from bot.store.models import (
    Digest,
    Escalation,
    Ping,
    Status,
)
from bot.store.sql import SqlRepository

_ESCALATIONS = (
    select(Escalation)
    .where(col(Escalation.id).in_(bindparam("ids", expanding=True)))
    .order_by(col(Escalation.id))
)

_LADDER_DUE = (
    select(Escalation.id)
    .where(col(Escalation.status) == "open", col(Escalation.next_step_at) <= bindparam("now"))
    .order_by(col(Escalation.next_step_at))
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)

_LADDER_STEPS = (
    update(Escalation)
    .where(col(Escalation.id).in_(_LADDER_DUE.scalar_subquery()))
    .values(ladder_step=col(Escalation.ladder_step) + 1, next_step_at=None)
    .returning(Escalation)
    .execution_options(synchronize_session=False)
)



class EscalationRepository(SqlRepository):
    """Escalations, the pings that page them and the morning digests."""

    async def get(self, escalation_id: int) -> Escalation | None:
        return await self._orm.get(Escalation, escalation_id)


    async def escalations_of(self, patient_id: int) -> list[Escalation]:
        result = await self._orm.exec(
            select(Escalation)
            .where(Escalation.patient_id == patient_id)
            .order_by(col(Escalation.id))
        )
        return list(result.all())


    async def acknowledge(self, escalation_id: int, clinician_id: int, now: datetime) -> bool:
        """Record the first acknowledgement and stop the ladder; False if already taken."""
        result = await self._orm.exec(
            update(Escalation)
            .where(col(Escalation.id) == escalation_id, col(Escalation.acked_at).is_(None))
            .values(status="acknowledged", acked_by=clinician_id, acked_at=now, next_step_at=None)
        )
        return bool(result.rowcount)


    async def share_outcome(self, escalation_id: int, now: datetime) -> bool:
        """Mark a resolved escalation's outcome as shared; False if it was already."""
        result = await self._orm.exec(
            update(Escalation)
            .where(col(Escalation.id) == escalation_id, col(Escalation.resolved_at).isnot(None),
                   col(Escalation.outcome_shared_at).is_(None))
            .values(outcome_shared_at=now)
        )
        return bool(result.rowcount)


    async def resolve(
        self, escalation_id: int, clinician_id: int, now: datetime, outcome: str
    ) -> bool:
        """Close an escalation with its outcome; False if it was already resolved."""
        result = await self._orm.exec(
            update(Escalation)
            .where(col(Escalation.id) == escalation_id, col(Escalation.resolved_at).is_(None))
            .values(
                status="resolved",
                resolved_by=clinician_id,
                resolved_at=now,
                outcome=outcome,
                next_step_at=None,
            )
        )
        return bool(result.rowcount)


    async def set_next_step(self, escalation_id: int, when: datetime | None) -> None:
        """When the escalation's next ladder step is due (None: no further step)."""
        await self._orm.exec(
            update(Escalation).where(col(Escalation.id) == escalation_id).values(next_step_at=when)
        )


    async def set_ladder_base(self, escalation_id: int, base: int) -> None:
        """The step the escalation's ladder counts from (`Escalation.ladder_base`)."""
        await self._orm.exec(
            update(Escalation).where(col(Escalation.id) == escalation_id)
            .values(ladder_base=base)
        )


    async def mark_unpaged(self, escalation_id: int, when: datetime | None) -> None:
        """Since when nobody could be paged for it (None: someone was paged); the first
        time is kept."""
        value = func.coalesce(col(Escalation.unpaged_at), when) if when is not None else None
        await self._orm.exec(
            update(Escalation).where(col(Escalation.id) == escalation_id).values(unpaged_at=value)
        )


    async def claim_ladder_steps(self, now: datetime, *, limit: int) -> list[Escalation]:
        """Take the escalations whose page went unacknowledged past its time, one step on.

        The step is counted in the same statement that claims them, so two dispatchers never
        page the same step twice (SKIP LOCKED on PostgreSQL, one writer on SQLite).
        """
        result = await self._orm.exec(_LADDER_STEPS, params={"now": now, "limit": limit})
        return list(result.scalars().all())


    async def claim_unsummarised(self, now: datetime, *, limit: int) -> list[Escalation]:
        """Routine escalations and notices not yet in a morning summary, and pages nobody
        acknowledged after the whole ladder (in every summary), marked as taken."""
        due = (
            select(Escalation.id)
            .where(
                or_(
                    and_(col(Escalation.level).in_(["none", "routine"]),
                         col(Escalation.summarised_at).is_(None),
                         col(Escalation.status) != "resolved"),
                    # A page nobody acknowledged after the whole ladder, or one nobody
                    # could be paged for: every summary until acknowledged.
                    and_(col(Escalation.level).in_(["urgent", "emergency"]),
                         col(Escalation.kind) == "clinical",
                         col(Escalation.status) == "open",
                         or_(col(Escalation.next_step_at).is_(None),
                             col(Escalation.unpaged_at).isnot(None))),
                ),
                col(Escalation.created_at) <= now,
            )
            .order_by(col(Escalation.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        result = await self._orm.exec(
            update(Escalation)
            .where(col(Escalation.id).in_(due.scalar_subquery()))
            .values(summarised_at=now)
            .returning(Escalation)
            .execution_options(synchronize_session=False)
        )
        return sorted(result.scalars().all(), key=lambda e: e.id or 0)


    async def digest_sent_on(self, clinic_date: date) -> bool:
        result = await self._orm.exec(
            select(func.count()).select_from(Digest).where(Digest.clinic_date == clinic_date)
        )
        return bool(result.one())


    async def digests_with(self, escalation_id: int, since: date) -> list[Digest]:
        """Summary messages that list this escalation (to update every copy)."""
        result = await self._orm.exec(
            select(Digest).where(col(Digest.clinic_date) >= since).order_by(col(Digest.id))
        )
        return [d for d in result.all() if escalation_id in d.escalation_ids]


    async def many(self, ids: Sequence[int] | set[int]) -> list[Escalation]:
        result = await self._orm.exec(_ESCALATIONS, params={"ids": list(ids)})
        return list(result.all())


    async def open(self) -> list[Escalation]:
        result = await self._orm.exec(
            select(Escalation)
            .where(col(Escalation.status) != "resolved", col(Escalation.kind) == "clinical")
            .order_by(col(Escalation.created_at))
        )
        return list(result.all())


    async def pings_of(self, escalation_id: int) -> list[Ping]:
        result = await self._orm.exec(
            select(Ping).where(Ping.escalation_id == escalation_id).order_by(col(Ping.id))
        )
        return list(result.all())


    async def paged(self, escalation_id: int) -> bool:
        """Whether a clinician was paged about it (a ping sent, or on its way)."""
        result = await self._orm.exec(
            select(func.count()).select_from(Ping).where(
                col(Ping.escalation_id) == escalation_id,
                col(Ping.status).in_([Status.SENT, Status.PENDING, Status.CLAIMED]))
        )
        return bool(result.one())


    async def latest_open(
        self, patient_id: int, since: datetime | None = None, *, lock: bool = False
    ) -> Escalation | None:
        """The patient's newest unresolved clinical escalation; with `lock`, held for this
        transaction (PostgreSQL: two workers joining findings to it take turns)."""
        query = select(Escalation).where(
            Escalation.patient_id == patient_id,
            Escalation.kind == "clinical",
            col(Escalation.status) != "resolved",
        )
        if since is not None:
            query = query.where(col(Escalation.created_at) >= since)
        query = query.order_by(col(Escalation.created_at).desc()).limit(1)
        result = await self._orm.exec(query.with_for_update() if lock else query)
        return result.first()


    async def all(self) -> list[Escalation]:
        return list((await self._orm.exec(select(Escalation))).all())
