"""Last line of defence: log what failed without the update's contents (health data)."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.handlers.context import Context, private_chat_id, services, telegram_language
from bot.services.ports import DeliveryError

log = logging.getLogger(__name__)


async def on_error(update: object, context: Context) -> None:
    """Log a failed update by id and error type, and never leave a patient without an answer.

    An update handled from the inbox is rolled back and retried instead (the inbox logs it,
    and apologises only if it has to give up).
    """
    update_id = update.update_id if isinstance(update, Update) else None
    error = context.error
    if error is not None and services(context).inbox.failed_in_handler(error):
        return
    log.error(
        "handler failed on update %s: %s",
        update_id,
        type(error).__name__,
        exc_info=(type(error), error, error.__traceback__) if error else None,
    )
    if not isinstance(update, Update) or (chat_id := private_chat_id(update)) is None:
        return
    try:
        await services(context).outbound.say(chat_id, "internal_error", telegram_language(update))
    except (DeliveryError, TelegramError):
        log.warning("could not send the apology for update %s", update_id)
