"""The inline SQLite shim: an aiosqlite-shaped connection running `sqlite3` on the loop.

First the shim itself, as SQLAlchemy's aiosqlite dialect drives it; then `Database` on it,
end to end: queued transactions, rollback, and another process holding the write lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite
import pytest

from bot.store.db import Database
from bot.store.inline_sqlite import InlineConnection, InlineCursor, creator
from bot.store.models import Patient

NOW = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)  # any instant: these tests store times
TASKS = 40


def patient_row(chat_id: int) -> dict[str, object]:
    return {"name": f"P{chat_id}", "timezone": "UTC", "chat_id": chat_id, "created_at": NOW}


def count_patients(path: Path) -> int:
    """Read from a separate, plain sqlite3 connection: only committed rows count."""
    with sqlite3.connect(path) as other:
        (n,) = other.execute("SELECT count(*) FROM patient").fetchone()
    other.close()
    return int(n)


@pytest.fixture
async def conn(tmp_path: Path) -> AsyncIterator[InlineConnection]:
    connection = await creator(str(tmp_path / "shim.db"))()
    await connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
    await connection.commit()
    yield connection
    connection.stop()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    await database.create_all()
    yield database
    await database.dispose()


# --- the shim itself


async def test_the_creator_opens_an_inline_connection(tmp_path: Path) -> None:
    """`creator(path)` is an async factory of open connections on that file."""
    connection = await creator(str(tmp_path / "new.db"))()
    assert isinstance(connection, InlineConnection)
    assert isinstance(connection._connection, sqlite3.Connection)  # the dialect's "is open"
    connection.stop()
    assert (tmp_path / "new.db").exists()


async def test_executemany_reports_the_rows_it_changed(conn: InlineConnection) -> None:
    """executemany inserts every row and rowcount says how many."""
    cursor = conn.cursor()
    assert isinstance(cursor, InlineCursor)
    result = await cursor.executemany("INSERT INTO t (name) VALUES (?)", [("a",), ("b",), ("c",)])
    assert result is cursor
    assert cursor.rowcount == 3
    await cursor.close()


async def test_execute_gives_lastrowid_and_rowcount(conn: InlineConnection) -> None:
    """An insert reports its row id; an update reports the rows it touched."""
    first = await conn.execute("INSERT INTO t (name) VALUES (?)", ("a",))
    second = await conn.execute("INSERT INTO t (name) VALUES (?)", ("b",))
    assert (first.lastrowid, second.lastrowid) == (1, 2)
    updated = await conn.execute("UPDATE t SET name = name || '!' WHERE id >= ?", (1,))
    assert updated.rowcount == 2


async def test_fetchone_fetchmany_fetchall_walk_the_rows_in_order(conn: InlineConnection) -> None:
    """The three fetches share one position in the result; description names the columns."""
    await conn.cursor().executemany(
        "INSERT INTO t (name) VALUES (?)", [(c,) for c in "abcdefg"]
    )
    cursor = await conn.execute("SELECT id, name FROM t ORDER BY id")
    assert [column[0] for column in cursor.description] == ["id", "name"]
    assert await cursor.fetchone() == (1, "a")
    assert await cursor.fetchmany(2) == [(2, "b"), (3, "c")]
    cursor.arraysize = 3
    assert cursor.arraysize == 3
    assert await cursor.fetchmany() == [(4, "d"), (5, "e"), (6, "f")]  # arraysize rows
    assert await cursor.fetchall() == [(7, "g")]
    assert await cursor.fetchone() is None


async def test_a_statement_without_rows_has_no_description(conn: InlineConnection) -> None:
    """SQLAlchemy decides whether a statement returned rows from `description`."""
    cursor = await conn.execute("INSERT INTO t (name) VALUES ('a')")
    assert cursor.description is None
    returning = await conn.execute("INSERT INTO t (name) VALUES ('b') RETURNING id")
    assert returning.description is not None
    assert await returning.fetchall() == [(2,)]


async def test_sqlite_errors_come_through_unchanged(conn: InlineConnection) -> None:
    """Errors are sqlite3's own classes, which the dialect maps to SQLAlchemy's."""
    await conn.execute("INSERT INTO t (name) VALUES ('a')")
    with pytest.raises(sqlite3.IntegrityError):
        await conn.execute("INSERT INTO t (name) VALUES ('a')")
    with pytest.raises(sqlite3.OperationalError):
        await conn.execute("SELECT * FROM missing")


async def test_the_cursor_context_closes_the_cursor(conn: InlineConnection) -> None:
    """`async with cursor` (as the dialect opens them) closes it on the way out."""
    async with conn.cursor() as cursor:
        await cursor.execute("SELECT 1")
        assert await cursor.fetchone() == (1,)
    with pytest.raises(sqlite3.ProgrammingError):
        await cursor.execute("SELECT 1")


async def test_create_function_registers_a_sql_function(conn: InlineConnection) -> None:
    """The dialect registers functions (REGEXP) on connect through `create_function`."""
    await conn.create_function("twice", 1, lambda x: 2 * x)
    cursor = await conn.execute("SELECT twice(21)")
    assert await cursor.fetchone() == (42,)


async def test_commit_persists_for_other_connections(
    conn: InlineConnection, tmp_path: Path
) -> None:
    """Writes are invisible to another connection until committed, then durable."""
    await conn.execute("INSERT INTO t (name) VALUES ('kept')")
    assert conn.isolation_level == ""  # sqlite3 opened a transaction implicitly
    with sqlite3.connect(tmp_path / "shim.db") as other:
        assert other.execute("SELECT name FROM t").fetchall() == []
        await conn.commit()
        assert other.execute("SELECT name FROM t").fetchall() == [("kept",)]
    other.close()


async def test_rollback_discards_the_transaction(conn: InlineConnection, tmp_path: Path) -> None:
    """A rolled back write is gone, for this connection and for others."""
    await conn.execute("INSERT INTO t (name) VALUES ('kept')")
    await conn.commit()
    await conn.execute("INSERT INTO t (name) VALUES ('dropped')")
    await conn.rollback()
    cursor = await conn.execute("SELECT name FROM t")
    assert await cursor.fetchall() == [("kept",)]
    with sqlite3.connect(tmp_path / "shim.db") as other:
        assert other.execute("SELECT name FROM t").fetchall() == [("kept",)]
    other.close()


async def test_every_operation_after_close_raises_programming_error(
    conn: InlineConnection,
) -> None:
    """A closed connection refuses work with the DB-API error and reports itself closed."""
    cursor = conn.cursor()
    await conn.close()
    assert conn._connection is None
    with pytest.raises(sqlite3.ProgrammingError):
        await conn.execute("SELECT 1")
    with pytest.raises(sqlite3.ProgrammingError):
        conn.cursor()
    with pytest.raises(sqlite3.ProgrammingError):
        await conn.commit()
    with pytest.raises(sqlite3.ProgrammingError):
        await conn.rollback()
    with pytest.raises(sqlite3.ProgrammingError):
        _ = conn.isolation_level
    with pytest.raises(sqlite3.ProgrammingError):
        await cursor.execute("SELECT 1")  # a cursor opened before the close


async def test_stop_is_idempotent_and_really_closes(conn: InlineConnection) -> None:
    """stop() (SQLAlchemy's terminate) may run twice, and after close(): no error."""
    raw = conn._connection
    assert raw is not None
    conn.stop()
    conn.stop()
    await conn.close()
    assert conn._connection is None
    with pytest.raises(sqlite3.ProgrammingError):
        raw.execute("SELECT 1")  # the sqlite3 connection underneath is closed


# --- Database on the shim, end to end


async def test_database_runs_sqlite_on_the_shim_with_its_pragmas(db: Database) -> None:
    """`Database` hands SQLAlchemy the inline connection, and the connect pragmas reach it."""
    async with db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.driver_connection, InlineConnection)
        pragmas = {
            name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "secure_delete")
        }
    # SQLite's busy wait would sleep on the event loop: the shim waits for locks itself.
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 0,
                       "secure_delete": 1}


