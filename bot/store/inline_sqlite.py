"""SQLite for the async engine without a thread hop per call.

aiosqlite runs every call (execute, fetch, commit) on its own thread and hands the result
back to the event loop: about 0.2 ms per hop on a small VM, several hops per statement, when
the statement itself takes microseconds. This shim gives SQLAlchemy's aiosqlite dialect
a connection whose coroutines run `sqlite3` directly on the loop.

The cost is that a statement blocks the loop while it runs. That is fine for microsecond
statements, and `Database` keeps it safe: one connection per process (callers queue for it
without blocking the loop), so a write never waits on a lock held by this same process.
Another process holding the write lock (a CLI command, a backup, a stuck tool) must not
freeze the bot either: SQLite's own busy wait would sleep on the loop, so it is off
(`busy_timeout=0`) and a statement refused as busy is retried here, the loop free between
tries, for up to `BUSY_WAIT_SECONDS`; then it fails as an outage, which callers survive.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

BUSY_WAIT_SECONDS = 2.0  # then "database is locked" is raised (an outage)
PAUSES = (0.001, 0.005, 0.02, 0.05, 0.1, 0.2)  # between tries, then the last one repeated


async def _patiently(call: Callable[[], T]) -> T:
    """`call()`, tried again while another process holds the lock, without blocking."""
    waited, tries = 0.0, 0
    while True:
        try:
            return call()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if waited >= BUSY_WAIT_SECONDS:
                raise
            pause = PAUSES[min(tries, len(PAUSES) - 1)]
            tries += 1
            waited += pause
            await asyncio.sleep(pause)


class InlineCursor:
    """An aiosqlite-shaped cursor over a `sqlite3.Cursor`."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        await _patiently(lambda: self._cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, seq: Iterable[Any]) -> InlineCursor:
        rows = list(seq)  # a retry needs them again
        await _patiently(lambda: self._cursor.executemany(sql, rows))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class InlineConnection:
    """An aiosqlite-shaped connection over a `sqlite3.Connection`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn: sqlite3.Connection | None = conn

    @property
    def _connection(self) -> sqlite3.Connection | None:  # the dialect tests it for "open"
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._open().isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._open().cursor())

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        return InlineCursor(await _patiently(lambda: self._open().execute(sql, parameters)))

    async def commit(self) -> None:
        await _patiently(self._open().commit)

    async def rollback(self) -> None:
        self._open().rollback()

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._open().create_function(*args, **kw)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Close at once (SQLAlchemy's terminate, also outside the loop)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        return self._conn


def creator(path: str) -> Any:
    """An `async_creator` for `create_async_engine` opening `path`."""

    async def connect() -> InlineConnection:
        # check_same_thread=False: the pool may close a connection from a GC finaliser.
        conn = sqlite3.connect(path, timeout=0, check_same_thread=False)
        return InlineConnection(conn)

    return connect
