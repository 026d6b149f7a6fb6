"""What every use case shares: its dependencies and a few time helpers."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TypeGuard
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_time, format_timedelta

from bot.core import schedule
from bot.core.clock import Clock
from bot.core.content import Content
from bot.core.delivery import Decision, Delivered, DeliveryPolicy, Retry
from bot.core.ladder import ClinicHours
from bot.core.library import Library, in_country
from bot.services.liveness import Liveness
from bot.services.ports import (
    Charts,
    LanguageGuesser,
    MediaStore,
    Messenger,
    Metrics,
    NoMetrics,
    Transcriber,
)
from bot.services.repositories import UnitsOfWork
from bot.store.models import (
    Holder,
    Patient,
    PatientStatus,
    Recipient,
    Status,
    TreatmentSession,
)

WEEKDAYS = ClinicHours(frozenset(range(5)), time(9), time(18))
WHEREABOUTS_KEPT = 200_000  # patients whose language and country are kept in memory


class Whereabouts:
    """Each patient's language and country as this process last saw them (bounded): the
    emergency instruction on receipt is sent from memory, without the database."""

    def __init__(self) -> None:
        self._by_chat: OrderedDict[int, tuple[str, str]] = OrderedDict()

    def seen(self, patient: Patient) -> None:
        if patient.chat_id is not None:
            self._by_chat[patient.chat_id] = (patient.language, patient.country)
            self._by_chat.move_to_end(patient.chat_id)
            if len(self._by_chat) > WHEREABOUTS_KEPT:
                self._by_chat.popitem(last=False)

    def forget(self, chat_id: int) -> None:
        self._by_chat.pop(chat_id, None)

    def of(self, chat_id: int) -> tuple[str, str] | None:
        """The language and country of this chat's patient, if seen since the start."""
        return self._by_chat.get(chat_id)


@dataclass(slots=True)
class Deps:
    """The composition root builds one of these; services take it and nothing global.
    Only the content changes once running (`use_library`, an admin's upload)."""

    store: UnitsOfWork
    content: Content  # in the clinic's language (what clinicians read)
    clock: Clock
    messenger: Messenger
    clinic_tz: ZoneInfo
    token_ttl: timedelta = timedelta(days=7)
    claim_batch: int = 200
    claim_lease: timedelta = timedelta(minutes=2)
    max_attempts: int = 5
    retry_base: timedelta = timedelta(seconds=30)  # check-ins' backoff after a 5xx, doubling
    clinic_hours: ClinicHours = WEEKDAYS
    ack_timeout_urgent: timedelta = timedelta(minutes=30)
    ack_timeout_emergency: timedelta = timedelta(minutes=5)
    reask_after: timedelta = timedelta(hours=6)
    emergency_hold: timedelta = timedelta(hours=12)  # check-ins wait this long for an ack
    missed_checkins_alert: int = 2
    charts: Charts | None = None
    photo_store: MediaStore | None = None  # photos and voice notes
    max_photo_bytes: int = 10 * 1024 * 1024
    transcriber: Transcriber | None = None  # None: voice notes are kept, not transcribed
    transcribes: str = "en"  # the language the transcriber hears
    max_voice_bytes: int = 20 * 1024 * 1024
    languages: LanguageGuesser | None = None  # None: every message is read as shipped
    send_concurrency: int = 16
    liveness: Liveness = field(default_factory=Liveness)  # this worker, and its heartbeat
    metrics: Metrics = field(default_factory=NoMetrics)
    reply_current_for: timedelta = timedelta(hours=24)  # an unsent reply is dropped after
    inbox_attempts: int = 5  # an update that fails this often is parked
    library: Library | None = None  # every shipped language (None: the clinic's only)
    whereabouts: Whereabouts = field(default_factory=Whereabouts)

    def use_library(self, library: Library) -> None:
        """Content applied while running: every service reads it from its next use."""
        self.library = library
        self.content = library.speaks(library.clinic)

    def clinic_time(self, moment: datetime, tz: ZoneInfo | None = None) -> str:
        """A moment as clinicians read it: in the clinic's zone (or `tz`) and language."""
        return local_text(moment, tz or self.clinic_tz, self.content.language)

    def call_time(self, patient: Patient | None, content: Content) -> str:
        """By when the clinic sees a request to be called, in the patient's time and words:
        its next opening ("on Monday at 09:00"), when the morning summary carries it."""
        now, hours, tz = self.clock.now(), self.clinic_hours, self.clinic_tz
        theirs = zone(patient) if patient is not None else tz
        opening = hours.next_opening(now, tz)
        return content.messages.format(
            "call_next", day=format_datetime(opening, "EEEE", tzinfo=theirs,
                                             locale=content.language),
            time=format_time(opening, "HH:mm", tzinfo=theirs, locale=content.language))

    def on_call_only(self, content: Content) -> bool:
        """Whether an urgent page reaches the on-call clinician only now (clinic closed)."""
        return (content.clinic.after_hours.urgent_on_call_only
                and not self.clinic_hours.is_open(self.clock.now(), self.clinic_tz))

    def ago(self, moment: datetime) -> str:
        """How long ago, as clinicians read it ("12 minutes ago", "il y a 2 heures")."""
        # Never "in 0 seconds": a moment just now (or a worker's clock a little ahead) is past.
        since = min(moment - self.clock.now(), timedelta(seconds=-1))
        return format_timedelta(since, add_direction=True, locale=self.content.language)

    @property
    def lexicons(self) -> list[Content]:
        """The contents the triage engine reads with (those with a lexicon)."""
        contents = self.library.contents.values() if self.library is not None else [self.content]
        return [c for c in contents if c.lexicon is not None]

    @property
    def spoken(self) -> frozenset[str]:
        """The languages patients may read."""
        return self.library.spoken if self.library is not None else frozenset(
            {self.content.language})

    def speaks(self, language: str | None, country: str = "") -> Content:
        """The wording for a patient's language (the clinic's when it is not shipped), with
        the emergency number of their country (ISO 3166) when the clinic lists it."""
        if self.library is not None:
            return self.library.speaks(language, country)
        return in_country(self.content, country)

    def speaks_to(self, patient: Patient | Recipient | None, fallback: str = "") -> Content:
        """The wording for this patient: their language and country (else `fallback`'s)."""
        if patient is None:
            return self.speaks(fallback)
        return self.speaks(patient.language or fallback, patient.country)

    def holder(self, now: datetime) -> Holder:
        """Who claims rows now (this worker), and which other workers count as dead."""
        return self.liveness.holder(now)

    @property
    def policy(self) -> DeliveryPolicy:
        """What each Telegram outcome means (with this clinic's retry settings)."""
        return DeliveryPolicy(self.retry_base, self.max_attempts)