async def test_another_process_lock_never_blocks_the_loop(db: Database, tmp_path: Path) -> None:
    """Another connection holding the write lock: a write waits for it with the loop free,
    goes through once it is released, and fails as an outage after a couple of seconds."""
    await db.create_all()
    other = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        while True:
            await asyncio.sleep(0.05)
            beats += 1

    async def write() -> None:
        async with db.unit_of_work() as uow:
            uow.save(Patient(name="P", timezone="UTC", created_at=datetime.now(UTC)))

    ticker = asyncio.create_task(heartbeat())
    try:
        other.execute("BEGIN IMMEDIATE")
        asyncio.get_running_loop().call_later(0.8, other.execute, "COMMIT")
        await write()  # waited for the lock, and then wrote
        assert beats >= 10  # the loop kept running meanwhile
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(Exception) as refused:  # noqa: PT011 (SQLAlchemy wraps it)
            await write()
        assert db.is_outage(refused.value)
        other.execute("COMMIT")
        await write()
    finally:
        ticker.cancel()
        other.close()


async def test_inline_sqlite_false_keeps_aiosqlite(tmp_path: Path) -> None:
    """The benchmark's baseline really is plain aiosqlite."""
    database = Database(f"sqlite:///{tmp_path / 'y.db'}", inline_sqlite=False)
    async with database.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.driver_connection, aiosqlite.Connection)
    await database.dispose()


