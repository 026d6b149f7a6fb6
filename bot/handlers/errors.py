"""Last line of defence: log what failed without the update's contents (health data)."""

from __future__ import annotations

import logging

from telegram import Update

from bot.handlers.context import Context

log = logging.getLogger(__name__)


async def on_error(update: object, context: Context) -> None:
    """Log a failed update by id and error type; the traceback holds no message text."""
    update_id = update.update_id if isinstance(update, Update) else None
    error = context.error
    log.error(
        "handler failed on update %s: %s",
        update_id,
        type(error).__name__,
        exc_info=(type(error), error, error.__traceback__) if error else None,
    )
