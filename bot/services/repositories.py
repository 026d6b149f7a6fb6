"""The ports the store implements for the use cases: a unit of work, one repository per
aggregate. `bot.store.uow.SqlUnitOfWork` is the SQL adapter; tests run use cases on a fake.

Entities are the tables of `bot.store.models`: use cases read and change them, and hand them
back to the unit of work (`add`, `save`); they never see the ORM session or write SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from bot.core.backlog import Backlog
from bot.services.queue_ports import ClaimWrites, Inbox, Queue
from bot.store.models import (
    Answer,
    AuditEvent,
    CheckIn,
    Clinician,
    ConsoleToken,
    Digest,
    Entity,
    Escalation,
    Invite,
    OnCall,
    Patient,
    Photo,
    Ping,
    TreatmentSession,
)

E = TypeVar("E", bound=Entity)
__all__ = ["ClaimWrites", "Inbox", "Queue"]  # with the unit of work that holds them


class Patients(Protocol):
    """A patient and what hangs on them: sessions, invitations, answers, photos."""

    async def get(self, patient_id: int) -> Patient | None: ...

    async def by_chat(self, chat_id: int) -> Patient | None: ...

    async def reply_context(
        self, chat_id: int
    ) -> tuple[Patient, list[TreatmentSession], list[dict[str, Any]] | None] | None:
        """In one query, what answering a patient's message needs: the patient of the chat,
        their sessions in order, and the observations of their last evaluated answer (as
        `previous_observations`). None if the chat is not a patient's.
        """
        ...

    async def delete(self, patient_id: int) -> None: ...

    async def treatment_session(self, session_id: int) -> TreatmentSession | None: ...

    async def sessions_of(self, patient_id: int) -> list[TreatmentSession]: ...

    async def move_session(self, session_id: int, patient_id: int) -> None: ...

    async def has_history(self, patient_id: int) -> bool:
        """Whether anything besides the invitation hangs on this patient."""
        ...

    async def invite(self, invite_id: int) -> Invite | None: ...

    async def outside_by_chat(self, chat_id: int) -> Patient | None:
        """The patient of a chat outside the follow-up: stopped or blocked, else the not
        yet enrolled patient whose invitation link the chat opened last."""
        ...

    async def invite_by_hash(self, token_hash: str) -> Invite | None: ...

    async def use_invite(self, invite_id: int, now: datetime) -> bool:
        """Mark an invite used; False if it was used or expired meanwhile (single use)."""
        ...

    async def previous_observations(
        self, patient_id: int, *, before: int | None = None
    ) -> list[dict[str, Any]] | None:
        """Observations of the patient's last evaluated answer (before answer `before`)."""
        ...

    async def answer(self, answer_id: int) -> Answer | None: ...

    async def close_clarification(self, answer_id: int) -> bool:
        """Take the pending trend question off an answer; False if already answered."""
        ...

    async def answers_of(self, patient_id: int) -> list[Answer]: ...

    async def photos_of(self, patient_id: int) -> list[Photo]: ...

    async def photo(self, photo_id: int) -> Photo | None: ...

    async def attach_photo(self, photo_id: int, escalation_id: int) -> bool: ...

    async def photo_known(self, patient_id: int, file_unique_id: str) -> bool: ...

    async def all(self) -> list[Patient]: ...

    async def find(self, name: str) -> list[Patient]:
        """Patients whose name contains `name`, ignoring case."""
        ...

    async def active(self) -> list[Patient]: ...

    async def last_answer_at(self, patient_id: int) -> datetime | None: ...

    async def claim_silence_alert(
        self, patient_id: int, previous: datetime | None, now: datetime
    ) -> bool:
        """Record that the clinic is told of this silence; False if another worker was first."""
        ...

    async def quiet(self, cutoff: datetime) -> list[Patient]:
        """Active patients with a scheduled check-in sent before `cutoff` and unanswered."""
        ...


class Clinicians(Protocol):
    """Clinicians and the on-call rota."""

    async def get(self, clinician_id: int) -> Clinician | None: ...

    async def by_chat(self, chat_id: int) -> Clinician | None: ...

    async def rota(self) -> list[Clinician]:
        """Active, registered clinicians on the on-call rota, in order."""
        ...

    async def all(self) -> list[Clinician]: ...

    async def on_call(self) -> list[OnCall]:
        """The active, registered clinicians paging can reach, in id order (plain rows:
        every page reads them)."""
        ...

    async def active(self) -> list[Clinician]: ...


