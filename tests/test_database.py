"""The database layer under concurrent use from one process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from bot.store import queue as queue_module
from bot.store.db import Database
from bot.store.models import (
    Answer,
    CheckIn,
    Digest,
    Patient,
    PatientStatus,
    Ping,
    TreatmentSession,
)

WRITERS = 30
NOW = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)  # any instant: these tests store times


async def test_concurrent_transactions_in_one_process_all_commit(database: Database) -> None:
    """Handlers run concurrently; their transactions interleave at every await and none is
    lost, none deadlocks (SQLite runs on the loop with one queued connection)."""
    now = NOW

    async def write(i: int) -> None:
        async with database.unit_of_work() as uow:
            await uow.add(
                Patient(name=f"P{i}", timezone="UTC", chat_id=1000 + i, created_at=now,
                        status=PatientStatus.ACTIVE)
            )
            await asyncio.sleep(0)  # hand the loop to the other writers mid-transaction
            assert await uow.patients.by_chat(1000 + i) is not None

    await asyncio.gather(*(write(i) for i in range(WRITERS)))
    async with database.unit_of_work() as uow:
        found = [await uow.patients.by_chat(1000 + i) for i in range(WRITERS)]
    assert all(p is not None for p in found)


async def test_a_failed_transaction_rolls_back_and_frees_the_connection(
    database: Database,
) -> None:
    now = NOW

    async def same_chat_twice() -> None:
        async with database.unit_of_work() as uow:
            await uow.add(Patient(name="X", timezone="UTC", chat_id=1, created_at=now))
            await uow.add(Patient(name="Y", timezone="UTC", chat_id=1, created_at=now))

    with pytest.raises(IntegrityError):
        await same_chat_twice()
    async with database.unit_of_work() as uow:  # would wait forever if the connection leaked
        assert await uow.patients.by_chat(1) is None


async def test_rows_inserted_without_objects_get_the_models_defaults_and_ids(
    database: Database,
) -> None:
    """The hot path's inserts: ids in the order given, defaults filled, typos refused."""
    now = NOW
    async with database.unit_of_work() as uow:
        [patient_id] = await uow.insert_rows(
            Patient, [{"name": "A", "timezone": "UTC", "chat_id": 7, "created_at": now}]
        )
        ids = await uow.insert_rows(
            Answer,
            [{"patient_id": patient_id, "day": d, "created_at": now, "source": "text"}
             for d in (3, 1, 2)],
        )
        with pytest.raises(TypeError, match="no field colour"):
            await uow.insert_rows(Answer, [{"patient_id": patient_id, "day": 1,
                                             "created_at": now, "source": "x", "colour": 1}])
        with pytest.raises(TypeError, match="needs created_at"):
            await uow.insert_rows(Answer, [{"patient_id": patient_id, "day": 1, "source": "x"}])
    async with database.unit_of_work() as uow:
        answers = {a.id: a for a in await uow.patients.answers_of(patient_id)}
        patient = await uow.patients.get(patient_id)
    assert [answers[i].day for i in ids] == [3, 1, 2]
    assert all(a.observations == [] and a.level == "none" for a in answers.values())
    assert patient is not None
    assert patient.status == PatientStatus.INVITED  # the model's default


async def test_claims_read_the_due_index_never_the_whole_table(database: Database) -> None:
    """With statistics saying nearly every row is pending (a big clinic: a million future
    check-ins), the claim must still walk the (status, due_at) index: a table scan on every
    tick would make the dispatcher's cost grow with the whole schedule."""
    if database.dialect != "sqlite":
        pytest.skip("the planner checked here is SQLite's; PostgreSQL plans by cost")
    now = NOW
    async with database.unit_of_work() as uow:
        [patient_id] = await uow.insert_rows(
            Patient, [{"name": "A", "timezone": "UTC", "chat_id": 7, "created_at": now}]
        )
        [session_id] = await uow.insert_rows(
            TreatmentSession, [{"patient_id": patient_id, "session_at": now, "created_at": now}]
        )
        await uow.insert_rows(CheckIn, [
            {"patient_id": patient_id, "session_id": session_id, "step_id": f"s{n}", "day": 0,
             "local_date": now.date(), "due_at": now + timedelta(days=n % 10)}
            for n in range(2000)
        ])
    async with database.engine.begin() as connection:
        await connection.exec_driver_sql("ANALYZE")
        for model in (CheckIn, Ping, Digest):
            params = {"now": now, "stale": now, "limit": 10}
            compiled = queue_module._claim(model, params).compile(
                dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
            )
            values = tuple(compiled.params.get(name) for name in compiled.positiontup or ())
            plan = (await connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled}", values
            )).all()
            details = [str(row[-1]) for row in plan]
            table = model.__tablename__  # (a SCAN of the subqueries' few ids is fine)
            assert not any(d.startswith(f"SCAN {table}") for d in details), details
