"""The callback context type every handler receives (typed bot_data, no bag of keys)."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import CallbackContext, ExtBot

from bot.core.callbacks import Keyboard
from bot.services.facade import BotData, Services
from bot.services.ports import Reply
from bot.telegram_io import markup

Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]


def services(context: Context) -> Services:
    """The use cases wired by the composition root."""
    return context.bot_data.services


def private_chat_id(update: Update) -> int | None:
    """The chat id of a one-to-one chat; None for groups, channels and odd updates."""
    chat = update.effective_chat
    return chat.id if chat is not None and chat.type == "private" else None


async def send(context: Context, chat_id: int, reply: Reply) -> None:
    """Send a service's reply as a plain-text message."""
    await context.bot.send_message(chat_id, reply.text, reply_markup=markup(reply.keyboard))


def keyboard_markup(keyboard: Keyboard | None) -> Any:
    """Buttons as Telegram markup."""
    return markup(keyboard)
