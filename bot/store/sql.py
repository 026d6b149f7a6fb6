"""What every repository shares: statements built once, plain-row inserts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    insert,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

_STATEMENTS: dict[tuple[Any, ...], Any] = {}  # built on first use, by shape



def built(key: tuple[Any, ...], build: Callable[..., Any], *args: Any) -> Any:
    """The statement of this shape, built once per process by `build(*args)`."""
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = build(*args)
    return stmt


class Transaction:
    """One transaction's ORM session and its connection, shared by the repositories of a unit
    of work (the connection is asked of the ORM session once: Core statements use it)."""

    __slots__ = ("_connection", "orm")

    def __init__(self, orm: AsyncSession) -> None:
        self.orm = orm
        self._connection: AsyncConnection | None = None

    async def connection(self) -> AsyncConnection:
        if self._connection is None:
            self._connection = await self.orm.connection()
        return self._connection


class SqlRepository:
    """Queries over one transaction; subclasses hold one aggregate's."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._orm = tx.orm

    async def _conn(self) -> AsyncConnection:
        return await self._tx.connection()


async def insert_rows(
    tx: Transaction, model: type[SQLModel], rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert rows given as column values (the model's defaults fill the rest) in one
    statement; their ids, in order. No objects are built and there is no unit of work:
    several times cheaper than adding entities on hot paths. It runs on the connection:
    changes pending in the ORM session are not flushed first.
    """
    if not rows:
        return []
    table = model.__table__  # type: ignore[attr-defined]
    stmt = built(("insert", table), _insert, table)
    full = [_complete(model, row) for row in rows]
    connection = await tx.connection()
    result = await connection.execute(stmt, full[0] if len(full) == 1 else full)
    return [row_id for (row_id,) in result.all()]


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
    """The insert of `insert_rows`: ids returned in the order the rows were given."""
    return insert(table).returning(table.c.id, sort_by_parameter_order=True)

