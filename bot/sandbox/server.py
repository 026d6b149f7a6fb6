"""The fake Telegram server: chats, messages, files, the update queue, faults and the record.

One :class:`SandboxTelegram` is the whole "Telegram" a test talks to. The bot reaches it through
:class:`~bot.sandbox.request.SandboxRequest` objects (PTB's transport layer), the test reaches it
through :class:`~bot.sandbox.users.SandboxUser` (acting as people) and the inspection helpers.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import struct
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from telegram.error import TimedOut
from telegram.request import RequestData

from .formatting import EntityParseError
from .models import (
    ApiError,
    BotMessage,
    Fault,
    FaultKind,
    JSONDict,
    RecordedRequest,
    UploadedFile,
)
from .request import SandboxRequest
from .schema import ApiSchema, render_text
from .users import SandboxUser

__all__ = ["SandboxTelegram"]

Handler = Callable[[JSONDict], Awaitable[Any]]

_MAX_POLL_WAIT = 1.0  # seconds; long polling is capped so a forgotten poller cannot stall tests
_DEFAULT_EXCLUDED_UPDATES = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
_CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip
_DELETE_WINDOW = timedelta(hours=48)
_CALLBACK_ANSWER_WINDOW = timedelta(seconds=15)
_DOWNLOAD_LIMIT = 20 * 1024 * 1024  # getFile refuses bigger files
_UPLOAD_LIMIT = 50 * 1024 * 1024
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_CHAT_NOT_FOUND = "Bad Request: chat not found"
_BLOCKED = "Forbidden: bot was blocked by the user"


@dataclass
class _Chat:
    id: int
    type: str
    title: str | None = None
    user: JSONDict | None = None  # the other party of a private chat
    blocked: bool = False
    left: bool = False  # the bot left this group
    last_message_id: int = 0

    def to_json(self) -> JSONDict:
        if self.user is None:
            return {"id": self.id, "type": self.type, "title": self.title}
        chat: JSONDict = {"id": self.id, "type": self.type, "first_name": self.user["first_name"]}
        for key in ("last_name", "username"):
            if key in self.user:
                chat[key] = self.user[key]
        return chat


@dataclass
class _Message:
    chat_id: int
    message_id: int
    from_bot: bool
    json: JSONDict  # the Bot API Message object in its current state
    sent_at: datetime
    photo: bytes | None = None
    document: bytes | None = None
    file_name: str | None = None
    parse_mode: str | None = None
    reply_keyboard: list[list[str]] | None = None
    edits: int = 0
    deleted: bool = False

    def snapshot(self) -> BotMessage:
        data = self.json
        markup = data.get("reply_markup") or {}
        buttons = [
            [(button["text"], button.get("callback_data")) for button in row]
            for row in markup.get("inline_keyboard", [])
        ]
        return BotMessage(
            chat_id=self.chat_id,
            message_id=self.message_id,
            text=data.get("text", data.get("caption")),
            buttons=buttons,
            photo=self.photo,
            document=self.document,
            file_name=self.file_name,
            date=self.sent_at,
            edits=self.edits,
            parse_mode=self.parse_mode,
            reply_keyboard=copy.deepcopy(self.reply_keyboard),
            raw=copy.deepcopy(data),
        )


@dataclass
class _File:
    file_id: str
    file_unique_id: str
    kind: str  # "photo", "document", "voice", "sticker", ...
    data: bytes
    file_path: str


@dataclass
class _ArmedFault:
    method: str
    fault: Fault
    chat_id: int | None
    remaining: int


@dataclass
class _CallbackQuery:
    pressed_at: datetime
    answered: bool = False


@dataclass
class _Poller:
    future: asyncio.Future[bool]  # result True: another getUpdates took over


@dataclass
class _Outcome:
    status: int
    body: JSONDict


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of PNG or JPEG bytes, if recognisable."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if not data.startswith(b"\xff\xd8"):
        return None
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in (0xC0, 0xC1, 0xC2):  # start of frame: height then width
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + int(length)
    return None


def _to_chat_id(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None  # @usernames: the sandbox has no public chats to resolve
    return None


def _attach_refs(value: object) -> Iterator[str]:
    """Names of multipart parts referenced anywhere in a JSON value as ``attach://<name>``."""
    if isinstance(value, str):
        if value.startswith("attach://"):
            yield value.removeprefix("attach://")
    elif isinstance(value, dict):
        for item in value.values():
            yield from _attach_refs(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _attach_refs(item)


def _update_kind(update: JSONDict) -> str:
    return next(key for key in update if key != "update_id")


class SandboxTelegram:
    """An in-process Telegram Bot API for tests.

    ``clock`` supplies "now" as an aware UTC datetime for message dates and time windows.
    """

    def __init__(
        self,
        clock: Callable[[], datetime] | None = None,
        bot_username: str = "aftercare_sandbox_bot",
        token: str = "123456:SANDBOX",
    ) -> None:
        bot_id, sep, secret = token.partition(":")
        if not (bot_id.isdigit() and sep and secret):
            raise ValueError(f"token must look like '<bot id>:<secret>', got {token!r}")
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.token = token
        self.bot_username = bot_username
        self.bot_id = int(bot_id)
        self.schema = ApiSchema.load()
        self.auto_queue = True
        self.requests: list[RecordedRequest] = []
        self.violations: list[str] = []
        self.callback_answers: list[JSONDict] = []
        self.faults: list[_ArmedFault] = []

        self._chats: dict[int, _Chat] = {}
        self._messages: dict[tuple[int, int], _Message] = {}
        self._files: dict[str, _File] = {}
        self._files_by_path: dict[str, _File] = {}
        self._updates: list[JSONDict] = []
        self._next_update_id = 1
        self._pollers: list[_Poller] = []
        self._callbacks: dict[str, _CallbackQuery] = {}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._menu_buttons: dict[int, JSONDict] = {}
        self._webhook_url = ""
        self._allowed_updates: list[str] | None = None
        self._user_ids = itertools.count(700_000_001)
        self._group_ids = itertools.count(-4_000_000_001, -1)
        self._file_numbers = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self.file_lies: dict[str, JSONDict] = {}
        self._handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendVoice": self._send_voice,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageCaption": self._edit_message_caption,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "getFile": self._get_file,
            "close": self._true,
            "logOut": self._true,
            "getChat": self._get_chat,
            "leaveChat": self._leave_chat,
        }

    # -- wiring ------------------------------------------------------------------------------

    def request(self) -> SandboxRequest:
        """A new PTB transport bound to this server (use one for calls, one for getUpdates)."""
        return SandboxRequest(self)

    @property
    def bot_user(self) -> JSONDict:
        """The bot as a Bot API User object (what getMe returns)."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Aftercare Sandbox",
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _bot_sender(self) -> JSONDict:
        user = self.bot_user
        return {key: user[key] for key in ("id", "is_bot", "first_name", "username")}

    def now(self) -> datetime:
        """The sandbox clock's current time (aware)."""
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("SandboxTelegram clock must return an aware datetime")
        return now

    def _timestamp(self) -> int:
        return int(self.now().timestamp())

    # -- people and chats --------------------------------------------------------------------

    def user(
        self,
        first_name: str = "Pat",
        *,
        user_id: int | None = None,
        username: str | None = None,
        is_bot: bool = False,
        language_code: str = "en",
    ) -> SandboxUser:
        """Create a Telegram user with a private chat to the bot (chat id == user id)."""
        uid = next(self._user_ids) if user_id is None else user_id
        if uid in self._chats:
            raise ValueError(f"chat {uid} already exists in the sandbox")
        user: JSONDict = {"id": uid, "is_bot": is_bot, "first_name": first_name}
        if username is not None:
            user["username"] = username
        user["language_code"] = language_code  # what their Telegram app is set to
        self._chats[uid] = _Chat(uid, "private", user=user)
        return SandboxUser(self, user)

    def users(self) -> list[SandboxUser]:
        """Every person created in this sandbox, in creation order."""
        return [
            SandboxUser(self, chat.user)
            for chat in self._chats.values()
            if chat.type == "private" and chat.user is not None
        ]

    def group(self, title: str = "Sandbox group", *, chat_id: int | None = None) -> int:
        """Create a basic group chat the bot is in; returns its (negative) chat id."""
        gid = next(self._group_ids) if chat_id is None else chat_id
        if gid >= 0:
            raise ValueError("group chat ids are negative")
        if gid in self._chats:
            raise ValueError(f"chat {gid} already exists in the sandbox")
        self._chats[gid] = _Chat(gid, "group", title=title)
        return gid

    def chat_json(self, chat_id: int) -> JSONDict:
        """The Bot API Chat object for a known chat."""
        return self._chats[chat_id].to_json()

    def is_blocked(self, user_id: int) -> bool:
        """Whether the user has blocked the bot."""
        return self._chats[user_id].blocked

    # -- inspection --------------------------------------------------------------------------

    def sent(self, chat_id: int | None = None) -> list[BotMessage]:
        """Bot messages in send order, as they are now (edited, deleted ones left out)."""
        return [
            message.snapshot()
            for message in self._messages.values()
            if message.from_bot
            and not message.deleted
            and (chat_id is None or message.chat_id == chat_id)
        ]

    def last(self, chat_id: int | None = None) -> BotMessage:
        """The newest visible bot message (in ``chat_id`` if given)."""
        sent = self.sent(chat_id)
        if not sent:
            where = "anywhere" if chat_id is None else f"in chat {chat_id}"
            raise AssertionError(f"the bot has sent no (undeleted) message {where}")
        return sent[-1]

    def calls(self, method: str) -> list[RecordedRequest]:
        """Recorded requests for one Bot API method."""
        return [r for r in self.requests if r.method.lower() == method.lower()]

    def pending_updates(self) -> list[JSONDict]:
        """Queued updates the bot has not confirmed yet (copies)."""
        return copy.deepcopy(self._updates)

    @property
    def next_update_id(self) -> int:
        """The update_id the next user action will get."""
        return self._next_update_id

    def file_bytes(self, file_id: str) -> bytes:
        """The content behind a file id (sent by a user or uploaded by the bot)."""
        return self._files[file_id].data

    def message_json(self, chat_id: int, message_id: int) -> JSONDict:
        """A stored message (bot's or user's) as a Bot API Message object (a copy)."""
        message = self._messages.get((chat_id, message_id))
        if message is None or message.deleted:
            raise AssertionError(f"no message {message_id} in chat {chat_id}")
        return copy.deepcopy(message.json)

    # -- faults ------------------------------------------------------------------------------

    def inject(
        self, method: str, fault: Fault, *, chat_id: int | None = None, times: int = 1
    ) -> None:
        """Make the next ``times`` calls of ``method`` (``"*"``: any) fail with ``fault``.

        With ``chat_id`` only calls addressed to that chat match. Requests that break the
        schema are answered with their 400 first and do not use up the fault.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        self.faults.append(_ArmedFault(method, fault, chat_id, times))

    def _take_fault(self, method: str, params: JSONDict) -> Fault | None:
        target = _to_chat_id(params.get("chat_id"))
        for armed in self.faults:
            if armed.method != "*" and armed.method.lower() != method.lower():
                continue
            if armed.chat_id is not None and armed.chat_id != target:
                continue
            armed.remaining -= 1
            if armed.remaining == 0:
                self.faults.remove(armed)
            return armed.fault
        return None

    # -- updates -----------------------------------------------------------------------------

    def push_update(self, kind: str, payload: JSONDict) -> JSONDict:
        """Wrap ``payload`` in an Update, queue it unless ``auto_queue`` is off, return it."""
        update: JSONDict = {"update_id": self._next_update_id, kind: payload}
        self._next_update_id += 1
        if self.auto_queue:
            self._updates.append(copy.deepcopy(update))
            self._wake_pollers(conflict=False)
        return update

    def _wake_pollers(self, *, conflict: bool) -> None:
        for poller in self._pollers:
            future = poller.future
            if future.done() or future.get_loop().is_closed():
                continue
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is future.get_loop():
                future.set_result(conflict)
            else:
                # A user action from another thread: hand the wake-up to the poller's loop.
                future.get_loop().call_soon_threadsafe(_settle, future, conflict)

    # -- state used by SandboxUser -----------------------------------------------------------

    def _store_user_message(self, chat_id: int, sender: JSONDict, body: JSONDict) -> JSONDict:
        """Store a message from a user and return its Bot API JSON (a copy)."""
        message = self._new_message(self._known_chat(chat_id), body, sender=sender)
        return copy.deepcopy(message.json)

    def _known_chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise AssertionError(f"the sandbox has no chat {chat_id}")
        return chat

    def _register_file(self, kind: str, data: bytes, extension: str) -> _File:
        number = next(self._file_numbers)
        folder = {"photo": "photos", "document": "documents", "voice": "voice"}.get(
            kind, f"{kind}s"
        )
        stored = _File(
            file_id=f"SBX{kind.upper()}{number:06d}",
            file_unique_id=f"u{number:06d}",
            kind=kind,
            data=data,
            file_path=f"{folder}/file_{number}.{extension}",
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _photo_sizes(self, data: bytes, width: int, height: int) -> list[JSONDict]:
        """PhotoSize list like Telegram's: a thumbnail first, the full size last.

        The sandbox cannot resize, so every size downloads the original bytes.
        """
        scale = min(1.0, 90 / max(width, height, 1))
        dims = [(max(1, round(width * scale)), max(1, round(height * scale))), (width, height)]
        sizes = []
        for w, h in dims:
            stored = self._register_file("photo", data, "jpg")
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": w,
                    "height": h,
                    "file_size": len(data),
                }
            )
        return sizes

    def _file_json(self, stored: _File, **extra: Any) -> JSONDict:
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            **extra,
            "file_size": len(stored.data),
        }

    def _find_message(self, chat_id: int, message_id: int) -> _Message | None:
        message = self._messages.get((chat_id, message_id))
        return None if message is None or message.deleted else message

    def _register_callback(self) -> str:
        query_id = str(next(self._callback_ids))
        self._callbacks[query_id] = _CallbackQuery(self.now())
        return query_id

    def _set_blocked(self, user_id: int, blocked: bool) -> None:
        self._chats[user_id].blocked = blocked

    # -- transport entry point ---------------------------------------------------------------

    async def handle(
        self, url: str, http_method: str, request_data: RequestData | None
    ) -> tuple[int, bytes]:
        """Answer one HTTP request from PTB: ``(status, body)``, or raise TimedOut."""
        path = unquote(urlsplit(url).path)
        if http_method.upper() == "GET":
            return self._download(path)
        prefix, _, method = path.rpartition("/")
        params: JSONDict = dict(request_data.parameters) if request_data else {}
        files = self._uploads(request_data)
        record = RecordedRequest(method, copy.deepcopy(params), self.now(), files)
        self.requests.append(record)

        # Parts referenced as attach://<name> belong to a nested object (InputMedia, thumbnail);
        # the others are top-level InputFile parameters and are validated as such.
        attached = set(_attach_refs(params))
        top_level = {name: upload for name, upload in files.items() if name not in attached}
        dangling = [f"attach://{name} names no uploaded file" for name in attached - set(files)]
        try:
            outcome = await self._answer(prefix, method, {**params, **top_level}, record, dangling)
        except Exception:
            # A sandbox bug; PTB will wrap it in NetworkError, the record shows where it came from.
            record.status = 500
            raise
        if record.fault is not None and record.fault.kind is FaultKind.TIMEOUT:
            raise TimedOut(f"sandbox: injected timeout for {method}")  # no answer to record
        record.status = outcome.status
        record.response = outcome.body
        if record.timed_out:
            raise TimedOut(f"sandbox: injected timeout for {method}")
        return outcome.status, json.dumps(outcome.body).encode("utf-8")

    async def _answer(
        self,
        prefix: str,
        method: str,
        params: JSONDict,
        record: RecordedRequest,
        extra_problems: list[str],
    ) -> _Outcome:
        if not prefix.endswith(self.token):
            return self._error(ApiError(401, "Unauthorized"))
        problems = self.schema.validate(method, params) + extra_problems
        canonical = self.schema.canonical_method(method)
        if canonical is None:
            self.violations.append(f"{method}: unknown method")
            return self._error(ApiError(404, "Not Found"))
        record.method = canonical
        if problems:
            self.violations.extend(f"{canonical}: {problem}" for problem in problems)
            return self._error(ApiError(400, f"Bad Request: {'; '.join(problems)}"))

        fault = self._take_fault(canonical, params)
        record.fault = fault
        if fault is not None and fault.kind is FaultKind.TIMEOUT:
            record.timed_out = True
            return _Outcome(0, {})  # never sent: handle() raises TimedOut
        if fault is not None and fault.kind is not FaultKind.TIMEOUT_AFTER_DELIVERY:
            return self._error(self._fault_error(fault))

        handler = self._handlers.get(canonical)
        if handler is None:
            outcome = self._error(
                ApiError(400, f"Bad Request: sandbox: method not supported ({canonical})")
            )
        else:
            try:
                outcome = _Outcome(200, {"ok": True, "result": await handler(params)})
            except ApiError as exc:
                outcome = self._error(exc)
        record.timed_out = fault is not None  # only TIMEOUT_AFTER_DELIVERY gets here
        return outcome

    @staticmethod
    def _error(error: ApiError) -> _Outcome:
        return _Outcome(error.code, error.payload())

    @staticmethod
    def _fault_error(fault: Fault) -> ApiError:
        if fault.kind is FaultKind.RETRY_AFTER:
            return ApiError(
                429,
                f"Too Many Requests: retry after {fault.seconds}",
                retry_after=fault.seconds,
            )
        if fault.kind is FaultKind.BLOCKED:
            return ApiError(403, _BLOCKED)
        if fault.kind is FaultKind.CHAT_NOT_FOUND:
            return ApiError(400, _CHAT_NOT_FOUND)
        return ApiError(502, "Bad Gateway")

    @staticmethod
    def _uploads(request_data: RequestData | None) -> dict[str, UploadedFile]:
        if request_data is None or not request_data.contains_files:
            return {}
        uploads = {}
        for name, (filename, content, mimetype) in request_data.multipart_data.items():
            data = content if isinstance(content, bytes) else content.read()
            uploads[name] = UploadedFile(filename, data, mimetype)
        return uploads

    def _download(self, path: str) -> tuple[int, bytes]:
        marker = f"{self.token}/"
        _, found, file_path = path.partition(marker)
        stored = self._files_by_path.get(file_path) if found else None
        record = RecordedRequest("download", {"file_path": file_path}, self.now())
        self.requests.append(record)
        if stored is None:
            record.status = 404
            record.response = ApiError(404, "Not Found").payload()
            return 404, json.dumps(record.response).encode("utf-8")
        record.status = 200
        return 200, stored.data

    # -- Bot API methods ---------------------------------------------------------------------

    async def _true(self, _params: JSONDict) -> bool:
        return True

    async def _get_me(self, _params: JSONDict) -> JSONDict:
        return self.bot_user

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self._webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        # Telegram answers an older long poll with 409 when a newer one arrives.
        self._wake_pollers(conflict=True)
        offset = int(params.get("offset", 0))
        limit = min(max(int(params.get("limit", 100)), 1), 100)
        timeout = float(params.get("timeout", 0))
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"]) or None
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        ready = self._deliverable(limit)
        if not ready and timeout > 0:
            poller = _Poller(asyncio.get_running_loop().create_future())
            self._pollers.append(poller)
            try:
                await asyncio.wait({poller.future}, timeout=min(timeout, _MAX_POLL_WAIT))
            finally:
                self._pollers.remove(poller)
            if poller.future.done() and poller.future.result():
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            ready = self._deliverable(limit)
        return copy.deepcopy(ready)

    def _deliverable(self, limit: int) -> list[JSONDict]:
        allowed = self._allowed_updates
        ready = [
            u
            for u in self._updates
            if (_update_kind(u) in allowed if allowed else
                _update_kind(u) not in _DEFAULT_EXCLUDED_UPDATES)
        ]  # fmt: skip
        return ready[:limit]

    async def _delete_webhook(self, params: JSONDict) -> bool:
        self._webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _set_webhook(self, params: JSONDict) -> bool:
        url = str(params["url"])
        if url and not url.startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        self._webhook_url = url
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, _params: JSONDict) -> JSONDict:
        return {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    @staticmethod
    def _commands_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code", ""))

    async def _set_my_commands(self, params: JSONDict) -> bool:
        commands = list(params["commands"])
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands (at most 100)")
        self._commands[self._commands_key(params)] = copy.deepcopy(commands)
        return True

    async def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return copy.deepcopy(self._commands.get(self._commands_key(params), []))

    async def _set_chat_menu_button(self, params: JSONDict) -> bool:
        button = params.get("menu_button") or {"type": "default"}
        url = (button.get("web_app") or {}).get("url", "")
        if button.get("type") == "web_app" and not str(url).startswith("https://"):
            raise ApiError(400, "Bad Request: BUTTON_URL_INVALID (a Web App needs HTTPS)")
        self._menu_buttons[_to_chat_id(params.get("chat_id")) or 0] = copy.deepcopy(button)
        return True

    async def _get_chat_menu_button(self, params: JSONDict) -> JSONDict:
        chat = _to_chat_id(params.get("chat_id")) or 0
        return copy.deepcopy(self._menu_buttons.get(chat, {"type": "default"}))

    async def _delete_my_commands(self, params: JSONDict) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    async def _leave_chat(self, params: JSONDict) -> bool:
        chat_id = _to_chat_id(params["chat_id"])
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is None or chat.left:
            raise ApiError(400, _CHAT_NOT_FOUND)
        if chat.type == "private":
            raise ApiError(
                400, "Bad Request: chat member status can't be changed in private chats"
            )
        chat.left = True
        return True

    def has_left(self, chat_id: int) -> bool:
        """Whether the bot left this group (leaveChat)."""
        return self._chats[chat_id].left

    def added_to_group(self, user: JSONDict, group_id: int) -> JSONDict:
        """`user` adds the bot to a group: the `my_chat_member` update Telegram sends."""
        bot = self._bot_sender()
        return self.push_update("my_chat_member", {
            "chat": self.chat_json(group_id),
            "from": user,
            "date": int(self.now().timestamp()),
            "old_chat_member": {"user": bot, "status": "left"},
            "new_chat_member": {"user": bot, "status": "member"},
        })

    async def _get_chat(self, params: JSONDict) -> JSONDict:
        chat_id = _to_chat_id(params["chat_id"])
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise ApiError(400, _CHAT_NOT_FOUND)
        return {
            **chat.to_json(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    # sending

    def _target_chat(self, params: JSONDict) -> _Chat:
        """The chat a request addresses, with Telegram's errors for unknown/blocked chats."""
        chat_id = _to_chat_id(params.get("chat_id"))
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise ApiError(400, _CHAT_NOT_FOUND)
        if chat.user is not None and chat.user["is_bot"]:
            raise ApiError(403, "Forbidden: bot can't send messages to bots")
        if chat.blocked:
            raise ApiError(403, _BLOCKED)
        return chat

    def _new_message(
        self, chat: _Chat, body: JSONDict, *, sender: JSONDict | None = None
    ) -> _Message:
        chat.last_message_id += 1
        now = self.now()
        data: JSONDict = {
            "message_id": chat.last_message_id,
            "from": sender or self._bot_sender(),
            "chat": chat.to_json(),
            "date": int(now.timestamp()),
            **body,
        }
        message = _Message(chat.id, chat.last_message_id, sender is None, data, now)
        self._messages[(chat.id, message.message_id)] = message
        return message

    @staticmethod
    def _render(text: str, parse_mode: object, entities: object) -> tuple[str, list[JSONDict]]:
        mode = parse_mode if isinstance(parse_mode, str) else None
        given = entities if isinstance(entities, list) else None
        try:
            return render_text(text, mode, given)
        except EntityParseError as exc:  # schema validation normally catches this first
            raise ApiError(400, f"Bad Request: {exc}") from exc

    def _text_body(self, params: JSONDict, key: str, entities_key: str) -> JSONDict:
        if key not in params:
            return {}
        plain, entities = self._render(
            str(params[key]), params.get("parse_mode"), params.get(entities_key)
        )
        if not plain:
            return {}
        body: JSONDict = {key: plain}
        if entities:
            body[entities_key] = entities
        return body

    @staticmethod
    def _inline_markup(params: JSONDict) -> JSONDict | None:
        """The reply_markup as echoed in a Message: only non-empty inline keyboards survive."""
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and markup.get("inline_keyboard"):
            return copy.deepcopy(markup)
        return None

    def _common_body(self, chat: _Chat, params: JSONDict) -> JSONDict:
        body: JSONDict = {}
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            target = self._find_message(chat.id, int(reply["message_id"]))
            if target is not None:
                replied = copy.deepcopy(target.json)
                replied.pop("reply_to_message", None)
                body["reply_to_message"] = replied
            elif not reply.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
        markup = self._inline_markup(params)
        if markup is not None:
            body["reply_markup"] = markup
        return body

    def _finish_send(self, message: _Message, params: JSONDict) -> JSONDict:
        mode = params.get("parse_mode")
        message.parse_mode = mode if isinstance(mode, str) else None
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "keyboard" in markup:
            message.reply_keyboard = [[str(b["text"]) for b in row] for row in markup["keyboard"]]
        return copy.deepcopy(message.json)

    async def _send_message(self, params: JSONDict) -> JSONDict:
        chat = self._target_chat(params)
        body = self._text_body(params, "text", "entities")
        if not body:
            raise ApiError(400, "Bad Request: message text is empty")
        body.update(self._common_body(chat, params))
        return self._finish_send(self._new_message(chat, body), params)

    def _input_file(self, value: object, kind: str, extension: str) -> tuple[_File | None, str]:
        """Resolve an InputFile|String parameter: upload, known file_id, or URL."""
        if isinstance(value, UploadedFile):
            if len(value.data) > _UPLOAD_LIMIT:
                raise ApiError(413, "Request Entity Too Large")
            return self._register_file(kind, value.data, extension), value.filename
        text = str(value)
        if text.startswith(("http://", "https://")):
            return None, text.rsplit("/", 1)[-1] or "file"
        stored = self._files.get(text)
        if stored is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise ApiError(
                400,
                f"Bad Request: can't use file of type {stored.kind.title()} as {kind.title()}",
            )
        return stored, stored.file_path.rsplit("/", 1)[-1]

    async def _send_photo(self, params: JSONDict) -> JSONDict:
        chat = self._target_chat(params)
        stored, _ = self._input_file(params["photo"], "photo", "jpg")
        data = stored.data if stored else b""
        width, height = _image_size(data) or (800, 600)
        body: JSONDict = {"photo": self._photo_sizes(data, width, height)}
        body.update(self._text_body(params, "caption", "caption_entities"))
        body.update(self._common_body(chat, params))
        message = self._new_message(chat, body)
        message.photo = stored.data if stored else None
        return self._finish_send(message, params)

    async def _send_document(self, params: JSONDict) -> JSONDict:
        chat = self._target_chat(params)
        value = params["document"]
        stored, file_name = self._input_file(value, "document", "bin")
        if stored is None:  # a URL: Telegram would fetch it, the sandbox keeps a placeholder
            stored = self._register_file("document", b"", "bin")
        mime = value.mimetype if isinstance(value, UploadedFile) else "application/octet-stream"
        body: JSONDict = {"document": self._file_json(stored, file_name=file_name, mime_type=mime)}
        body.update(self._text_body(params, "caption", "caption_entities"))
        body.update(self._common_body(chat, params))
        message = self._new_message(chat, body)
        message.document = stored.data
        message.file_name = file_name
        return self._finish_send(message, params)

    async def _send_voice(self, params: JSONDict) -> JSONDict:
        chat = self._target_chat(params)
        stored, _ = self._input_file(params["voice"], "voice", "ogg")
        if stored is None:  # a URL: Telegram would fetch it, the sandbox keeps a placeholder
            stored = self._register_file("voice", b"", "ogg")
        voice = self._file_json(stored, duration=int(params.get("duration") or 1),
                                mime_type="audio/ogg")
        body: JSONDict = {"voice": voice}
        body.update(self._text_body(params, "caption", "caption_entities"))
        body.update(self._common_body(chat, params))
        message = self._new_message(chat, body)
        message.document = stored.data  # the bytes, as for documents
        return self._finish_send(message, params)

    async def _send_chat_action(self, params: JSONDict) -> bool:
        self._target_chat(params)
        if params["action"] not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    # editing

    def _editable(self, params: JSONDict, missing: str) -> _Message:
        if "inline_message_id" in params:
            raise ApiError(400, "Bad Request: sandbox: inline messages are not supported")
        chat = self._target_chat(params)
        message_id = params.get("message_id")
        message = self._find_message(chat.id, message_id) if isinstance(message_id, int) else None
        if message is None:
            raise ApiError(400, f"Bad Request: {missing}")
        return message

    def _apply_edit(self, message: _Message, changes: JSONDict, drop: tuple[str, ...]) -> JSONDict:
        new = {k: v for k, v in message.json.items() if k not in drop and k != "edit_date"}
        new.update(changes)
        old = {k: v for k, v in message.json.items() if k != "edit_date"}
        if new == old:
            raise ApiError(400, _NOT_MODIFIED)
        new["edit_date"] = self._timestamp()
        message.json = new
        message.edits += 1
        return copy.deepcopy(new)

    async def _edit_message_text(self, params: JSONDict) -> JSONDict:
        message = self._editable(params, "message to edit not found")
        if not message.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        if "text" not in message.json:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        changes = self._text_body(params, "text", "entities")
        if not changes:
            raise ApiError(400, "Bad Request: message text is empty")
        markup = self._inline_markup(params)
        if markup is not None:
            changes["reply_markup"] = markup
        # Leaving out reply_markup removes the inline keyboard, as in Telegram.
        result = self._apply_edit(message, changes, ("text", "entities", "reply_markup"))
        mode = params.get("parse_mode")
        message.parse_mode = mode if isinstance(mode, str) else None
        return result

    async def _edit_message_caption(self, params: JSONDict) -> JSONDict:
        message = self._editable(params, "message to edit not found")
        if not message.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        if not any(key in message.json for key in ("photo", "document")):
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        changes = self._text_body(params, "caption", "caption_entities")
        markup = self._inline_markup(params)
        if markup is not None:
            changes["reply_markup"] = markup
        return self._apply_edit(message, changes, ("caption", "caption_entities", "reply_markup"))

    async def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict:
        message = self._editable(params, "message to edit not found")
        if not message.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        markup = self._inline_markup(params)
        changes = {} if markup is None else {"reply_markup": markup}
        return self._apply_edit(message, changes, ("reply_markup",))

    async def _delete_message(self, params: JSONDict) -> bool:
        chat_id = _to_chat_id(params.get("chat_id"))
        if chat_id is None or chat_id not in self._chats:
            raise ApiError(400, _CHAT_NOT_FOUND)
        message = self._find_message(chat_id, int(params["message_id"]))
        if message is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        if self.now() - message.sent_at > _DELETE_WINDOW:
            raise ApiError(400, "Bad Request: message can't be deleted for everyone")
        message.deleted = True
        return True

    async def _answer_callback_query(self, params: JSONDict) -> bool:
        query = self._callbacks.get(str(params["callback_query_id"]))
        if (
            query is None
            or query.answered
            or self.now() - query.pressed_at > _CALLBACK_ANSWER_WINDOW
        ):
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is "
                "invalid",
            )
        query.answered = True
        self.callback_answers.append(copy.deepcopy(params))
        return True

    async def _get_file(self, params: JSONDict) -> JSONDict:
        stored = self._files.get(str(params["file_id"]))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(stored.data) > _DOWNLOAD_LIMIT:
            raise ApiError(400, "Bad Request: file is too big")
        return self._file_json(stored, file_path=stored.file_path) | self.file_lies.get(
            stored.file_id, {})

    def lie_about_file(self, file_id: str, **fields: Any) -> None:
        """Make getFile answer `fields` (a `file_path`, a `file_size`) for this file: a Bot
        API server that lies."""
        self.file_lies[file_id] = fields


def _settle(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)