async def test_concurrent_transactions_all_commit_without_deadlock(
    db: Database, tmp_path: Path
) -> None:
    """Tasks interleaving mid-transaction queue for the one connection; every one commits."""

    async def write(chat_id: int) -> None:
        async with db.unit_of_work() as uow:
            await asyncio.sleep(0)
            await uow.insert_rows(Patient, [patient_row(chat_id)])
            await asyncio.sleep(0)  # hand the loop to the others mid-transaction
            assert await uow.patients.by_chat(chat_id) is not None

    async with asyncio.timeout(20):  # a guard: a deadlock fails instead of hanging
        await asyncio.gather(*(write(1000 + i) for i in range(TASKS)))
    assert count_patients(tmp_path / "x.db") == TASKS


async def test_a_raising_transaction_rolls_back_and_frees_the_connection(
    db: Database, tmp_path: Path
) -> None:
    """The block's exception propagates, its write is undone, the next transaction runs."""

    async def failing_handler() -> None:
        async with db.unit_of_work() as uow:
            await uow.insert_rows(Patient, [patient_row(1)])
            raise RuntimeError("handler failed")

    with pytest.raises(RuntimeError, match="handler failed"):
        await failing_handler()
    async with asyncio.timeout(20), db.unit_of_work() as uow:  # waits if the connection leaked
        assert await uow.patients.by_chat(1) is None
        await uow.insert_rows(Patient, [patient_row(2)])
    assert count_patients(tmp_path / "x.db") == 1


async def test_a_write_waits_for_another_process_lock_then_succeeds(
    db: Database, tmp_path: Path
) -> None:
    """Another connection holding the write lock (BEGIN IMMEDIATE) makes our write wait in
    the busy handler instead of failing; it goes through once the lock is released."""
    events: list[str] = []
    other = sqlite3.connect(tmp_path / "x.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")

    def release() -> None:
        events.append("released")
        other.execute("COMMIT")

    timer = threading.Timer(0.3, release)  # a thread: the waiting write blocks the loop
    timer.start()
    try:
        async with db.unit_of_work() as uow:
            await uow.insert_rows(Patient, [patient_row(7)])
        events.append("written")
    finally:
        timer.join()
        other.close()
    assert events == ["released", "written"]
    assert count_patients(tmp_path / "x.db") == 1
