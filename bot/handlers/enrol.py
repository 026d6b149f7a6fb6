"""`/enrol` in the chair: Telegram's side of the conversation (the questions and their checks
are the `Desk` use case's)."""

from __future__ import annotations

import warnings
from typing import Any

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.core import callbacks as cb
from bot.handlers.context import Context, private_chat_id, send, services
from bot.handlers.guard import authorize
from bot.services.access import Role
from bot.services.desk import EnrolDraft, Enrolled

NAME, WHEN, AREAS = range(3)
KEY = "enrol"  # the draft's one key in chat_data


def _draft(context: Context) -> EnrolDraft:
    data: dict[Any, Any] = context.chat_data if context.chat_data is not None else {}
    draft = data.get(KEY)
    if not isinstance(draft, EnrolDraft):
        draft = EnrolDraft()
        data[KEY] = draft
    return draft


def _forget(context: Context) -> None:
    if context.chat_data is not None:
        context.chat_data.pop(KEY, None)


async def start(update: Update, context: Context) -> int:
    """`/enrol`: only clinicians; asks the patient's name."""
    chat_id = private_chat_id(update)
    svc = services(context)
    if chat_id is None or await authorize(context, chat_id, Role.CLINICIAN) is None:
        if chat_id is not None:
            await svc.outbound.say(chat_id, "not_clinician")
        return ConversationHandler.END
    if context.chat_data is not None:
        context.chat_data[KEY] = EnrolDraft()
    await send(context, chat_id, svc.desk.ask_name())
    return NAME


async def name(update: Update, context: Context) -> int:
    """The patient's name; then asks when the session was."""
    chat_id = private_chat_id(update)
    message = update.effective_message
    if chat_id is None or message is None:
        return NAME
    answered = services(context).desk.take_name(_draft(context), message.text or "")
    await send(context, chat_id, answered.reply)
    return WHEN if answered.accepted else NAME


async def when_now(update: Update, context: Context) -> int:
    """The session is now; then asks the areas."""
    query, chat_id = update.callback_query, private_chat_id(update)
    if query is None:
        return WHEN
    svc = services(context)
    await svc.outbound.toast(query.id)
    if chat_id is None or query.message is None:
        return WHEN
    screen = svc.desk.session_now(_draft(context))
    await svc.outbound.edit(chat_id, query.message.message_id, screen)
    return AREAS


async def when_typed(update: Update, context: Context) -> int:
    """A typed session time (local to the clinic); then asks the areas."""
    chat_id = private_chat_id(update)
    message = update.effective_message
    if chat_id is None or message is None:
        return WHEN
    answered = services(context).desk.take_time(_draft(context), message.text or "")
    await send(context, chat_id, answered.reply)
    return AREAS if answered.accepted else WHEN


async def toggle_area(update: Update, context: Context) -> int:
    """Tick or untick a treated area."""
    query, chat_id = update.callback_query, private_chat_id(update)
    press = cb.parse(query.data if query else None)
    if query is None:
        return AREAS
    await services(context).outbound.toast(query.id)
    if chat_id is None or query.message is None:
        return AREAS
    index = int(press.arg) if isinstance(press, cb.EnrolPress) and press.arg.isdigit() else -1
    screen = services(context).desk.toggle_area(_draft(context), index)
    if screen is not None:
        await services(context).outbound.edit(chat_id, query.message.message_id, screen)
    return AREAS


async def done(update: Update, context: Context) -> int:
    """Create the patient and show the link and its QR code."""
    query, chat_id = update.callback_query, private_chat_id(update)
    if query is None:
        return ConversationHandler.END
    svc = services(context)
    if chat_id is None or query.message is None:
        await svc.outbound.toast(query.id)
        return ConversationHandler.END
    who = await authorize(context, chat_id, Role.CLINICIAN)  # deactivated meanwhile?
    if who is None:
        await svc.outbound.toast(query.id, svc.outbound.message("not_clinician").text)
        return ConversationHandler.END
    await svc.outbound.toast(query.id)
    outcome = await svc.desk.finish(
        _draft(context), actor=who.actor, bot_username=context.bot.username
    )
    screen = outcome.edit if isinstance(outcome, Enrolled) else outcome
    await svc.outbound.edit(chat_id, query.message.message_id, screen)
    if isinstance(outcome, Enrolled):
        await svc.outbound.picture(chat_id, outcome.qr, caption=outcome.caption)
    _forget(context)
    return ConversationHandler.END


async def cancel(update: Update, context: Context) -> int:
    """`/cancel`: drop the enrolment in progress."""
    _forget(context)
    chat_id = private_chat_id(update)
    if chat_id is not None:
        await send(context, chat_id, services(context).desk.cancelled())
    return ConversationHandler.END


def _press(op: str) -> Any:
    """A `pattern` for the enrolment buttons of one kind (see `bot.core.callbacks`)."""
    return lambda data: isinstance(p := cb.parse(data), cb.EnrolPress) and p.op == op


def conversation() -> ConversationHandler[Any]:
    """The /enrol conversation (per chat: one clinician enrols one patient at a time)."""
    private = filters.ChatType.PRIVATE
    text = private & filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # PTB warns that button presses are tracked per chat, not per message: intended here.
        warnings.filterwarnings("ignore", category=PTBUserWarning)
        return ConversationHandler(
            entry_points=[CommandHandler("enrol", start, filters=private)],
            states={
                NAME: [MessageHandler(text, name)],
                WHEN: [
                    CallbackQueryHandler(when_now, pattern=_press("now")),
                    MessageHandler(text, when_typed),
                ],
                AREAS: [
                    CallbackQueryHandler(toggle_area, pattern=_press("a")),
                    CallbackQueryHandler(done, pattern=_press("done")),
                ],
            },
            fallbacks=[CommandHandler("cancel", cancel, filters=private)],
            per_user=True,
            per_chat=True,
        )