class Checkins(Protocol):
    """The check-ins of the care plan, as rows (the schedule is data)."""

    async def get(self, checkin_id: int) -> CheckIn | None: ...

    async def checkins_of(self, patient_id: int) -> list[CheckIn]: ...

    async def step_ids(self, session_id: int) -> set[str]: ...

    async def cancel_pending(
        self, patient_id: int, reason: str, *, from_date: date | None = None
    ) -> int:
        """Cancel the patient's unsent scheduled check-ins (from `from_date` on, if given)."""
        ...

    async def restore_cancelled(self, patient_id: int, reason: str, from_date: date) -> int:
        """Put back check-ins cancelled for `reason` whose day has not passed."""
        ...

    async def dated_checkins(self, patient_id: int) -> set[date]:
        """Local dates that already carry a live scheduled check-in."""
        ...

    async def next_pending(self, patient_id: int) -> CheckIn | None: ...

    async def last_scheduled(self, patient_id: int) -> CheckIn | None: ...

    async def unanswered_since(self, cutoff: datetime, *, limit: int) -> list[CheckIn]:
        """Scheduled check-ins sent before `cutoff`, unanswered, not yet re-asked."""
        ...

    async def claim_nudge(self, checkin_id: int, now: datetime) -> bool:
        """Mark a check-in as re-asked; False if another dispatcher got there first."""
        ...

    async def unanswered_questions(
        self, kinds: Sequence[str], cutoff: datetime, *, limit: int
    ) -> list[CheckIn]:
        """Red-flag questions sent before `cutoff`, unanswered, not yet escalated."""
        ...

    async def supersede_questions(
        self, patient_id: int, kinds: Sequence[str], now: datetime
    ) -> datetime | None:
        """Open red-flag questions superseded by a new one; when the oldest was asked."""
        ...

    async def newer_checkin_sent(self, checkin: CheckIn) -> bool: ...

    async def sent_scheduled(self, patient_id: int) -> list[CheckIn]:
        """The patient's delivered scheduled check-ins, newest first."""
        ...

    async def save_draft(self, checkin_id: int, draft: dict[str, Any]) -> None: ...

    async def release_held(self, patient_id: int, now: datetime) -> int:
        """Check-ins held back while an emergency waited for a clinician: due now."""
        ...

    async def answer_open(
        self, patient_id: int, since: datetime, now: datetime, *, questions: Sequence[str] = ()
    ) -> int | None:
        """Mark the patient's latest scheduled check-in still open, and their open red-flag
        questions of the kinds `questions`, as replied to in their own words (buttons still
        work); the scheduled one's id, or None."""
        ...

    async def mark_answered(self, checkin_id: int, now: datetime) -> bool:
        """Close a check-in for answers; False if it was already answered (a double tap)."""
        ...


class EscalationsRepo(Protocol):
    """Escalations, the pings that page them and the morning digests."""

    async def get(self, escalation_id: int) -> Escalation | None: ...

    async def escalations_of(self, patient_id: int) -> list[Escalation]: ...

    async def acknowledge(self, escalation_id: int, clinician_id: int, now: datetime) -> bool:
        """Record the first acknowledgement and stop the ladder; False if already taken."""
        ...

    async def set_ladder_base(self, escalation_id: int, base: int) -> None: ...

    async def mark_unpaged(self, escalation_id: int, when: datetime | None) -> None:
        """Since when nobody could be paged for it (None: someone was paged)."""
        ...

    async def share_outcome(self, escalation_id: int, now: datetime) -> bool:
        """Mark a resolved escalation's outcome as shared; False if it was already."""
        ...

    async def resolve(
        self, escalation_id: int, clinician_id: int, now: datetime, outcome: str
    ) -> bool:
        """Close an escalation with its outcome; False if it was already resolved."""
        ...

    async def set_next_step(self, escalation_id: int, when: datetime | None) -> None:
        """When the escalation's next ladder step is due (None: no further step)."""
        ...

    async def claim_ladder_steps(self, now: datetime, *, limit: int) -> list[Escalation]:
        """Take the escalations whose page went unacknowledged past its time, one step on.

        The step is counted in the same statement that claims them, so two dispatchers never
        page the same step twice (SKIP LOCKED on PostgreSQL, one writer on SQLite).
        """
        ...

    async def claim_unsummarised(self, now: datetime, *, limit: int) -> list[Escalation]:
        """Routine escalations and notices not yet in a morning summary, marked as taken."""
        ...

    async def digest_sent_on(self, clinic_date: date) -> bool: ...

    async def digests_with(self, escalation_id: int, since: date) -> list[Digest]:
        """Summary messages that list this escalation (to update every copy)."""
        ...

    async def many(self, ids: Sequence[int] | set[int]) -> list[Escalation]: ...

    async def open(self) -> list[Escalation]: ...

    async def pings_of(self, escalation_id: int) -> list[Ping]: ...

    async def latest_open(
        self, patient_id: int, since: datetime | None = None, *, lock: bool = False
    ) -> Escalation | None:
        """The patient's newest unresolved clinical escalation (raised since `since`; with
        `lock`, held for this transaction)."""
        ...

    async def paged(self, escalation_id: int) -> bool:
        """Whether a clinician was paged about it (a ping sent, or on its way)."""
        ...

    async def all(self) -> list[Escalation]: ...


