"""The Messenger port over python-telegram-bot, mapping Telegram errors to delivery errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButtonDefault,
    MenuButtonWebApp,
    WebAppInfo,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from bot.adapters.downloads import download
from bot.core.callbacks import Keyboard
from bot.core.delivery import Lane
from bot.services.ports import (
    DeliveryError,
    MaybeDelivered,
    Metrics,
    NoMetrics,
    RateLimited,
    RecipientBlocked,
    RecipientGone,
    Rejected,
    Transient,
)


def markup(keyboard: Keyboard | None) -> InlineKeyboardMarkup | None:
    """Our plain keyboard as Telegram's inline keyboard (None for no buttons)."""
    if not keyboard:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in keyboard]
    )


log = logging.getLogger(__name__)
GATEWAY_TIMEOUT = 504


class TelegramRequest(HTTPXRequest):
    """PTB's HTTP transport, reading a 504 Gateway Timeout as what it is: the request may
    have been performed (a front such as a local Bot API server timed out waiting for
    Telegram). PTB reports it as an ordinary network error, which would resend a check-in
    that may already be on the patient's phone; as `TimedOut` it follows the timeout
    policy instead (see `bot.services.dispatch`).
    """

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        if code == GATEWAY_TIMEOUT:
            raise TimedOut("Gateway Timeout (504): the request may have been performed")
        return code, payload


def delivery_error(exc: Exception) -> DeliveryError:
    """Translate a PTB exception; order matters (BadRequest and TimedOut are NetworkErrors)."""
    if isinstance(exc, RetryAfter):
        after = exc.retry_after
        seconds = after.total_seconds() if isinstance(after, timedelta) else float(after)
        return RateLimited(seconds)
    if isinstance(exc, Forbidden):
        return RecipientBlocked(exc.message)
    if isinstance(exc, BadRequest):
        if "chat not found" in exc.message.lower():
            return RecipientGone(exc.message)
        return Rejected(exc.message)
    if isinstance(exc, TimedOut):
        return MaybeDelivered(exc.message)
    if isinstance(exc, NetworkError):
        return Transient(exc.message)
    return Transient(str(exc))


RECOVERY_AFTER = 2.0  # seconds Telegram must have been failing for its return to count


class Reachability:
    """Whether Telegram accepted the last message sent; remembers a recovery until it is
    taken. Only sends count: `getUpdates` or `getMe` answering says nothing about them."""

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self.now = now or (lambda: datetime.now(UTC))
        self.down_since: datetime | None = None
        self.last_ok: datetime | None = None  # Telegram's last answer (a send, or a check)
        self._recovered = False

    def failed(self) -> None:
        if self.down_since is None:
            self.down_since = self.now()
            log.warning("Telegram unreachable (network error or 5xx); retrying with backoff")

    def ok(self) -> None:
        self.last_ok = self.now()
        if self.down_since is not None:
            down = (self.now() - self.down_since).total_seconds()
            log.warning("Telegram reachable again after %.0f s", down)
            self.down_since = None
            # A blip (one chat's 5xx between successes) does not cut every backoff short.
            self._recovered = down >= RECOVERY_AFTER

    def take_recovery(self) -> bool:
        recovered, self._recovered = self._recovered, False
        return recovered


