"""The delivery queue: claims on due rows and the shared send pace."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    Date,
    and_,
    bindparam,
    delete,
    func,
    literal_column,
    text,
    union_all,
    update,
)
from sqlalchemy import select as sa_select  # sqlmodel's select takes at most four columns
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from bot.core.delivery import RETRYING
from bot.store.models import (
    CheckIn,
    Claimed,
    Digest,
    Escalation,
    Holder,
    InboxUpdate,
    OutboxMessage,
    Patient,
    Ping,
    Recipient,
    SendSlot,
    Status,
    Worker,
)
from bot.store.patients import LAST_OBSERVATIONS, present_symptoms
from bot.store.sql import SqlRepository, built

Row = TypeVar("Row", CheckIn, Ping, Digest, OutboxMessage, InboxUpdate)

# The same upsert is valid on PostgreSQL and SQLite (3.35+): one statement, so atomic.
_TAKE_SLOT = text(
    "INSERT INTO send_slot (second, used) VALUES (:second, 1) "
    "ON CONFLICT (second) DO UPDATE SET used = send_slot.used + 1 "
    "WHERE send_slot.used < :limit RETURNING used"
)

_FILL_SLOT = text(
    "INSERT INTO send_slot (second, used) VALUES (:second, :limit) "
    "ON CONFLICT (second) DO UPDATE SET used = :limit"
)

_BEAT = text(
    "INSERT INTO worker (id, started_at, beat_at, pid, host) "
    "VALUES (:id, :started_at, :beat_at, :pid, :host) "
    "ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at"
)

# When the patient's latest emergency nobody has acknowledged yet was raised.
_ALARM = (
    select(func.max(Escalation.__table__.c.created_at))  # type: ignore[attr-defined]
    .where(
        Escalation.__table__.c.patient_id == Patient.__table__.c.id,  # type: ignore[attr-defined]
        Escalation.__table__.c.status == "open",  # type: ignore[attr-defined]
        Escalation.__table__.c.kind == "clinical",  # type: ignore[attr-defined]
        Escalation.__table__.c.level == "emergency",  # type: ignore[attr-defined]
    )
    .correlate(Patient.__table__)  # type: ignore[attr-defined]
    .scalar_subquery()
)
_RECIPIENTS = sa_select(
    Patient.__table__.c.id,  # type: ignore[attr-defined]
    Patient.__table__.c.status,  # type: ignore[attr-defined]
    Patient.__table__.c.chat_id,  # type: ignore[attr-defined]
    Patient.__table__.c.timezone,  # type: ignore[attr-defined]
    Patient.__table__.c.language,  # type: ignore[attr-defined]
    Patient.__table__.c.country,  # type: ignore[attr-defined]
    _ALARM.label("alarm_at"),
    LAST_OBSERVATIONS.label("last_observations"),
).where(col(Patient.id).in_(bindparam("ids", expanding=True)))

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



def _claim_params(
    now: datetime, limit: int, lease: timedelta, holder: Holder | None
) -> dict[str, Any]:
    params: dict[str, Any] = {"now": now, "stale": now - lease, "limit": limit}
    if holder is not None:
        params["me"] = holder.worker
        if holder.dead_before is not None:
            params["dead"] = holder.dead_before
    return params


class QueueRepository(SqlRepository):
    """The delivery queue: claims on due rows and the shared send pace."""

    async def claim_due(
        self,
        model: type[Row],
        now: datetime,
        *,
        limit: int,
        lease: timedelta,
        holder: Holder | None = None,
        ids: Sequence[int] | None = None,
        patient_id: int | None = None,
        escalation_id: int | None = None,
    ) -> list[Row]:
        """Claim up to `limit` due rows in one statement; expired claims, and claims of
        workers whose heartbeat stopped (up to `limit` more each), are taken back.

        On PostgreSQL the inner select locks with SKIP LOCKED so concurrent dispatchers
        never claim the same row; SQLite has one writer at a time, which gives the same.
        """
        params: dict[str, Any] = _claim_params(now, limit, lease, holder)
        if ids is not None:
            params["ids"] = list(ids)
        if patient_id is not None and model is CheckIn:
            params["only_patient"] = patient_id
        if escalation_id is not None and model is Ping:
            params["only_escalation"] = escalation_id
        stmt = built(("claim", model, *sorted(params)), _claim, model, params)
        result = await self._orm.exec(stmt, params=params)
        return sorted(result.scalars().all(), key=lambda r: (r.due_at, r.id))

    async def claim_checkins(
        self,
        now: datetime,
        *,
        limit: int,
        lease: timedelta,
        holder: Holder | None = None,
        patient_id: int | None = None,
    ) -> list[tuple[Claimed, date | None]]:
        """`claim_due` for check-ins, as plain rows (a tick claims hundreds), each with the
        local date of its patient's next live scheduled check-in after it (None if there is
        none): it bounds how long the claimed one stays worth sending. Read in the claiming
        statement itself.
        """
        params = _claim_params(now, limit, lease, holder)
        if patient_id is not None:
            params["only_patient"] = patient_id
        key = ("claim_checkins", *sorted(params))
        stmt = built(key, _claim, CheckIn, params, *_CLAIMED_COLUMNS, _NEXT_LIVE_DATE)
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
        return {row.id: Recipient(row.id, row.status, row.chat_id, row.timezone,
                                  _aware(row.alarm_at), row.language, row.country,
                                  present_symptoms(row.last_observations))
                for row in result}

    async def take_send_slot(self, second: int, limit: int) -> int | None:
        """Count one message against `second`: its place in it (1 is first), or None if
        that second is already full."""
        connection = await self._conn()
        result = await connection.execute(_TAKE_SLOT, {"second": second, "limit": limit})
        return result.scalar()

    async def fill_send_slots(self, first: int, last: int, limit: int) -> None:
        """Mark seconds as full (after a 429: nobody sends until Telegram's retry_after)."""
        rows = [{"second": s, "limit": limit} for s in range(first, last + 1)]
        if rows:
            connection = await self._conn()
            await connection.execute(_FILL_SLOT, rows)

    async def beat(self, worker: Worker) -> None:
        """Record a worker's heartbeat (insert on first beat)."""
        connection = await self._conn()
        await connection.execute(_BEAT, {
            "id": worker.id, "started_at": worker.started_at, "beat_at": worker.beat_at,
            "pid": worker.pid, "host": worker.host,
        })

    async def retire(self, worker_id: str) -> None:
        await self._orm.exec(update(Worker).where(col(Worker.id) == worker_id)
                             .values(beat_at=datetime(1970, 1, 1, tzinfo=UTC)))

    async def forget_workers(self, silent_since: datetime) -> None:
        """Drop the rows of workers silent since before `silent_since` (long gone)."""
        await self._orm.exec(delete(Worker).where(col(Worker.beat_at) < silent_since))

    async def reset_backoff(self, now: datetime) -> int:
        """Telegram answers again: rows waiting out a transient failure are due now."""
        total = 0
        connection = await self._conn()
        for model in (CheckIn, Ping, Digest, OutboxMessage):
            stmt = built(("reset", model), _reset_backoff, model)
            total += (await connection.execute(stmt, {"now": now})).rowcount
        return total

    async def wake_one(self, now: datetime) -> bool:
        """The row waiting out a transient failure that is due first is due now (the
        canary that tells when Telegram is back); whether there was one."""
        connection = await self._conn()
        for model in (OutboxMessage, Ping, CheckIn, Digest):
            stmt = built(("wake_one", model), _wake_one, model)
            if (await connection.execute(stmt, {"now": now})).rowcount:
                return True
        return False

    async def prune_send_slots(self, before: int) -> None:
        await self._orm.exec(delete(SendSlot).where(col(SendSlot.second) < before))



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
        stmt = built(("renew", model), _renew, model.__table__)  # type: ignore[attr-defined]
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
        stmt = built(("finish", model, shape), _finish, table, shape)
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
                stmt = built(("finish_pg", model, shape), _finish_unnest, table, shape)
                params: dict[str, Any] = {"row_id": [r[0] for r in rows],
                                          "claim": [r[1] for r in rows]}
                for k in shape:
                    params[f"new_{k}"] = [r[2][k] for r in rows]
                await connection.execute(stmt, params)
                continue
            stmt = built(("finish", model, shape), _finish, table, shape)
            await connection.execute(stmt, [_finish_params(*row) for row in rows])



def _aware(moment: datetime | None) -> datetime | None:
    """An aggregate's datetime, in UTC (SQLite hands aggregates back without a zone)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


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
    branches = [
        oldest(and_(status == Status.PENDING, due_at <= bindparam("now"))),
        oldest(and_(status == Status.CLAIMED, claimed_at < bindparam("stale"))),
    ]
    if "dead" in params:  # a killed worker's claims come back in seconds, not a lease
        dead = select(Worker.id).where(col(Worker.beat_at) < bindparam("dead"))
        branches.append(oldest(and_(status == Status.CLAIMED, col(model.claimed_by).in_(dead))))
    values: dict[str, Any] = {
        "status": Status.CLAIMED, "claimed_at": bindparam("now"),
        "attempts": col(model.attempts) + 1,
    }
    if "me" in params:
        values["claimed_by"] = bindparam("me")
    return (
        update(model)
        .where(col(model.id).in_(union_all(*branches)))
        .values(values)
        .returning(*(returning or (model,)))
        .execution_options(synchronize_session=False)
    )



def _reset_backoff(model: type[CheckIn | Ping | Digest | OutboxMessage]) -> Any:
    """Rows waiting out a transient failure become due now."""
    return (
        update(model)
        .where(
            col(model.status) == Status.PENDING,
            col(model.due_at) > bindparam("now"),
            col(model.reason).startswith(RETRYING),
        )
        .values(due_at=bindparam("now"))
        .execution_options(synchronize_session=False)
    )


def _wake_one(model: type[CheckIn | Ping | Digest | OutboxMessage]) -> Any:
    waiting = and_(
        col(model.status) == Status.PENDING,
        col(model.due_at) > bindparam("now"),
        col(model.reason).startswith(RETRYING),
    )
    first = select(model.id).where(waiting).order_by(col(model.due_at)).limit(1)
    return (
        update(model)
        .where(col(model.id).in_(first.scalar_subquery()))
        .values(due_at=bindparam("now"))
        .execution_options(synchronize_session=False)
    )


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
