"""What services need from the outside world, in plain types (no Telegram in signatures).

Delivery errors, as the messenger adapter reports them:

    DeliveryError
    ├── RecipientBlocked   the person blocked the bot (403): stop writing to them
    ├── RecipientGone      the chat does not exist (400 chat not found): never retry
    ├── Rejected           Telegram refused the request itself (other 400): never retry
    ├── RateLimited        429: try again after `retry_after` seconds
    ├── Transient          network trouble or a 5xx: retry with backoff
    └── MaybeDelivered     timed out: the message may or may not have arrived
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.core.callbacks import Keyboard
from bot.core.delivery import Lane, Outcome
from bot.core.library import Library


class DeliveryError(Exception):
    """A message could not be delivered."""


class RecipientBlocked(DeliveryError):
    """The person blocked the bot."""


class RecipientGone(DeliveryError):
    """The chat does not exist."""


class Rejected(DeliveryError):
    """Telegram refused the request as malformed; retrying cannot help."""


class FileTooBig(Rejected):
    """A download bigger than its limit, whatever size the Bot API claimed."""


class RateLimited(DeliveryError):
    """Too many requests; Telegram says when to come back."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited, retry after {retry_after:g} s")
        self.retry_after = retry_after


class Transient(DeliveryError):
    """Network trouble or a server error; worth retrying later."""


class MaybeDelivered(DeliveryError):
    """The request timed out after it was sent; it may have been delivered."""


def outcome_of(exc: DeliveryError) -> Outcome:
    """The delivery policy's name for a messenger error."""
    if isinstance(exc, RateLimited):
        return Outcome.RATE_LIMITED
    if isinstance(exc, MaybeDelivered):
        return Outcome.MAYBE_DELIVERED
    if isinstance(exc, RecipientBlocked):
        return Outcome.BLOCKED
    if isinstance(exc, RecipientGone):
        return Outcome.GONE
    if isinstance(exc, Rejected):
        return Outcome.REJECTED
    return Outcome.TRANSIENT


class Messenger(Protocol):
    """Sends and edits messages in a chat."""

    async def send(
        self, chat_id: int, text: str, keyboard: Keyboard | None = None, *,
        lane: Lane = Lane.NORMAL,
    ) -> int:
        """Send a text message; returns its message id. It waits for Telegram's pace in
        its lane: emergencies before replies, replies before routine check-ins."""
        ...

    async def edit(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard | None = None
    ) -> None:
        """Replace a message's text and buttons (no buttons when keyboard is None)."""
        ...

    async def send_photo(self, chat_id: int, photo: bytes, caption: str | None = None) -> int:
        """Send a picture (PNG or JPEG bytes); returns its message id."""
        ...

    async def send_document(
        self, chat_id: int, data: bytes, filename: str, caption: str | None = None
    ) -> int:
        """Send a file; returns its message id."""
        ...

    async def send_voice(self, chat_id: int, data: bytes, caption: str | None = None) -> int:
        """Send a voice note (OGG/Opus bytes); returns its message id."""
        ...

    async def answer_press(
        self, press_id: str, text: str | None = None, *, alert: bool = False
    ) -> None:
        """Answer a button press: a toast (or a dialog with `alert`), or just stop the
        spinner when there is no text."""
        ...

    async def fetch_file(self, file_id: str, *, limit: int) -> bytes:
        """Download a file a person sent (photos, voice notes) through the Bot API, the
        transfer stopped past `limit` bytes (`FileTooBig`); a path the Bot API gives that
        leaves its file store is refused (`Rejected`)."""
        ...

    async def set_menu(self, chat_id: int, commands: Sequence[tuple[str, str]] | None,
                       web_app: tuple[str, str] | None = None) -> None:
        """Show this chat its own command menu (command, description), and with `web_app`
        (label, HTTPS URL) a menu button opening it as a Mini App; None gives the chat back
        the default menu and button."""
        ...

    def recovered(self) -> bool:
        """True once after Telegram accepts a message again following network failures
        or 5xx (every backoff is then cut short)."""
        ...

    def failing(self) -> bool:
        """Whether the last messages sent met network failures or 5xx."""
        ...


@dataclass(frozen=True, slots=True)
class SymptomSeries:
    """One symptom's severity by day, with its normal window, for a chart."""

    label: str
    # (day since the session, grade 0..4, or None: reported without a grade)
    points: tuple[tuple[int, int | None], ...]
    window: tuple[int, int] | None  # the normal course, days


@dataclass(frozen=True, slots=True)
class ChartMark:
    """An event drawn across every row of a chart: a red flag or an escalation."""

    day: int
    level: str  # "emergency", "urgent", "routine"
    label: str


@dataclass(frozen=True, slots=True)
class PhotoTile:
    """One photo for the side-by-side strip."""

    day: int
    data: bytes


class Charts(Protocol):
    """Draws the timeline's pictures."""

    def severity(
        self, title: str, series: Sequence[SymptomSeries], span: int,
        marks: Sequence[ChartMark] = (),
    ) -> bytes:
        """Severity by day, one row per symptom, normal window shaded, red flags and
        escalations marked, days 0 to `span` (PNG; the data ride along as its "aftercare"
        text chunk, JSON)."""
        ...

    def photos(self, title: str, tiles: Sequence[PhotoTile]) -> bytes:
        """Photos side by side by day (PNG)."""
        ...


@dataclass(frozen=True, slots=True)
class Reply:
    """A message to send back to the person who acted."""

    text: str
    keyboard: Keyboard | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """A ping written already claimed, in the transaction that raised it: send it at once.

    If the process dies first, the claim's lease runs out and the dispatcher sends it.
    """

    id: int
    claimed_at: datetime
    chat_id: int
    clinician_id: int
    attempts: int
    escalation_id: int
    screen: Reply