class TelegramMessenger:
    """Sends plain-text messages (never parsed as markup, so patients' words are safe)."""

    def __init__(self, bot: Bot, reachability: Reachability | None = None, *,
                 local_files: bool = False, metrics: Metrics | None = None) -> None:
        self.bot = bot
        self.metrics: Metrics = metrics or NoMetrics()
        self.local_files = local_files  # a local Bot API server's absolute paths are read
        self.reachability = reachability or Reachability()
        # PTB refuses rate_limit_args on a bot without a rate limiter (pacing off).
        self.paced = getattr(bot, "rate_limiter", None) is not None

    async def send(
        self, chat_id: int, text: str, keyboard: Keyboard | None = None, *,
        lane: Lane = Lane.NORMAL,
    ) -> int:
        extra: dict[str, Any] = {}
        if lane is not Lane.NORMAL and self.paced:
            extra["rate_limit_args"] = {"lane": lane}
        try:
            message = await self.bot.send_message(
                chat_id, text, reply_markup=markup(keyboard), **extra
            )
        except (RetryAfter, NetworkError, Forbidden) as exc:
            raise self._failed(exc, lane) from exc
        self.reachability.ok()
        self.metrics.sent(lane.name.lower(), "ok")
        return int(message.message_id)

    def _failed(self, exc: Exception, lane: Lane | None = None) -> DeliveryError:
        error = delivery_error(exc)
        if lane is not None:
            self.metrics.sent(lane.name.lower(), type(error).__name__)
        if isinstance(error, RateLimited):
            self.metrics.rate_limited(error.retry_after)
        if isinstance(error, Transient | MaybeDelivered):
            self.reachability.failed()
        else:  # Telegram answered (a 4xx or a 429): it is reachable
            self.reachability.ok()
        return error

    def recovered(self) -> bool:
        return self.reachability.take_recovery()

    async def answered_lately(self, within: float = 60) -> bool:
        """Whether Telegram answered in the last `within` seconds; asks it (`getMe`) when
        nothing was sent meanwhile."""
        last = self.reachability.last_ok
        if last is not None and (self.reachability.now() - last).total_seconds() < within:
            return True
        try:
            await asyncio.wait_for(self.bot.get_me(), 5)
        except Exception:
            return False
        self.reachability.last_ok = self.reachability.now()
        return True

    def failing(self) -> bool:
        return self.reachability.down_since is not None

    async def send_photo(self, chat_id: int, photo: bytes, caption: str | None = None) -> int:
        try:
            message = await self.bot.send_photo(chat_id, photo, caption=caption)
        except (RetryAfter, NetworkError, Forbidden) as exc:
            raise self._failed(exc, Lane.NORMAL) from exc
        self.metrics.sent("normal", "ok")
        return int(message.message_id)

    async def send_document(
        self, chat_id: int, data: bytes, filename: str, caption: str | None = None
    ) -> int:
        try:
            message = await self.bot.send_document(
                chat_id, data, filename=filename, caption=caption
            )
        except (RetryAfter, NetworkError, Forbidden) as exc:
            raise self._failed(exc, Lane.NORMAL) from exc
        self.metrics.sent("normal", "ok")
        return int(message.message_id)

    async def send_voice(self, chat_id: int, data: bytes, caption: str | None = None) -> int:
        try:
            message = await self.bot.send_voice(chat_id, data, caption=caption)
        except (RetryAfter, NetworkError, Forbidden) as exc:
            raise self._failed(exc, Lane.NORMAL) from exc
        self.metrics.sent("normal", "ok")
        return int(message.message_id)

    async def answer_press(
        self, press_id: str, text: str | None = None, *, alert: bool = False
    ) -> None:
        try:
            await self.bot.answer_callback_query(press_id, text=text, show_alert=alert)
        except (RetryAfter, NetworkError, Forbidden) as exc:
            raise self._failed(exc) from exc

    async def fetch_file(self, file_id: str, *, limit: int) -> bytes:
        try:
            return await download(self.bot, file_id, limit=limit, local_files=self.local_files)
        except (RetryAfter, NetworkError, Forbidden) as exc:
            raise self._failed(exc) from exc

    async def set_menu(self, chat_id: int, commands: Sequence[tuple[str, str]] | None,
                       web_app: tuple[str, str] | None = None) -> None:
        scope = BotCommandScopeChat(chat_id)
        try:
            if commands is None:
                await self.bot.delete_my_commands(scope=scope)
            else:
                await self.bot.set_my_commands(
                    [BotCommand(c, d) for c, d in commands], scope=scope
                )
            button = (MenuButtonWebApp(web_app[0], WebAppInfo(web_app[1])) if web_app
                      else MenuButtonDefault())
            await self.bot.set_chat_menu_button(chat_id=chat_id, menu_button=button)
        except (RetryAfter, NetworkError, Forbidden) as exc:
            raise self._failed(exc) from exc

    async def edit(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard | None = None
    ) -> None:
        try:
            await self.bot.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, reply_markup=markup(keyboard)
            )
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return
            raise self._failed(exc) from exc
        except (RetryAfter, NetworkError, Forbidden) as exc:
            raise self._failed(exc) from exc
