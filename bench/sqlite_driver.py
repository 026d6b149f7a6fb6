"""SQLite drivers side by side: the inline shim against plain aiosqlite, in one run.

`Database(url)` runs `sqlite3` on the event loop over one queued connection
(bot/store/inline_sqlite.py); `Database(url, inline_sqlite=False)` keeps aiosqlite, a thread
per pooled connection. Each driver gets a fresh temporary file seeded with 300 patients, then:

  (a) read    N short transactions one after another, each a patient looked up by chat id
  (b) write   N short transactions one after another, each inserting one Answer row
  (c) write   the same N writes from 50 concurrent tasks

Rounds alternate between the drivers; each figure is the median round (by ops/s) of 3.
Latency is one transaction's, from asking for it to its commit (queueing included).
Failed transactions (say "database is locked") are counted and shown, never dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite
import sqlalchemy
from sqlalchemy import insert, select

from bench._common import percentile
from bot.store.db import Database
from bot.store.models import Answer, Patient

PATIENTS = 300
TASKS = 50
ROUNDS = 3
WARMUP = 50
NOW = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)  # stored data only; timings use perf_counter
DRIVERS = {"inline": True, "aiosqlite": False}  # name: Database(inline_sqlite=...)

Op = Callable[[int], Awaitable[None]]


@dataclass
class Round:
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, committed ones
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed

    def ms(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000 if self.latencies else float("nan")


@dataclass
class Subject:
    """One driver's database, seeded, and its patients."""

    name: str
    db: Database
    chat_ids: list[int]
    patient_ids: list[int]

    async def read(self, i: int) -> None:
        async with self.db.unit_of_work() as uow:
            found = await uow.patients.by_chat(self.chat_ids[i % len(self.chat_ids)])
        assert found is not None

    async def write(self, i: int) -> None:
        row = {"patient_id": self.patient_ids[i % len(self.patient_ids)], "day": 1,
               "created_at": NOW, "source": "text", "text": "a little swollen, no pain"}
        async with self.db.unit_of_work() as uow:
            await uow.insert_rows(Answer, [row])


async def subject(name: str, folder: Path) -> Subject:
    db = Database(f"sqlite:///{folder / f'{name}.db'}", inline_sqlite=DRIVERS[name])
    await db.create_all()
    chat_ids = [700_000 + i for i in range(PATIENTS)]
    async with db.engine.begin() as connection:
        await connection.execute(insert(Patient), [
            {"name": f"Patient {chat}", "timezone": "UTC", "chat_id": chat, "status": "active",
             "created_at": NOW, "consent_at": NOW, "language": "en"}
            for chat in chat_ids
        ])
        ids = (await connection.execute(select(Patient.id).order_by(Patient.id))).scalars()
        patient_ids = [int(pid) for pid in ids]
    return Subject(name, db, chat_ids, patient_ids)


async def measure(op: Op, n: int, tasks: int) -> Round:
    """`n` calls of `op`, from `tasks` concurrent tasks taking the next call as they free up."""
    result = Round()
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            start = time.perf_counter()
            try:
                await op(i)
            except Exception as exc:  # counted and reported: an outcome, not a crash
                cause = getattr(exc, "orig", None) or exc
                result.errors[f"{type(cause).__name__}: {cause}"] += 1
            else:
                result.latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    result.elapsed = time.perf_counter() - start
    return result


def workloads(s: Subject) -> dict[str, tuple[Op, int]]:
    return {
        "(a) read, patient by chat, 1 task": (s.read, 1),
        "(b) write, one Answer row, 1 task": (s.write, 1),
        f"(c) write, one Answer row, {TASKS} tasks": (s.write, TASKS),
    }


async def run(n: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="aftercare-bench-") as folder:
        subjects = [await subject(name, Path(folder)) for name in DRIVERS]
        for s in subjects:  # connections opened, statements compiled, pages cached
            for op, tasks in workloads(s).values():
                await measure(op, WARMUP, tasks)
        rows: list[tuple[str, list[Round]]] = []
        failures: list[str] = []
        for label in workloads(subjects[0]):
            runs: dict[str, list[Round]] = {s.name: [] for s in subjects}
            for _ in range(rounds):  # alternate, so drift on the machine hits both alike
                for s in subjects:
                    op, tasks = workloads(s)[label]
                    runs[s.name].append(await measure(op, n, tasks))
            rows.append((label, [_median_round(runs[s.name]) for s in subjects]))
            failures += _failures(label, runs)
        for s in subjects:
            await s.db.dispose()
    _print_table(n, rounds, rows)
    for line in failures or ["no transaction failed in any round"]:
        print(line)


def _median_round(rounds: list[Round]) -> Round:
    return sorted(rounds, key=lambda r: r.rate)[(len(rounds) - 1) // 2]


def _failures(label: str, runs: dict[str, list[Round]]) -> list[str]:
    """One line per kind of failure, over all rounds."""
    lines = []
    for name, rounds in runs.items():
        errors: Counter[str] = sum((r.errors for r in rounds), Counter())
        tried = sum(len(r.latencies) + sum(r.errors.values()) for r in rounds)
        lines += [f"FAILED {label}, {name}: {count} of {tried:,} transactions ({message})"
                  for message, count in errors.most_common()]
    return lines


def _print_table(n: int, rounds: int, rows: list[tuple[str, list[Round]]]) -> None:
    names = list(DRIVERS)
    print(
        f"SQLite drivers: {n:,} transactions per workload, {PATIENTS} patients, median of "
        f"{rounds} rounds\nPython {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, "
        f"SQLAlchemy {sqlalchemy.__version__}, aiosqlite {aiosqlite.__version__}"
    )
    head = "".join(f"  {name + ' ops/s':>15} {'p50 ms':>7} {'p99 ms':>7} {'failed':>6}"
                   for name in names)
    print(f"{'workload':<37}{head}  speed-up")
    for label, medians in rows:
        cells = "".join(f"  {r.rate:15,.0f} {r.ms(50):7.3f} {r.ms(99):7.3f} "
                        f"{sum(r.errors.values()):6d}" for r in medians)
        print(f"{label:<37}{cells}  {medians[0].rate / medians[1].rate:6.2f}x")
    print(f"(speed-up: {names[0]} ops/s over {names[1]} ops/s; 'failed' counts the median "
          "round)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000, help="transactions per workload")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    asyncio.run(run(args.n, args.rounds))


if __name__ == "__main__":
    main()
