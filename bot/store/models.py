"""Database tables (sqlmodel). Times are stored as UTC; `UTCDateTime` refuses naive values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from bot.store.rows import Claimed, Holder, OnCall, Recipient

__all__ = ["Claimed", "Holder", "OnCall", "Recipient"]  # plain rows, kept importable here

Entity = SQLModel  # the base of every table: what the use cases hand the unit of work


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (no zone support) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(*, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, index=index)


class PatientStatus:
    """Where a patient stands in their follow-up."""

    INVITED = "invited"  # created by the clinic, has not consented yet
    ACTIVE = "active"
    STOPPED = "stopped"  # asked to stop with /stop
    UNREACHABLE = "unreachable"  # blocked the bot
    ERASED = "erased"  # asked to be forgotten, or past the retention period: anonymised


class Patient(SQLModel, table=True):
    """A person followed up; linked to their Telegram chat once they consent."""

    id: int | None = Field(default=None, primary_key=True)
    name: str
    phone: str | None = None
    timezone: str
    # What they read (ISO 639-1); "": not chosen at enrolment, so Telegram's language at
    # /start when the clinic ships it, else the clinic's.
    language: str = ""
    # Where they are (ISO 3166 alpha-2), for the emergency number: given at enrolment, else
    # read from `phone`; "": the clinic's number.
    country: str = ""
    chat_id: int | None = Field(default=None, sa_type=BigInteger, unique=True)
    status: str = PatientStatus.INVITED
    consent_at: datetime | None = _ts()
    consent_text: str | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    stopped_at: datetime | None = _ts()
    silence_alerted_at: datetime | None = _ts()  # when the clinic was told they went quiet
    erased_at: datetime | None = _ts()  # personal data erased; the row stays for the figures


class TreatmentSession(SQLModel, table=True):
    """One mesotherapy session; its care plan is expanded when the patient consents."""

    __tablename__ = "treatment_session"
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    session_at: datetime = Field(sa_type=UTCDateTime)
    areas: str = ""
    created_at: datetime = Field(sa_type=UTCDateTime)
    expanded_at: datetime | None = _ts()


class Clinician(SQLModel, table=True):
    """A member of the care team who receives pings in their Telegram chat."""

    id: int | None = Field(default=None, primary_key=True)
    name: str
    chat_id: int | None = Field(default=None, sa_type=BigInteger, unique=True)
    active: bool = True
    is_admin: bool = False
    rota_position: int | None = None  # order on the on-call rota (None: not on it)
    awaiting_outcome_for: int | None = None  # escalation whose outcome note we asked for
    desk_draft: dict[str, Any] | None = Field(default=None, sa_type=JSON)  # an /enrol under way
    created_at: datetime = Field(sa_type=UTCDateTime)
    registered_at: datetime | None = _ts()


class Invite(SQLModel, table=True):
    """A deep-link token: only its hash is stored; single use, expiring."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    kind: str  # patient | clinician
    session_id: int | None = Field(default=None, foreign_key="treatment_session.id")
    clinician_id: int | None = Field(default=None, foreign_key="clinician.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    opened_by_chat: int | None = Field(default=None, sa_type=BigInteger)
    used_at: datetime | None = _ts()


class Status:
    """Delivery states shared by check-ins and pings."""

    PENDING = "pending"
    CLAIMED = "claimed"  # a dispatcher is sending it; reclaimed when the lease expires
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Delivery(SQLModel):
    """Columns of a row the dispatcher delivers: claimed under a lease, then recorded."""

    due_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Status.PENDING
    attempts: int = 0
    claimed_at: datetime | None = _ts()
    claimed_by: str | None = None  # the worker holding the claim (its heartbeat vouches)
    sent_at: datetime | None = _ts()
    message_id: int | None = Field(default=None, sa_type=BigInteger)
    reason: str | None = None  # why it was not sent, or how it went


UNANSWERED = "status = 'sent' AND answered_at IS NULL AND nudged_at IS NULL"


class CheckIn(Delivery, table=True):
    """A scheduled (or patient-started) check-in: the schedule is these rows."""

    __tablename__ = "checkin"
    __table_args__ = (
        UniqueConstraint("session_id", "step_id", name="uq_checkin_session_step"),
        Index("ix_checkin_due", "status", "due_at"),
        # Delivered check-ins only accumulate; the re-ask looks at the few still unanswered.
        Index(
            "ix_checkin_unanswered",
            "sent_at",
            postgresql_where=text(UNANSWERED),
            sqlite_where=text(UNANSWERED),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    session_id: int = Field(foreign_key="treatment_session.id")
    step_id: str
    kind: str = "scheduled"  # scheduled | adhoc
    day: int
    local_date: date
    draft: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    answered_at: datetime | None = _ts()  # by its buttons
    replied_at: datetime | None = _ts()  # by the patient's own words meanwhile (buttons stay)
    nudged_at: datetime | None = _ts()  # re-asked once when left unanswered


class Answer(SQLModel, table=True):
    """Anything a patient told us: a completed check-in or their own words."""

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    checkin_id: int | None = Field(default=None, foreign_key="checkin.id")
    day: int
    created_at: datetime = Field(sa_type=UTCDateTime)
    source: str  # buttons | text | photo
    text: str | None = None
    photo_file_id: str | None = None
    observations: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    level: str = "none"
    rules: list[str] = Field(default_factory=list, sa_type=JSON)
    pending_trend: str | None = None  # symptom we asked "better, same or worse?" about


class Escalation(SQLModel, table=True):
    """A message for the clinicians: a crossed threshold, or a notice about a patient."""

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    answer_id: int | None = Field(default=None, foreign_key="answer.id")
    kind: str = "clinical"  # clinical | notice
    level: str
    rules: list[str] = Field(default_factory=list, sa_type=JSON)
    body: str
    summary: str = ""  # one line for lists and morning summaries
    status: str = "open"  # open | acknowledged | resolved
    created_at: datetime = Field(sa_type=UTCDateTime)
    acked_by: int | None = Field(default=None, foreign_key="clinician.id")
    acked_at: datetime | None = _ts()
    resolved_by: int | None = Field(default=None, foreign_key="clinician.id")
    resolved_at: datetime | None = _ts()
    outcome: str | None = None
    outcome_shared_at: datetime | None = _ts()  # when the outcome note went to the patient
    unpaged_at: datetime | None = _ts()  # a step found nobody to page (cleared once paged)
    ladder_step: int = 0
    # The step its current ladder counts from (a rise in level or a night of on-call pages
    # starts one afresh; step numbers keep growing, so no ping is written twice).
    ladder_base: int = 0
    next_step_at: datetime | None = _ts(index=True)  # when an unacknowledged page moves on
    summarised_at: datetime | None = _ts()  # routine items: when a morning summary took them


class Ping(Delivery, table=True):
    """One escalation's copy for one clinician; delivered like a check-in row."""

    __table_args__ = (
        UniqueConstraint(
            "escalation_id", "clinician_id", "step", name="uq_ping_escalation_clinician_step"
        ),
        Index("ix_ping_due", "status", "due_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    escalation_id: int = Field(foreign_key="escalation.id", index=True)
    clinician_id: int = Field(foreign_key="clinician.id")
    step: int = 0  # ladder step that paged this clinician
    chat_id: int = Field(sa_type=BigInteger)


class Digest(Delivery, table=True):
    """One clinician's morning summary of routine escalations and notices."""

    __table_args__ = (
        UniqueConstraint("clinic_date", "clinician_id", "part", name="uq_digest_day_clinician"),
        Index("ix_digest_due", "status", "due_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    clinic_date: date
    part: int = 0  # a long summary is split over several messages
    clinician_id: int = Field(foreign_key="clinician.id")
    chat_id: int = Field(sa_type=BigInteger)
    escalation_ids: list[int] = Field(default_factory=list, sa_type=JSON)


class Photo(SQLModel, table=True):
    """A photo a patient sent, kept at full resolution in the photo store."""

    __table_args__ = (UniqueConstraint("patient_id", "file_unique_id", name="uq_photo_file"),)
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    answer_id: int | None = Field(default=None, foreign_key="answer.id")
    escalation_id: int | None = Field(default=None, foreign_key="escalation.id")
    file_unique_id: str = Field(max_length=128)
    path: str  # inside the photo store
    size: int
    mime: str
    day: int
    created_at: datetime = Field(sa_type=UTCDateTime)
    words: str | None = Field(default=None, sa_type=Text)  # its caption, or what was heard


class SendSlot(SQLModel, table=True):
    """Messages sent per wall-clock second by all workers: one global pace for Telegram."""

    __tablename__ = "send_slot"
    second: int = Field(primary_key=True, sa_type=BigInteger)  # unix time, whole seconds
    used: int = 0


class AuditEvent(SQLModel, table=True):
    """Who did what, when: clinicians' and admins' actions, erasures. No health details."""

    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor: str  # "clinician:3", "patient:12", "cli", "system"
    action: str  # acknowledge | resolve | view_timeline | enrol | invite_clinician | erase ...
    patient_id: int | None = Field(default=None, index=True)  # no foreign key: outlives rows
    detail: str = ""  # ids and counts only


class RateWindow(SQLModel, table=True):
    """Attempts per key per time window, shared by every worker (token guessing, say)."""

    __tablename__ = "rate_window"
    key: str = Field(primary_key=True, max_length=64)
    window: int = Field(primary_key=True, sa_type=BigInteger)  # unix time // window length
    used: int = 0


class Worker(SQLModel, table=True):
    """A running process: its heartbeat vouches for the claims it holds."""

    id: str = Field(primary_key=True, max_length=32)
    started_at: datetime = Field(sa_type=UTCDateTime)
    beat_at: datetime = Field(sa_type=UTCDateTime)
    pid: int = 0
    host: str = ""


class InboxStatus:
    """Where an incoming update stands."""

    PENDING = "pending"
    CLAIMED = "claimed"
    DONE = "done"
    PARKED = "parked"  # failed every time it was handled: kept, with its error, for the log


class InboxUpdate(SQLModel, table=True):
    """An update as Telegram sent it, stored before Telegram is told it arrived."""

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_due", "status", "due_at"),)
    id: int | None = Field(default=None, primary_key=True)
    update_id: int = Field(sa_type=BigInteger, unique=True)
    chat_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    payload: dict[str, Any] | None = Field(default=None, sa_type=JSON)  # cleared once done
    received_at: datetime = Field(sa_type=UTCDateTime)
    due_at: datetime = Field(sa_type=UTCDateTime)
    status: str = InboxStatus.PENDING
    attempts: int = 0
    claimed_at: datetime | None = _ts()
    claimed_by: str | None = None
    done_at: datetime | None = _ts()
    instructed: bool = False  # the emergency instruction went out from memory (outage)
    error: str | None = None  # the last failure's type, for the clinic's log (no contents)


class OutboxKind:
    """What an outbox row does."""

    REPLY = "reply"
    EMERGENCY = "emergency"  # the instruction to call emergency services: highest lane
    EDIT = "edit"  # replace the text and buttons of `edit_message_id`
    PHOTO = "photo"  # `media` as a picture, `text` its caption
    DOCUMENT = "document"  # `media` as a file named `filename`
    VOICE = "voice"  # `media` as a voice note (OGG/Opus)


MEDIA_KINDS = frozenset({OutboxKind.PHOTO, OutboxKind.DOCUMENT, OutboxKind.VOICE})


class OutboxMessage(Delivery, table=True):
    """Something the bot says to a person, written with the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "due_at"),)
    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_type=BigInteger, index=True)
    kind: str = OutboxKind.REPLY
    text: str = ""  # cleared once delivered (the words live in content and answers)
    keyboard: list[list[list[str]]] | None = Field(default=None, sa_type=JSON)
    edit_message_id: int | None = Field(default=None, sa_type=BigInteger)
    checkin_id: int | None = None  # a check-in screen: its message id is recorded on sending
    media: bytes | None = Field(default=None, sa_type=LargeBinary)  # cleared once delivered
    filename: str | None = Field(default=None, max_length=255)
    patient_id: int | None = None  # whose media this is, when sent to someone else
    created_at: datetime = Field(sa_type=UTCDateTime)
    current_until: datetime = Field(sa_type=UTCDateTime)  # not worth sending after this


class ConsoleKey:
    """What a console token is."""

    LINK = "link"  # a one-time login link sent by the bot (minutes)
    SESSION = "session"  # a browser's session cookie (a working day after its last use)
    INIT_DATA = "init_data"  # a Mini App's signed init data, used once


class ConsoleToken(SQLModel, table=True):
    """A console login link or session, stored hashed (the secret lives in the link or the
    cookie only)."""

    __tablename__ = "console_token"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    kind: str  # ConsoleKey
    clinician_id: int = Field(foreign_key="clinician.id", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = _ts()  # a link: when it was opened (once)


class MediaBlob(SQLModel, table=True):
    """A photo or voice note kept in the database (MEDIA_STORAGE=database, the default on
    PostgreSQL), so every worker reads what any worker received."""

    __tablename__ = "media_blob"
    path: str = Field(primary_key=True, max_length=255)  # as `Photo.path` names it
    patient_id: int = Field(index=True)  # no foreign key: erased with the patient's rows
    data: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(sa_type=UTCDateTime)
