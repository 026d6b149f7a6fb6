"""Plain rows read without the ORM on hot paths (`bot.store.models` re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class Recipient:
    """What the dispatcher needs of a patient to send a check-in (read without the ORM)."""

    id: int
    status: str
    chat_id: int | None
    timezone: str
    alarm_at: datetime | None = None  # their latest emergency not yet acknowledged
    language: str = ""  # what they read ("": the clinic's language)
    country: str = ""  # ISO 3166 alpha-2, for the emergency number ("": the clinic's)
    recent: frozenset[str] = frozenset()  # symptoms of their last evaluated answer


@dataclass(frozen=True, slots=True)
class OnCall:
    """An active, registered clinician as paging needs them (read without the ORM)."""

    id: int
    chat_id: int
    rota_position: int | None


@dataclass(frozen=True, slots=True)
class Claimed:
    """A check-in the dispatcher claimed, with the columns sending it needs (no ORM)."""

    id: int
    patient_id: int
    kind: str
    step_id: str
    local_date: date
    due_at: datetime
    claimed_at: datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class Holder:
    """Who claims (a worker's id), and since when other workers count as dead: their claims
    are taken back once their heartbeat is older than `dead_before` (None: only leases)."""

    worker: str
    dead_before: datetime | None = None