class Records(Protocol):
    """Records about the follow-up: audit, erasure, retention, rate windows, figures."""

    async def count_attempt(self, key: str, window: int) -> int:
        """Count one attempt under `key` in `window`; the number so far, this one included."""
        ...

    async def attempts(self, key: str, window: int) -> int: ...

    async def prune_rate_windows(self, before: int) -> None: ...

    async def audit(
        self, at: datetime, actor: str, action: str, *, patient_id: int | None = None,
        detail: str = "",
    ) -> None: ...

    async def audit_events(
        self, *, since: datetime | None = None, patient_id: int | None = None, limit: int = 1000
    ) -> list[AuditEvent]: ...

    async def erase_patient(
        self, patient_id: int, now: datetime, *, keep_escalations: bool = False
    ) -> bool:
        """Remove a patient's personal data and words, keep the anonymous counts.

        Kept: levels, days, timestamps and delivery states (the clinic's figures). Gone: name,
        phone, chat, free text, photos (rows; the caller deletes the files), treated areas,
        invitation tokens, ping and outcome texts. False if already erased (by another worker).
        """
        ...

    async def expired_patients(
        self, cutoff: datetime, *, limit: int, kept: bool = False
    ) -> list[int]:
        """Patients not yet erased whose last session (and enrolment) is before `cutoff`;
        with `kept`, those erased at their request whose escalations were kept."""
        ...

    async def erase_kept_escalations(self, patient_id: int) -> None:
        """The escalations /forget kept as the clinic's record, erased (retention ended)."""
        ...

    async def patient_counts(self) -> tuple[int, int, int]:
        """(enrolled, of whom ever consented, active now)."""
        ...

    async def reply_rate_by_day(self) -> list[tuple[int, int, int]]:
        """(plan day, scheduled check-ins delivered, of which answered), by day."""
        ...


class ConsoleTokens(Protocol):
    """Console login links and sessions, by the hash of their secret."""

    async def redeem_link(self, token_hash: str, now: datetime) -> int | None:
        """Use a live login link once: its clinician's id (None: unknown, used, expired)."""
        ...

    async def session(self, token_hash: str, now: datetime) -> ConsoleToken | None: ...

    async def known(self, token_hash: str) -> bool:
        """Whether any token (a link, a session, a used init data) has this hash."""
        ...

    async def end(self, token_hash: str) -> None: ...

    async def end_all(self, clinician_id: int) -> None: ...

    async def expire(self, now: datetime) -> int: ...


class Monitoring(Protocol):
    """Aggregates for monitoring."""

    async def backlog(self, now: datetime) -> Backlog:
        """Rows due by kind, unacknowledged escalations by level, the inbox, heartbeats."""
        ...


class UnitOfWork(Protocol):
    """One transaction: committed when its `async with` block ends, rolled back if it raises."""

    @property
    def patients(self) -> Patients: ...

    @property
    def clinicians(self) -> Clinicians: ...

    @property
    def checkins(self) -> Checkins: ...

    @property
    def escalations(self) -> EscalationsRepo: ...

    @property
    def queue(self) -> Queue: ...

    @property
    def records(self) -> Records: ...

    @property
    def inbox(self) -> Inbox: ...

    @property
    def console(self) -> ConsoleTokens: ...

    @property
    def monitoring(self) -> Monitoring: ...


    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None: ...

    async def add(self, entity: E) -> E:
        """Insert a new entity now, so its id is known."""
        ...

    async def add_all(self, entities: Sequence[Entity]) -> None: ...

    def save(self, entity: Entity) -> None:
        """Keep the changes made to an entity (written at the next flush or the commit)."""
        ...

    async def flush(self) -> None:
        """Write pending changes now (before a statement that must see them)."""
        ...

    async def refresh(self, entity: Entity) -> None:
        """Read an entity again (after a statement changed its row)."""
        ...

    async def insert_rows(
        self, model: type[Entity], rows: Sequence[dict[str, Any]]
    ) -> list[int]:
        """Insert rows given as column values, without entities (hot paths); their ids."""
        ...


class UnitsOfWork(Protocol):
    """Where use cases get their transactions from (the composition root passes the
    database's)."""

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]: ...

    def handling(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """One transaction that every unit of work opened inside it joins (an update's
        effects, its outbox rows and its "done" mark commit together)."""
        ...

    def is_outage(self, error: BaseException) -> bool:
        """Whether `error` says the database is unreachable, locked or full."""
        ...

    def claims(self) -> AbstractAsyncContextManager[ClaimWrites]:
        """A short transaction for fenced writes on claimed rows alone."""
        ...

    async def dispose(self) -> None:
        """Close every connection (at shutdown)."""
        ...
