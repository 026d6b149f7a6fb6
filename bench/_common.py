"""Shared by the benchmarks: bulk seeding, the app against the sandbox, percentiles."""

from __future__ import annotations

import logging
import statistics
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, text

from bot.adapters.content_files import load_content
from bot.app import AnyApp, build_application
from bot.core import schedule
from bot.core.clock import Clock, SystemClock
from bot.rehearsal import SANDBOX_TOKEN, sandbox_settings
from bot.sandbox import SandboxTelegram
from bot.store.db import Database
from bot.store.models import CheckIn, Patient, TreatmentSession


def midday_zone() -> ZoneInfo:
    """A fixed-offset zone where it is about noon now, so no quiet hours interfere."""
    offset = 12 - datetime.now(UTC).hour
    offset = offset - 24 if offset > 12 else offset + 24 if offset < -12 else offset
    return ZoneInfo(f"Etc/GMT{-offset:+d}")  # Etc/ names invert the sign


class Errors(logging.Handler):
    """Counts error records: a benchmark whose handlers failed measured nothing."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        logging.getLogger().addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1

    def check(self) -> None:
        """Stop the benchmark if anything failed."""
        if self.count:
            raise SystemExit(f"FAILED: {self.count} errors were logged; the figures are void")


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def temp_sqlite() -> str:
    folder = Path(tempfile.mkdtemp(prefix="aftercare-bench-"))
    return f"sqlite:///{folder / 'bench.db'}"


def app_for(
    db: Database, server: SandboxTelegram, *, pacing: bool, clock: Clock | None = None,
    jobs: bool = False, **settings: Any,
) -> AnyApp:
    """The real Application on `db`, talking to the in-process sandbox."""
    config = sandbox_settings(db.url, rate_limit=pacing, clinic_timezone="UTC", **settings)
    return build_application(
        config, clock=clock or SystemClock(), database=db, request=server.request(),
        updates_request=server.request(), schedule_jobs=jobs,
    )


async def seed_patients(
    db: Database, chat_ids: Sequence[int | None], *, session_at: datetime, plan: bool = True,
    due_now: int = 0, batch: int = 20_000,
) -> int:
    """Active patients with a session and (optionally) their expanded plan; bulk inserts.

    The first `due_now` patients get their day-0 check-in due right now. Returns the rows.
    """
    content = load_content()
    now = datetime.now(UTC)
    zone = midday_zone()
    planned = schedule.expand(content.plan, session_at, zone)
    rows = 0
    async with db.engine.begin() as connection:
        first_id = await _next_id(connection, Patient)
    for start in range(0, len(chat_ids), batch):
        chunk = chat_ids[start : start + batch]
        ids = range(first_id + start, first_id + start + len(chunk))
        async with db.engine.begin() as connection:
            await connection.execute(
                insert(Patient),
                [
                    {"id": pid, "name": f"Patient {pid}", "timezone": zone.key, "chat_id": chat,
                     "status": "active", "created_at": now, "consent_at": now, "language": "en"}
                    for pid, chat in zip(ids, chunk, strict=True)
                ],
            )
            await connection.execute(
                insert(TreatmentSession),
                [{"id": pid, "patient_id": pid, "session_at": session_at, "areas": "face",
                  "created_at": now} for pid in ids],
            )
            if plan:
                checkins = [
                    {"patient_id": pid, "session_id": pid, "step_id": p.step_id, "day": p.day,
                     "local_date": p.local_date, "kind": "scheduled", "status": "pending",
                     "attempts": 0,
                     "due_at": now - timedelta(seconds=1)
                     if (pid - first_id) < due_now and p.day == 0 else p.due_at}
                    for pid in ids
                    for p in planned
                ]
                await connection.execute(insert(CheckIn), checkins)
                rows += len(checkins)
    async with db.engine.begin() as connection:  # planner statistics, as autovacuum keeps them
        await connection.execute(text("ANALYZE"))
    return rows


async def _next_id(connection: Any, model: type[Patient]) -> int:
    result = await connection.execute(select(model.id).order_by(model.id.desc()).limit(1))
    last = result.scalar()
    return (last or 0) + 1


SANDBOX = SANDBOX_TOKEN
