"""Plain data types shared by the sandbox: uploads, recorded requests, faults, bot messages."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "ApiError",
    "BotMessage",
    "Fault",
    "FaultKind",
    "RecordedRequest",
    "UploadedFile",
]

JSONDict = dict[str, Any]


@dataclass(frozen=True)
class UploadedFile:
    """A file the bot uploaded with ``multipart/form-data``."""

    filename: str
    data: bytes
    mimetype: str


@dataclass
class RecordedRequest:
    """One request the bot made, as the sandbox saw and answered it.

    ``status`` is the HTTP status the sandbox produced, or None when an injected timeout meant
    the server never answered. ``timed_out`` is True whenever PTB got :class:`TimedOut` instead
    of the response (including "timed out after delivery", where status is 200).
    """

    method: str
    params: JSONDict
    time: datetime
    files: dict[str, UploadedFile] = field(default_factory=dict)
    status: int | None = None
    response: JSONDict | None = None
    timed_out: bool = False
    fault: Fault | None = None

    @property
    def ok(self) -> bool:
        """Whether the bot got a successful answer."""
        return self.status == 200 and not self.timed_out


class FaultKind(enum.Enum):
    """What an injected fault does to the matching request."""

    RETRY_AFTER = "retry_after"
    BLOCKED = "blocked"
    CHAT_NOT_FOUND = "chat_not_found"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    TIMEOUT_AFTER_DELIVERY = "timeout_after_delivery"


@dataclass(frozen=True)
class Fault:
    """A failure to inject with :meth:`SandboxTelegram.inject`; build one with the classmethods."""

    kind: FaultKind
    seconds: int = 0

    @classmethod
    def retry_after(cls, seconds: int) -> Fault:
        """429 Too Many Requests with ``parameters.retry_after`` (PTB raises RetryAfter)."""
        if seconds < 1:
            # PTB only raises RetryAfter for a truthy retry_after; Telegram never sends 0.
            raise ValueError("retry_after must be at least 1 second")
        return cls(FaultKind.RETRY_AFTER, seconds)

    @classmethod
    def blocked(cls) -> Fault:
        """403 "Forbidden: bot was blocked by the user" (PTB raises Forbidden)."""
        return cls(FaultKind.BLOCKED)

    @classmethod
    def chat_not_found(cls) -> Fault:
        """400 "Bad Request: chat not found" (PTB raises BadRequest)."""
        return cls(FaultKind.CHAT_NOT_FOUND)

    @classmethod
    def server_error(cls) -> Fault:
        """502 Bad Gateway (PTB raises NetworkError)."""
        return cls(FaultKind.SERVER_ERROR)

    @classmethod
    def timeout(cls) -> Fault:
        """The request never reaches Telegram; PTB raises TimedOut."""
        return cls(FaultKind.TIMEOUT)

    @classmethod
    def timeout_after_delivery(cls) -> Fault:
        """Telegram performs the request but the answer is lost; PTB raises TimedOut."""
        return cls(FaultKind.TIMEOUT_AFTER_DELIVERY)


class ApiError(Exception):
    """An error answer of the Bot API: ``{"ok": false, "error_code": ..., ...}``."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> JSONDict:
        """The JSON body Telegram sends for this error."""
        body: JSONDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass(frozen=True)
class BotMessage:
    """A snapshot of a message the bot sent, in its current state (after edits).

    ``text`` is the text or caption as the user sees it (HTML already rendered to plain text);
    ``buttons`` holds the inline keyboard as ``(label, callback_data)`` pairs, with None as
    callback data for URL and other non-callback buttons. ``raw`` is the Bot API Message object.
    """

    chat_id: int
    message_id: int
    text: str | None
    buttons: list[list[tuple[str, str | None]]]
    photo: bytes | None
    document: bytes | None
    file_name: str | None
    date: datetime
    edits: int
    parse_mode: str | None = None
    reply_keyboard: list[list[str]] | None = None
    raw: JSONDict = field(default_factory=dict, repr=False)

    @property
    def labels(self) -> list[str]:
        """All inline button labels, row by row."""
        return [label for row in self.buttons for label, _ in row]

    @property
    def callback_data(self) -> list[str]:
        """All callback data strings of the inline keyboard, row by row."""
        return [data for row in self.buttons for _, data in row if data is not None]
