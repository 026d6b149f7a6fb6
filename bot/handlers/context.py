"""The callback context type every handler receives (typed bot_data, no bag of keys)."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import CallbackContext, ExtBot

from bot.services.facade import BotData, Services
from bot.services.ports import Reply

Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]


def services(context: Context) -> Services:
    """The use cases wired by the composition root."""
    return context.bot_data.services


def private_chat_id(update: Update) -> int | None:
    """The chat id of a one-to-one chat; None for groups, channels and odd updates."""
    chat = update.effective_chat
    return chat.id if chat is not None and chat.type == "private" else None


async def send(context: Context, chat_id: int, reply: Reply) -> None:
    """Send a use case's reply (through the one outbound path)."""
    await context.bot_data.services.outbound.reply(chat_id, reply)


def telegram_language(update: Update) -> str:
    """The language the person's Telegram app is set to ("" when Telegram does not say)."""
    user = update.effective_user
    return (user.language_code or "") if user is not None else ""