def hash_token(token: str) -> str:
    """Tokens carry >=128 random bits, so a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()


def followed(patient: Patient | None) -> TypeGuard[Patient]:
    """Whether the chat's patient is in the follow-up now (not stopped, blocked or erased):
    only then are their words kept, triaged into the record and sent on to clinicians."""
    return (patient is not None and patient.id is not None
            and patient.status == PatientStatus.ACTIVE)


def zone(patient: Patient | Recipient) -> ZoneInfo:
    """The patient's time zone."""
    return ZoneInfo(patient.timezone)


def current_session(sessions: list[TreatmentSession], now: datetime) -> TreatmentSession | None:
    """The latest session that has taken place (the first one if all are ahead)."""
    past = [s for s in sessions if s.session_at <= now]
    if past:
        return past[-1]
    return sessions[0] if sessions else None


def day_of(patient: Patient, sessions: list[TreatmentSession], now: datetime) -> int:
    """Days since the patient's current session (0 on the session day)."""
    session = current_session(sessions, now)
    if session is None:
        return 0
    return max(0, schedule.day_number(session.session_at, zone(patient), now))


def local_text(moment: datetime, tz: ZoneInfo, language: str = "en") -> str:
    """'Tue 17 Nov 10:00', 'mar. 17 nov. 10:00' (CLDR's names, through Babel)."""
    return format_datetime(moment, "EEE dd MMM HH:mm", tzinfo=tz, locale=language)


def queued_outcome(decision: Decision, began: datetime, attempts: int) -> dict[str, object] | None:
    """The row values that record a delivered or retried try (None for a failure, which each
    sender records its own way); `began` is when the try began, `attempts` counts it."""
    if isinstance(decision, Delivered):
        return {"status": Status.SENT, "sent_at": began, "reason": decision.note}
    if isinstance(decision, Retry):
        outcome: dict[str, object] = {
            "status": Status.PENDING, "due_at": decision.at, "reason": decision.reason
        }
        return outcome if decision.counted else outcome | {"attempts": attempts - 1}
    return None
