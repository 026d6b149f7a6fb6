"""Engine and unit-of-work factory: `Database.unit_of_work()` is one transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from types import TracebackType
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store import inline_sqlite as inline
from bot.store import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from bot.store.queue import Claims
from bot.store.uow import SqlUnitOfWork


def async_url(url: str) -> str:
    """Accept the usual sync URLs and pick the async driver we ship."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


POOL_TIMEOUT_SECONDS = 60
# The transaction of the update being handled: every unit of work opened while it is set
# joins it, so an update's effects, its outbox rows and its "done" mark commit together.
_AMBIENT: ContextVar[SqlUnitOfWork | None] = ContextVar("ambient_unit_of_work", default=None)


class Database:
    """One engine per process; every unit of work is a short transaction."""

    def __init__(self, url: str, *, echo: bool = False, inline_sqlite: bool = True) -> None:
        """`inline_sqlite=False` keeps aiosqlite's thread per connection (the benchmark
        `bench/sqlite_driver.py` compares both)."""
        self.url = async_url(url)
        # Errors must not carry patients' words into logs: SQL errors show no parameters.
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.url.startswith("sqlite") and inline_sqlite:
            # One connection, run on the loop (see inline_sqlite): tasks queue for it, so no
            # task ever busy-waits on a lock another task of this process holds.
            path = make_url(self.url).database or ":memory:"
            kwargs.update(
                async_creator=inline.creator(path), pool_size=1, max_overflow=0,
                pool_timeout=POOL_TIMEOUT_SECONDS,
            )
        else:
            # LIFO: the most recently used connection is reused, and with it the statements
            # asyncpg has already prepared on it; the others idle (and can time out).
            kwargs.update(pool_pre_ping=True, pool_use_lifo=True)
            if self.url.startswith("postgresql+asyncpg"):
                # A server that stops answering (packets dropped) fails to connect in
                # seconds instead of hanging a receiver or a tick for good.
                kwargs["connect_args"] = {"timeout": 5}
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.url.startswith("sqlite"):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            if inline_sqlite:  # it waits for locks itself, off the loop's back
                event.listen(self.engine.sync_engine, "connect", _no_busy_wait)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def create_all(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all)

    async def drop_all(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.drop_all)

    def unit_of_work(self) -> SqlUnitOfWork | _Joined:
        """A transaction (`async with`): committed when the block ends, rolled back if it
        raises. Inside `handling`, the handling's transaction instead."""
        ambient = _AMBIENT.get()
        if ambient is not None:
            return _Joined(ambient)
        return SqlUnitOfWork(self._sessions())

    @asynccontextmanager
    async def handling(self) -> AsyncIterator[SqlUnitOfWork]:
        """One transaction for everything done while handling an update (see `_AMBIENT`)."""
        async with SqlUnitOfWork(self._sessions()) as uow:
            token = _AMBIENT.set(uow)
            try:
                yield uow
            finally:
                _AMBIENT.reset(token)

    @asynccontextmanager
    async def claims(self) -> AsyncIterator[Claims]:
        """A short transaction for fenced writes on claimed rows alone: no ORM session,
        cheaper than `tx` for the one statement around each send."""
        ambient = _AMBIENT.get()
        if ambient is not None:
            yield await ambient.queue.claims()
            return
        async with self.engine.begin() as connection:
            yield Claims(connection)

    @staticmethod
    def is_outage(error: BaseException) -> bool:
        """Whether `error` says the database is unreachable, locked, full or restarting (as
        opposed to a bug): the work is retried later and not held against the update."""
        return _outage(error)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _no_busy_wait(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()


# SQLSTATE classes of a database that is away rather than wrong: connection exceptions,
# insufficient resources (disk full, too many connections), operator intervention
# (shutting down, starting up).
OUTAGE_STATES = ("08", "53", "57P")
SQLITE_OUTAGES = ("locked", "busy", "disk", "full", "unable to open", "readonly", "i/o")


def _outage(error: BaseException) -> bool:
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig if error.orig is not None else error
    if isinstance(error, exc.TimeoutError | exc.DisconnectionError | exc.InterfaceError):
        return True  # no pooled connection in time; a connection that went away
    if isinstance(error, sqlite3.OperationalError):
        return any(word in str(error).lower() for word in SQLITE_OUTAGES)
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if isinstance(state, str):
        return state.startswith(OUTAGE_STATES)
    # Sockets refused or timing out; a full disk under the photo store is an outage too.
    return isinstance(error, OSError) or (
        type(error).__module__.startswith("asyncpg") and "Connection" in type(error).__name__
    )


class _Joined:
    """A unit of work inside `Database.handling`: it neither commits nor rolls back (the
    handling does, for everything at once)."""

    def __init__(self, ambient: SqlUnitOfWork) -> None:
        self.ambient = ambient

    async def __aenter__(self) -> SqlUnitOfWork:
        return self.ambient

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the dispatcher read while a handler writes; foreign keys are off by default.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL loses nothing on a process crash (only, at worst, the last commits on
    # a power cut) and saves an fsync per commit.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Erasure must not leave patients' words recoverable from free pages of the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