@dataclass(frozen=True, slots=True)
class PressResult:
    """What answers a button press: a toast, an edit of the pressed message, new messages."""

    toast: str | None = None
    alert: bool = False  # show the toast as a dialog the clinician must dismiss
    edit: Reply | None = None
    replies: tuple[Reply, ...] = ()
    pages: tuple[Page, ...] = ()  # pings to send once the patient has their reply
    dispatch: bool = False  # run the dispatcher now (e.g. today's check-in after consent)
    photo_id: int | None = None  # a kept voice note to forward once the pings are out
    emergency: bool = False  # the first reply tells the patient to call emergency services


@dataclass(frozen=True, slots=True)
class MessageResult:
    """What answers a message: replies, and pings to deliver after them."""

    replies: tuple[Reply, ...] = ()
    escalation_id: int | None = None
    pages: tuple[Page, ...] = ()  # pings to send once the patient has their reply
    extra: dict[str, object] = field(default_factory=dict)
    emergency: bool = False  # the first reply tells the patient to call emergency services
    photo_id: int | None = None  # a stored photo to forward once the pings are out


class LanguageGuesser(Protocol):
    """Which language a message is written in, on this machine."""

    def guess(self, text: str) -> tuple[str, float] | None:
        """The most likely language (ISO 639-1) and the guess's score in [0, 1], or None."""
        ...


class Transcriber(Protocol):
    """Speech to text, on this machine."""

    async def transcribe(self, audio: bytes) -> str | None:
        """What `audio` (as Telegram sends it: OGG/Opus, or another common format) says;
        None when transcription is turned off. Raises `Unheard` when it cannot tell."""
        ...


class Unheard(Exception):
    """A voice note that could not be decoded or transcribed (its reason, for the log)."""


class OfflineMessenger:
    """For commands that run without a bot (enrolment from the CLI): sending is refused."""

    async def send(
        self, chat_id: int, text: str, keyboard: Keyboard | None = None, *,
        lane: Lane = Lane.NORMAL,
    ) -> int:
        raise Rejected("this command runs without a bot connection and cannot send messages")

    async def edit(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard | None = None
    ) -> None:
        raise Rejected("this command runs without a bot connection and cannot edit messages")

    async def send_photo(self, chat_id: int, photo: bytes, caption: str | None = None) -> int:
        raise Rejected("this command runs without a bot connection and cannot send photos")

    async def send_document(
        self, chat_id: int, data: bytes, filename: str, caption: str | None = None
    ) -> int:
        raise Rejected("this command runs without a bot connection and cannot send files")

    async def send_voice(self, chat_id: int, data: bytes, caption: str | None = None) -> int:
        raise Rejected("this command runs without a bot connection and cannot send voice")

    async def answer_press(
        self, press_id: str, text: str | None = None, *, alert: bool = False
    ) -> None:
        raise Rejected("this command runs without a bot connection and cannot answer presses")

    async def fetch_file(self, file_id: str, *, limit: int) -> bytes:
        raise Rejected("this command runs without a bot connection and cannot fetch files")

    async def set_menu(self, chat_id: int, commands: Sequence[tuple[str, str]] | None,
                       web_app: tuple[str, str] | None = None) -> None:
        raise Rejected("this command runs without a bot connection and cannot set menus")

    def recovered(self) -> bool:
        return False

    def failing(self) -> bool:
        return False


class ContentFiles(Protocol):
    """The content folder as files an admin can read and replace (paths like
    "fr/messages.yaml", relative to the folder)."""

    def names(self) -> list[str]: ...

    def read(self, name: str) -> str: ...

    def check(self, name: str, text: str) -> list[str]:
        """What would be wrong with the content if `name` said `text` (file:line: field:
        message), checked on a copy; [] when it would load."""
        ...

    def apply(self, name: str, text: str, at: datetime) -> Library:
        """Replace `name` (the old copy kept in the history) and load the content."""
        ...

    def history(self, name: str) -> list[str]:
        """Earlier copies of `name`, newest first."""
        ...

    def current(self) -> Library:
        """The content as the files say now (read again only when a file changed)."""
        ...


class Metrics(Protocol):
    """Counters and timings for monitoring (Prometheus in production)."""

    def sent(self, lane: str, outcome: str) -> None:
        """A Bot API send ended: its lane and outcome ("ok", or the failure's kind)."""
        ...

    def rate_limited(self, retry_after: float) -> None:
        """Telegram answered 429 and asked for a pause of `retry_after` seconds."""
        ...

    def triaged(self, seconds: float) -> None: ...

    def transcribed(self, seconds: float) -> None: ...

    def database_error(self) -> None:
        """The database could not be reached or written (a heartbeat failed)."""
        ...


class NoMetrics:
    """Metrics nobody reads (the CLI, tests)."""

    def sent(self, lane: str, outcome: str) -> None:
        return None

    def rate_limited(self, retry_after: float) -> None:
        return None

    def triaged(self, seconds: float) -> None:
        return None

    def transcribed(self, seconds: float) -> None:
        return None

    def database_error(self) -> None:
        return None


class MediaStore(Protocol):
    """Where patients' photos and voice notes are kept (files, or the database)."""

    async def save(self, patient_id: int, name: str, data: bytes, extension: str) -> str:
        """Keep `data`; its path, relative to the store."""
        ...

    async def read(self, relative: str) -> bytes:
        """The bytes kept at `relative` (OSError when they are gone)."""
        ...

    async def delete_patient(self, patient_id: int) -> None: ...
