"""Every query the application makes, in one place. A `Repo` wraps one transaction's session."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    Date,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    or_,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store.models import (
    Answer,
    AuditEvent,
    CheckIn,
    Claimed,
    Clinician,
    Digest,
    Escalation,
    Invite,
    OnCall,
    Patient,
    PatientStatus,
    Photo,
    Ping,
    RateWindow,
    Recipient,
    SendSlot,
    Status,
    TreatmentSession,
)

Row = TypeVar("Row", CheckIn, Ping, Digest)

# The same upsert is valid on PostgreSQL and SQLite (3.35+): one statement, so atomic.
_TAKE_SLOT = text(
    "INSERT INTO send_slot (second, used) VALUES (:second, 1) "
    "ON CONFLICT (second) DO UPDATE SET used = send_slot.used + 1 "
    "WHERE send_slot.used < :limit RETURNING used"
)
_COUNT_ATTEMPT = text(
    "INSERT INTO rate_window (key, \"window\", used) VALUES (:key, :window, 1) "
    "ON CONFLICT (key, \"window\") DO UPDATE SET used = rate_window.used + 1 RETURNING used"
)
ERASED_NAME = "(erased)"
ERASED_TEXT = "(erased at the patient's request or after the retention period)"
_FILL_SLOT = text(
    "INSERT INTO send_slot (second, used) VALUES (:second, :limit) "
    "ON CONFLICT (second) DO UPDATE SET used = :limit"
)
M = TypeVar("M", bound=SQLModel)

# The statements on hot paths (every patient message, every dispatcher tick) are built once,
# with bound parameters: building and cache-keying a statement costs more than SQLite takes
# to run it (about 0.1 ms against tens of microseconds on a small VM).
_PATIENT_BY_CHAT = select(Patient).where(col(Patient.chat_id) == bindparam("chat_id"))
_RECIPIENTS = select(
    Patient.__table__.c.id,  # type: ignore[attr-defined]
    Patient.__table__.c.status,  # type: ignore[attr-defined]
    Patient.__table__.c.chat_id,  # type: ignore[attr-defined]
    Patient.__table__.c.timezone,  # type: ignore[attr-defined]
).where(col(Patient.id).in_(bindparam("ids", expanding=True)))
_SESSIONS_OF = (
    select(TreatmentSession)
    .where(col(TreatmentSession.patient_id) == bindparam("patient_id"))
    .order_by(col(TreatmentSession.session_at))
)
_CLINICIAN_BY_CHAT = select(Clinician).where(col(Clinician.chat_id) == bindparam("chat_id"))
_ACTIVE_CLINICIANS = (
    select(Clinician)
    .where(col(Clinician.active).is_(True), col(Clinician.chat_id).is_not(None))
    .order_by(col(Clinician.id))
)
_ON_CALL = (
    select(col(Clinician.id), col(Clinician.chat_id), col(Clinician.rota_position))
    .where(col(Clinician.active).is_(True), col(Clinician.chat_id).is_not(None))
    .order_by(col(Clinician.id))
)
_PREVIOUS = select(Answer.observations).where(
    col(Answer.patient_id) == bindparam("patient_id"), col(Answer.source) != "note"
)
_LATEST = (col(Answer.created_at).desc(), col(Answer.id).desc())
_PREVIOUS_LAST = _PREVIOUS.order_by(*_LATEST).limit(1)
_PREVIOUS_BEFORE = (
    _PREVIOUS.where(col(Answer.id) < bindparam("before")).order_by(*_LATEST).limit(1)
)
_LAST_OBSERVATIONS = (
    select(Answer.observations)
    .where(col(Answer.patient_id) == col(Patient.id), col(Answer.source) != "note")
    .order_by(*_LATEST)
    .limit(1)
    .correlate(Patient)
    .scalar_subquery()
)
_REPLY_CONTEXT = (
    select(Patient, TreatmentSession, _LAST_OBSERVATIONS)
    .outerjoin(TreatmentSession, col(TreatmentSession.patient_id) == col(Patient.id))
    .where(col(Patient.chat_id) == bindparam("chat_id"))
    .order_by(col(TreatmentSession.session_at))
)
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
# Written out: SQLAlchemy renders RETURNING columns without their table, which would make
# this correlated subquery compare the later row with itself.
_NEXT_LIVE_DATE = literal_column(
    "(SELECT min(later.local_date) FROM checkin AS later"
    " WHERE later.patient_id = checkin.patient_id AND later.kind = 'scheduled'"
    " AND later.local_date > checkin.local_date"
    f" AND later.status != '{Status.CANCELLED}')",
    type_=Date,
)
_CLAIMED_COLUMNS = tuple(
    CheckIn.__table__.c[field]  # type: ignore[attr-defined]
    for field in Claimed.__dataclass_fields__
)
_STATEMENTS: dict[tuple[Any, ...], Any] = {}  # built on first use, by shape


def _built(key: tuple[Any, ...], build: Callable[..., Any], *args: Any) -> Any:
    """The statement of this shape, built once per process by `build(*args)`."""
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = build(*args)
    return stmt


class Repo:
    """Queries over one open transaction (see `Database.tx`)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._connection: AsyncConnection | None = None

    async def _conn(self) -> AsyncConnection:
        """The transaction's connection, for Core statements (asked of the session once)."""
        if self._connection is None:
            self._connection = await self.session.connection()
        return self._connection

    async def add(self, obj: M) -> M:
        """Insert and flush, so the row's id is known."""
        self.session.add(obj)
        await self.session.flush()
        return obj

    async def add_all(self, objs: Sequence[SQLModel]) -> None:
        self.session.add_all(objs)
        await self.session.flush()

    async def insert_rows(
        self, model: type[SQLModel], rows: Sequence[dict[str, Any]]
    ) -> list[int]:
        """Insert rows given as column values (the model's defaults fill the rest) in one
        statement; their ids, in order. No objects are built and there is no unit of work:
        several times cheaper than `add` on hot paths. It runs on the connection: changes
        pending in the session are not flushed first.
        """
        if not rows:
            return []
        table = model.__table__  # type: ignore[attr-defined]
        stmt = _built(("insert", table), _insert, table)
        full = [_complete(model, row) for row in rows]
        connection = await self._conn()
        result = await connection.execute(stmt, full[0] if len(full) == 1 else full)
        return [row_id for (row_id,) in result.all()]

    # --- patients and sessions
    async def patient(self, patient_id: int) -> Patient | None:
        return await self.session.get(Patient, patient_id)

    async def patient_by_chat(self, chat_id: int) -> Patient | None:
        result = await self.session.exec(_PATIENT_BY_CHAT, params={"chat_id": chat_id})
        return result.first()

    async def reply_context(
        self, chat_id: int
    ) -> tuple[Patient, list[TreatmentSession], list[dict[str, Any]] | None] | None:
        """In one query, what answering a patient's message needs: the patient of the chat,
        their sessions in order, and the observations of their last evaluated answer (as
        `previous_observations`). None if the chat is not a patient's.
        """
        rows = (await self.session.exec(_REPLY_CONTEXT, params={"chat_id": chat_id})).all()
        if not rows:
            return None
        patient, _, previous = rows[0]
        sessions = [session for _, session, _ in rows if session is not None]
        return patient, sessions, list(previous) if previous is not None else None

    async def delete_patient(self, patient_id: int) -> None:
        await self.session.exec(delete(Patient).where(col(Patient.id) == patient_id))

    async def session_(self, session_id: int) -> TreatmentSession | None:
        return await self.session.get(TreatmentSession, session_id)

    async def sessions_of(self, patient_id: int) -> list[TreatmentSession]:
        result = await self.session.exec(_SESSIONS_OF, params={"patient_id": patient_id})
        return list(result.all())

    async def move_session(self, session_id: int, patient_id: int) -> None:
        await self.session.exec(
            update(TreatmentSession)
            .where(col(TreatmentSession.id) == session_id)
            .values(patient_id=patient_id)
        )

    async def patient_has_history(self, patient_id: int) -> bool:
        """Whether anything besides the invitation hangs on this patient."""
        for model in (CheckIn, Answer, Escalation):
            result = await self.session.exec(
                select(func.count()).select_from(model).where(model.patient_id == patient_id)
            )
            if result.one():
                return True
        return False

    # --- invites
    async def invite(self, invite_id: int) -> Invite | None:
        return await self.session.get(Invite, invite_id)

    async def invite_by_hash(self, token_hash: str) -> Invite | None:
        result = await self.session.exec(select(Invite).where(Invite.token_hash == token_hash))
        return result.first()

    async def use_invite(self, invite_id: int, now: datetime) -> bool:
        """Mark an invite used; False if it was used or expired meanwhile (single use)."""
        result = await self.session.exec(
            update(Invite)
            .where(
                col(Invite.id) == invite_id,
                col(Invite.used_at).is_(None),
                col(Invite.expires_at) > now,
            )
            .values(used_at=now)
        )
        return bool(result.rowcount)

    # --- clinicians
    async def clinician(self, clinician_id: int) -> Clinician | None:
        return await self.session.get(Clinician, clinician_id)

    async def clinician_by_chat(self, chat_id: int) -> Clinician | None:
        result = await self.session.exec(_CLINICIAN_BY_CHAT, params={"chat_id": chat_id})
        return result.first()

    async def rota(self) -> list[Clinician]:
        """Active, registered clinicians on the on-call rota, in order."""
        result = await self.session.exec(
            select(Clinician)
            .where(
                col(Clinician.active).is_(True),
                col(Clinician.chat_id).is_not(None),
                col(Clinician.rota_position).is_not(None),
            )
            .order_by(col(Clinician.rota_position), col(Clinician.id))
        )
        return list(result.all())

    async def clinicians(self) -> list[Clinician]:
        result = await self.session.exec(select(Clinician).order_by(col(Clinician.id)))
        return list(result.all())

    async def on_call(self) -> list[OnCall]:
        """The active, registered clinicians paging can reach, in id order (plain rows:
        every page reads them)."""
        connection = await self._conn()
        return [
            OnCall(int(row.id), int(row.chat_id), row.rota_position)
            for row in await connection.execute(_ON_CALL)
        ]

    async def active_clinicians(self) -> list[Clinician]:
        return list((await self.session.exec(_ACTIVE_CLINICIANS)).all())

    # --- check-ins
    async def checkin(self, checkin_id: int) -> CheckIn | None:
        return await self.session.get(CheckIn, checkin_id)

    async def checkins_of(self, patient_id: int) -> list[CheckIn]:
        result = await self.session.exec(
            select(CheckIn)
            .where(CheckIn.patient_id == patient_id)
            .order_by(col(CheckIn.due_at), col(CheckIn.id))
        )
        return list(result.all())

    async def step_ids(self, session_id: int) -> set[str]:
        result = await self.session.exec(
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
        result = await self.session.exec(
            update(CheckIn).where(*conditions).values(status=Status.CANCELLED, reason=reason)
        )
        return int(result.rowcount)

    async def restore_cancelled(self, patient_id: int, reason: str, from_date: date) -> int:
        """Put back check-ins cancelled for `reason` whose day has not passed."""
        result = await self.session.exec(
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
        result = await self.session.exec(
            select(col(CheckIn.local_date)).where(
                CheckIn.patient_id == patient_id,
                CheckIn.kind == "scheduled",
                col(CheckIn.status).not_in([Status.CANCELLED]),
            )
        )
        return set(result.all())

    async def next_pending(self, patient_id: int) -> CheckIn | None:
        result = await self.session.exec(
            select(CheckIn)
            .where(CheckIn.patient_id == patient_id, CheckIn.status == Status.PENDING)
            .order_by(col(CheckIn.due_at))
            .limit(1)
        )
        return result.first()

    async def last_scheduled(self, patient_id: int) -> CheckIn | None:
        result = await self.session.exec(
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
        result = await self.session.exec(
            select(CheckIn)
            .join(Patient, col(Patient.id) == CheckIn.patient_id)
            .where(
                CheckIn.kind == "scheduled",
                CheckIn.status == Status.SENT,
                col(CheckIn.answered_at).is_(None),
                col(CheckIn.nudged_at).is_(None),
                col(CheckIn.sent_at) <= cutoff,
                Patient.status == PatientStatus.ACTIVE,
            )
            .order_by(col(CheckIn.sent_at))
            .limit(limit)
        )
        return list(result.all())

    async def claim_nudge(self, checkin_id: int, now: datetime) -> bool:
        """Mark a check-in as re-asked; False if another dispatcher got there first."""
        result = await self.session.exec(
            update(CheckIn)
            .where(col(CheckIn.id) == checkin_id, col(CheckIn.nudged_at).is_(None))
            .values(nudged_at=now)
        )
        return bool(result.rowcount)

    async def newer_checkin_sent(self, checkin: CheckIn) -> bool:
        result = await self.session.exec(
            select(func.count()).select_from(CheckIn).where(
                CheckIn.patient_id == checkin.patient_id,
                CheckIn.status == Status.SENT,
                col(CheckIn.due_at) > checkin.due_at,
            )
        )
        return bool(result.one())

    async def quiet_patients(self, cutoff: datetime) -> list[Patient]:
        """Active patients with a scheduled check-in sent before `cutoff` and unanswered."""
        result = await self.session.exec(
            select(Patient)
            .where(
                Patient.status == PatientStatus.ACTIVE,
                col(Patient.id).in_(
                    select(CheckIn.patient_id).where(
                        CheckIn.kind == "scheduled",
                        CheckIn.status == Status.SENT,
                        col(CheckIn.answered_at).is_(None),
                        col(CheckIn.sent_at) <= cutoff,
                    )
                ),
            )
            .order_by(col(Patient.id))
        )
        return list(result.all())

    async def claim_silence_alert(
        self, patient_id: int, previous: datetime | None, now: datetime
    ) -> bool:
        """Record that the clinic is told of this silence; False if another worker was first."""
        stamp = col(Patient.silence_alerted_at)
        result = await self.session.exec(
            update(Patient)
            .where(
                col(Patient.id) == patient_id,
                stamp.is_(None) if previous is None else stamp == previous,
            )
            .values(silence_alerted_at=now)
        )
        return bool(result.rowcount)

    async def last_answer_at(self, patient_id: int) -> datetime | None:
        result = await self.session.exec(
            select(func.max(Answer.created_at)).where(Answer.patient_id == patient_id)
        )
        value = result.one()
        return value if isinstance(value, datetime) else None

    async def sent_scheduled(self, patient_id: int) -> list[CheckIn]:
        """The patient's delivered scheduled check-ins, newest first."""
        result = await self.session.exec(
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
        await self.session.exec(
            update(CheckIn).where(col(CheckIn.id) == checkin_id).values(draft=draft)
        )

    async def mark_answered(self, checkin_id: int, now: datetime) -> bool:
        """Close a check-in for answers; False if it was already answered (a double tap)."""
        result = await self.session.exec(
            update(CheckIn)
            .where(col(CheckIn.id) == checkin_id, col(CheckIn.answered_at).is_(None))
            .values(answered_at=now)
        )
        return bool(result.rowcount)

    # --- delivery queue, shared by check-ins and pings
    async def claim_due(
        self,
        model: type[Row],
        now: datetime,
        *,
        limit: int,
        lease: timedelta,
        ids: Sequence[int] | None = None,
        patient_id: int | None = None,
        escalation_id: int | None = None,
    ) -> list[Row]:
        """Claim up to `limit` due rows in one statement; expired claims (up to `limit` more)
        are taken back.

        On PostgreSQL the inner select locks with SKIP LOCKED so concurrent dispatchers
        never claim the same row; SQLite has one writer at a time, which gives the same.
        """
        params: dict[str, Any] = {"now": now, "stale": now - lease, "limit": limit}
        if ids is not None:
            params["ids"] = list(ids)
        if patient_id is not None and model is CheckIn:
            params["only_patient"] = patient_id
        if escalation_id is not None and model is Ping:
            params["only_escalation"] = escalation_id
        stmt = _built(("claim", model, *sorted(params)), _claim, model, params)
        result = await self.session.exec(stmt, params=params)
        return sorted(result.scalars().all(), key=lambda r: (r.due_at, r.id))

    async def claim_checkins(
        self,
        now: datetime,
        *,
        limit: int,
        lease: timedelta,
        patient_id: int | None = None,
    ) -> list[tuple[Claimed, date | None]]:
        """`claim_due` for check-ins, as plain rows (a tick claims hundreds), each with the
        local date of its patient's next live scheduled check-in after it (None if there is
        none): it bounds how long the claimed one stays worth sending. Read in the claiming
        statement itself.
        """
        params: dict[str, Any] = {"now": now, "stale": now - lease, "limit": limit}
        if patient_id is not None:
            params["only_patient"] = patient_id
        key = ("claim_checkins", *sorted(params))
        stmt = _built(key, _claim, CheckIn, params, *_CLAIMED_COLUMNS, _NEXT_LIVE_DATE)
        connection = await self._conn()
        claimed = [
            (Claimed(*row[:-1]), row[-1]) for row in await connection.execute(stmt, params)
        ]
        return sorted(claimed, key=lambda pair: (pair[0].due_at, pair[0].id))

    async def claims(self) -> Claims:
        """Fenced writes on claimed rows, in this transaction."""
        return Claims(await self._conn())

    async def finish(
        self, model: type[Row], row_id: int, claimed_at: datetime, **values: Any
    ) -> bool:
        """`Claims.finish` in this transaction."""
        return await (await self.claims()).finish(model, row_id, claimed_at, **values)

    async def recipients(self, ids: Sequence[int] | set[int]) -> dict[int, Recipient]:
        """The patients' status, chat and zone, by id (no ORM objects: a tick reads many)."""
        connection = await self._conn()
        result = await connection.execute(_RECIPIENTS, {"ids": list(ids)})
        return {row.id: Recipient(row.id, row.status, row.chat_id, row.timezone)
                for row in result}

    # --- answers
    async def previous_observations(
        self, patient_id: int, *, before: int | None = None
    ) -> list[dict[str, Any]] | None:
        """Observations of the patient's last evaluated answer (before answer `before`)."""
        if before is None:
            result = await self.session.exec(_PREVIOUS_LAST, params={"patient_id": patient_id})
        else:
            result = await self.session.exec(
                _PREVIOUS_BEFORE, params={"patient_id": patient_id, "before": before}
            )
        row = result.first()
        return list(row) if row is not None else None

    async def answer(self, answer_id: int) -> Answer | None:
        return await self.session.get(Answer, answer_id)

    async def close_clarification(self, answer_id: int) -> bool:
        """Take the pending trend question off an answer; False if already answered."""
        result = await self.session.exec(
            update(Answer)
            .where(col(Answer.id) == answer_id, col(Answer.pending_trend).is_not(None))
            .values(pending_trend=None)
        )
        return bool(result.rowcount)

    async def answers_of(self, patient_id: int) -> list[Answer]:
        result = await self.session.exec(
            select(Answer).where(Answer.patient_id == patient_id).order_by(col(Answer.id))
        )
        return list(result.all())

    # --- escalations and pings
    async def escalation(self, escalation_id: int) -> Escalation | None:
        return await self.session.get(Escalation, escalation_id)

    async def escalations_of(self, patient_id: int) -> list[Escalation]:
        result = await self.session.exec(
            select(Escalation)
            .where(Escalation.patient_id == patient_id)
            .order_by(col(Escalation.id))
        )
        return list(result.all())

    async def acknowledge(self, escalation_id: int, clinician_id: int, now: datetime) -> bool:
        """Record the first acknowledgement and stop the ladder; False if already taken."""
        result = await self.session.exec(
            update(Escalation)
            .where(col(Escalation.id) == escalation_id, col(Escalation.acked_at).is_(None))
            .values(status="acknowledged", acked_by=clinician_id, acked_at=now, next_step_at=None)
        )
        return bool(result.rowcount)

    async def resolve(
        self, escalation_id: int, clinician_id: int, now: datetime, outcome: str
    ) -> bool:
        """Close an escalation with its outcome; False if it was already resolved."""
        result = await self.session.exec(
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
        await self.session.exec(
            update(Escalation).where(col(Escalation.id) == escalation_id).values(next_step_at=when)
        )

    async def claim_ladder_steps(self, now: datetime, *, limit: int) -> list[Escalation]:
        """Take the escalations whose page went unacknowledged past its time, one step on.

        The step is counted in the same statement that claims them, so two dispatchers never
        page the same step twice (SKIP LOCKED on PostgreSQL, one writer on SQLite).
        """
        result = await self.session.exec(_LADDER_STEPS, params={"now": now, "limit": limit})
        return list(result.scalars().all())

    async def claim_unsummarised(self, now: datetime, *, limit: int) -> list[Escalation]:
        """Routine escalations and notices not yet in a morning summary, marked as taken."""
        due = (
            select(Escalation.id)
            .where(
                col(Escalation.level).in_(["none", "routine"]),
                col(Escalation.summarised_at).is_(None),
                col(Escalation.status) != "resolved",
                col(Escalation.created_at) <= now,
            )
            .order_by(col(Escalation.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        result = await self.session.exec(
            update(Escalation)
            .where(col(Escalation.id).in_(due.scalar_subquery()))
            .values(summarised_at=now)
            .returning(Escalation)
            .execution_options(synchronize_session=False)
        )
        return sorted(result.scalars().all(), key=lambda e: e.id or 0)

    async def digest_sent_on(self, clinic_date: date) -> bool:
        result = await self.session.exec(
            select(func.count()).select_from(Digest).where(Digest.clinic_date == clinic_date)
        )
        return bool(result.one())

    async def digests_with(self, escalation_id: int, since: date) -> list[Digest]:
        """Summary messages that list this escalation (to update every copy)."""
        result = await self.session.exec(
            select(Digest).where(col(Digest.clinic_date) >= since).order_by(col(Digest.id))
        )
        return [d for d in result.all() if escalation_id in d.escalation_ids]

    async def escalations(self, ids: Sequence[int] | set[int]) -> list[Escalation]:
        result = await self.session.exec(_ESCALATIONS, params={"ids": list(ids)})
        return list(result.all())

    async def open_escalations(self) -> list[Escalation]:
        result = await self.session.exec(
            select(Escalation)
            .where(col(Escalation.status) != "resolved", col(Escalation.kind) == "clinical")
            .order_by(col(Escalation.created_at))
        )
        return list(result.all())

    async def pings_of(self, escalation_id: int) -> list[Ping]:
        result = await self.session.exec(
            select(Ping).where(Ping.escalation_id == escalation_id).order_by(col(Ping.id))
        )
        return list(result.all())

    async def photos_of(self, patient_id: int) -> list[Photo]:
        result = await self.session.exec(
            select(Photo).where(Photo.patient_id == patient_id).order_by(col(Photo.id))
        )
        return list(result.all())

    async def photo(self, photo_id: int) -> Photo | None:
        return await self.session.get(Photo, photo_id)

    async def photo_known(self, patient_id: int, file_unique_id: str) -> bool:
        result = await self.session.exec(
            select(func.count()).select_from(Photo).where(
                Photo.patient_id == patient_id, Photo.file_unique_id == file_unique_id
            )
        )
        return bool(result.one())

    async def latest_open_escalation(self, patient_id: int, since: datetime) -> Escalation | None:
        result = await self.session.exec(
            select(Escalation)
            .where(
                Escalation.patient_id == patient_id,
                Escalation.kind == "clinical",
                col(Escalation.status) != "resolved",
                col(Escalation.created_at) >= since,
            )
            .order_by(col(Escalation.created_at).desc())
            .limit(1)
        )
        return result.first()

    async def patient_counts(self) -> tuple[int, int]:
        """(enrolled: ever consented, active now)."""
        result = await self.session.exec(
            select(
                func.count(col(Patient.consent_at)),
                func.count().filter(col(Patient.status) == PatientStatus.ACTIVE),
            )
        )
        enrolled, active = result.one()
        return int(enrolled), int(active)

    async def reply_rate_by_day(self) -> list[tuple[int, int, int]]:
        """(plan day, scheduled check-ins delivered, of which answered), by day."""
        result = await self.session.exec(
            select(col(CheckIn.day), func.count(), func.count(col(CheckIn.answered_at)))
            .where(CheckIn.kind == "scheduled", CheckIn.status == Status.SENT)
            .group_by(col(CheckIn.day))
            .order_by(col(CheckIn.day))
        )
        return [(int(d), int(s), int(a)) for d, s, a in result.all()]

    async def all_escalations(self) -> list[Escalation]:
        return list((await self.session.exec(select(Escalation))).all())

    async def patients(self) -> list[Patient]:
        result = await self.session.exec(select(Patient).order_by(col(Patient.id)))
        return list(result.all())

    async def find_patients(self, name: str) -> list[Patient]:
        """Patients whose name contains `name`, ignoring case."""
        result = await self.session.exec(
            select(Patient)
            .where(func.lower(Patient.name).contains(name.lower()))
            .order_by(col(Patient.id))
            .limit(20)
        )
        return list(result.all())

    async def take_send_slot(self, second: int, limit: int) -> bool:
        """Count one message against `second`; False if that second is already full."""
        connection = await self._conn()
        result = await connection.execute(_TAKE_SLOT, {"second": second, "limit": limit})
        return result.first() is not None

    async def fill_send_slots(self, first: int, last: int, limit: int) -> None:
        """Mark seconds as full (after a 429: nobody sends until Telegram's retry_after)."""
        rows = [{"second": s, "limit": limit} for s in range(first, last + 1)]
        if rows:
            connection = await self._conn()
            await connection.execute(_FILL_SLOT, rows)

    async def prune_send_slots(self, before: int) -> None:
        await self.session.exec(delete(SendSlot).where(col(SendSlot.second) < before))

    async def active_patients(self) -> list[Patient]:
        result = await self.session.exec(
            select(Patient).where(Patient.status == PatientStatus.ACTIVE)
        )
        return list(result.all())

    # --- privacy: rate limits, audit, erasure, retention
    async def count_attempt(self, key: str, window: int) -> int:
        """Count one attempt under `key` in `window`; the number so far, this one included."""
        connection = await self._conn()
        result = await connection.execute(_COUNT_ATTEMPT, {"key": key, "window": window})
        return int(result.scalar_one())

    async def attempts(self, key: str, window: int) -> int:
        result = await self.session.exec(
            select(RateWindow.used).where(RateWindow.key == key, RateWindow.window == window)
        )
        return result.first() or 0

    async def prune_rate_windows(self, before: int) -> None:
        await self.session.exec(delete(RateWindow).where(col(RateWindow.window) < before))

    async def audit(
        self, at: datetime, actor: str, action: str, *, patient_id: int | None = None,
        detail: str = "",
    ) -> None:
        self.session.add(
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
        result = await self.session.exec(query.order_by(col(AuditEvent.id)).limit(limit))
        return list(result.all())

    async def erase_patient(self, patient_id: int, now: datetime) -> bool:
        """Remove a patient's personal data and words, keep the anonymous counts.

        Kept: levels, days, timestamps and delivery states (the clinic's figures). Gone: name,
        phone, chat, free text, photos (rows; the caller deletes the files), treated areas,
        invitation tokens, ping and outcome texts. False if already erased (by another worker).
        """
        claimed = await self.session.exec(
            update(Patient)
            .where(col(Patient.id) == patient_id, col(Patient.erased_at).is_(None))
            .values(erased_at=now)
        )
        if not claimed.rowcount:
            return False
        await self.session.exec(delete(Photo).where(col(Photo.patient_id) == patient_id))
        sessions = select(TreatmentSession.id).where(TreatmentSession.patient_id == patient_id)
        await self.session.exec(delete(Invite).where(col(Invite.session_id).in_(sessions)))
        await self.session.exec(
            update(TreatmentSession)
            .where(col(TreatmentSession.patient_id) == patient_id)
            .values(areas="")
        )
        await self.session.exec(
            update(Answer)
            .where(col(Answer.patient_id) == patient_id)
            .values(text=None, photo_file_id=None, pending_trend=None)
        )
        await self.session.exec(
            update(CheckIn)
            .where(col(CheckIn.patient_id) == patient_id, col(CheckIn.draft).is_not(None))
            .values(draft=None)
        )
        await self.cancel_pending(patient_id, "erased")
        escalations = select(Escalation.id).where(Escalation.patient_id == patient_id)
        await self.session.exec(
            update(Clinician)
            .where(col(Clinician.awaiting_outcome_for).in_(escalations))
            .values(awaiting_outcome_for=None)
        )
        await self.session.exec(
            update(Ping)
            .where(col(Ping.escalation_id).in_(escalations), col(Ping.status) == Status.PENDING)
            .values(status=Status.CANCELLED, reason="erased")
        )
        await self.session.exec(
            update(Escalation)
            .where(col(Escalation.patient_id) == patient_id)
            .values(body=ERASED_TEXT, summary=ERASED_NAME, outcome=None, next_step_at=None)
        )
        await self.session.exec(
            update(Patient)
            .where(col(Patient.id) == patient_id)
            .values(
                name=ERASED_NAME, phone=None, chat_id=None, status=PatientStatus.ERASED,
                consent_text=None,
            )
        )
        return True

    async def expired_patients(self, cutoff: datetime, *, limit: int) -> list[int]:
        """Patients not yet erased whose last session (and enrolment) is before `cutoff`."""
        last_session = (
            select(func.max(TreatmentSession.session_at))
            .where(TreatmentSession.patient_id == Patient.id)
            .scalar_subquery()
        )
        result = await self.session.exec(
            select(Patient.id)
            .where(
                col(Patient.erased_at).is_(None),
                col(Patient.created_at) < cutoff,
                or_(last_session.is_(None), last_session < cutoff),
            )
            .order_by(col(Patient.id))
            .limit(limit)
        )
        return [pid for pid in result.all() if pid is not None]


class Claims:
    """Fenced writes on claimed rows (check-ins, pings, summaries): each holds only while the
    claim it names does. Core statements on a connection, so they also run in a short
    transaction of their own, without an ORM session (`Database.claims`).
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def renew(
        self, model: type[Row], row_id: int, claimed_at: datetime, now: datetime
    ) -> bool:
        """Restart a claim's lease from `now`, if the claim taken at `claimed_at` still holds."""
        stmt = _built(("renew", model), _renew, model.__table__)  # type: ignore[attr-defined]
        connection = self.connection
        result = await connection.execute(
            stmt, {"row_id": row_id, "claim": claimed_at, "now": now}
        )
        return bool(result.rowcount)

    async def finish(
        self, model: type[Row], row_id: int, claimed_at: datetime, **values: Any
    ) -> bool:
        """Record a claimed row's outcome, only if our claim still holds (fencing)."""
        shape = tuple(sorted(values))
        table = model.__table__  # type: ignore[attr-defined]
        stmt = _built(("finish", model, shape), _finish, table, shape)
        connection = self.connection
        result = await connection.execute(stmt, _finish_params(row_id, claimed_at, values))
        return bool(result.rowcount)

    async def finish_many(
        self, model: type[Row], outcomes: Sequence[tuple[int, datetime, dict[str, Any]]]
    ) -> None:
        """`finish` for many rows at once: one UPDATE per shape of outcome.

        On PostgreSQL each column's values travel as one array and `unnest` turns them back
        into rows: one round trip, and a statement text that does not depend on the number
        of rows, so it is prepared once. (An `UPDATE … FROM (VALUES …)` with a parameter per
        value was 3-4 times slower than executemany: it was compiled and prepared anew each
        time.) SQLite, in process, runs the same UPDATE for every row (executemany).
        """
        table = model.__table__  # type: ignore[attr-defined]
        connection = self.connection
        groups: dict[tuple[str, ...], list[tuple[int, datetime, dict[str, Any]]]] = {}
        for outcome in outcomes:
            groups.setdefault(tuple(sorted(outcome[2])), []).append(outcome)
        for shape, rows in groups.items():
            if connection.dialect.name == "postgresql":
                stmt = _built(("finish_pg", model, shape), _finish_unnest, table, shape)
                params: dict[str, Any] = {"row_id": [r[0] for r in rows],
                                          "claim": [r[1] for r in rows]}
                for k in shape:
                    params[f"new_{k}"] = [r[2][k] for r in rows]
                await connection.execute(stmt, params)
                continue
            stmt = _built(("finish", model, shape), _finish, table, shape)
            await connection.execute(stmt, [_finish_params(*row) for row in rows])


def _claim(model: type[Row], params: dict[str, Any], *returning: Any) -> Any:
    """The claim statement for `Repo.claim_due` with these filters, returning the rows (or
    the `returning` columns).

    Due rows and expired claims are chosen by two subqueries, each a range of the
    (status, due_at) index in due order. One `OR` of both conditions in a single subquery
    lets the planner scan the whole table (SQLite did, on a million rows, once its
    statistics said most rows were pending), which no tick can afford.
    """
    status, due_at, claimed_at = col(model.status), col(model.due_at), col(model.claimed_at)

    def oldest(condition: Any) -> Any:
        chosen = select(model.id).where(condition)
        if "ids" in params:
            chosen = chosen.where(col(model.id).in_(bindparam("ids", expanding=True)))
        if "only_patient" in params:
            chosen = chosen.where(col(CheckIn.patient_id) == bindparam("only_patient"))
        if "only_escalation" in params:
            chosen = chosen.where(col(Ping.escalation_id) == bindparam("only_escalation"))
        ranked = (
            chosen.order_by(due_at)
            .limit(bindparam("limit"))
            .with_for_update(skip_locked=True)
            .subquery()
        )
        return select(ranked.c.id)

    # UNION ALL, not `id IN (…) OR id IN (…)`: PostgreSQL answers that OR with a scan of
    # the whole table, testing each row against both lists.
    chosen = union_all(
        oldest(and_(status == Status.PENDING, due_at <= bindparam("now"))),
        oldest(and_(status == Status.CLAIMED, claimed_at < bindparam("stale"))),
    )
    return (
        update(model)
        .where(col(model.id).in_(chosen))
        .values(
            status=Status.CLAIMED, claimed_at=bindparam("now"), attempts=col(model.attempts) + 1
        )
        .returning(*(returning or (model,)))
        .execution_options(synchronize_session=False)
    )


_FIELDS: dict[type[SQLModel], tuple[dict[str, Any], dict[str, Callable[[], Any]], set[str]]] = {}


def _complete(model: type[SQLModel], values: dict[str, Any]) -> dict[str, Any]:
    """`values` with the model's defaults for the fields not given; unknown or missing
    fields are refused, as the model's constructor would."""
    fields = _FIELDS.get(model)
    if fields is None:
        fields = _FIELDS[model] = _defaults(model)
    static, factories, required = fields
    unknown = values.keys() - static.keys() - factories.keys() - required
    if unknown:
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    missing = required - values.keys()
    if missing:
        raise TypeError(f"{model.__name__} needs {', '.join(sorted(missing))}")
    row = {**static, **values}
    for name, factory in factories.items():
        if name not in values:
            row[name] = factory()
    return row


def _defaults(
    model: type[SQLModel],
) -> tuple[dict[str, Any], dict[str, Callable[[], Any]], set[str]]:
    """A model's plain defaults, default factories and required fields (its id aside)."""
    static: dict[str, Any] = {}
    factories: dict[str, Callable[[], Any]] = {}
    required: set[str] = set()
    for name, field in model.model_fields.items():
        if name == "id":
            continue
        if field.is_required():
            required.add(name)
        elif field.default_factory is not None:
            factories[name] = field.default_factory  # type: ignore[assignment]
        else:
            static[name] = field.default
    return static, factories, required


def _insert(table: Any) -> Any:
    """The insert of `Repo.insert_rows`: ids returned in the order the rows were given."""
    return insert(table).returning(table.c.id, sort_by_parameter_order=True)


def _finish_unnest(table: Any, keys: tuple[str, ...]) -> Any:
    """PostgreSQL's `finish_many` statement for one shape: arrays in, `unnest` to rows."""
    pg = postgresql.dialect()  # type: ignore[no-untyped-call]

    def array(name: str, column: str) -> str:
        return f"CAST(:{name} AS {table.c[column].type.compile(dialect=pg)}[])"

    names = ["row_id", "claim", *(f"new_{k}" for k in keys)]
    arrays = [array("row_id", "id"), array("claim", "claimed_at"),
              *(array(f"new_{k}", k) for k in keys)]
    sets = ", ".join(f"{k} = v.new_{k}" for k in keys)
    return text(
        f"UPDATE {table.name} SET {sets} "
        f"FROM unnest({', '.join(arrays)}) AS v({', '.join(names)}) "
        f"WHERE {table.name}.id = v.row_id AND {table.name}.claimed_at = v.claim "
        f"AND {table.name}.status = '{Status.CLAIMED}'"
    )


def _held(table: Any) -> Any:
    """Row `row_id` is still claimed, by the claim taken at `claim` (the fence)."""
    return and_(
        table.c.id == bindparam("row_id"),
        table.c.claimed_at == bindparam("claim", type_=table.c.claimed_at.type),
        table.c.status == Status.CLAIMED,
    )


def _renew(table: Any) -> Any:
    """The statement of `Claims.renew`."""
    return (
        update(table)
        .where(_held(table))
        .values(claimed_at=bindparam("now", type_=table.c.claimed_at.type))
    )


def _finish_params(row_id: int, claimed_at: datetime, values: dict[str, Any]) -> dict[str, Any]:
    """The parameters of `_finish` for one row."""
    return {"row_id": row_id, "claim": claimed_at, **{f"new_{k}": v for k, v in values.items()}}


def _finish(table: Any, keys: tuple[str, ...]) -> Any:
    """The fenced outcome update of `Claims.finish_many` for one shape of outcome."""
    return (
        update(table)
        .where(_held(table))
        .values({k: bindparam(f"new_{k}", type_=table.c[k].type) for k in keys})
    )
