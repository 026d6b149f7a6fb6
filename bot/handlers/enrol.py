"""`/enrol` in the chair: Telegram's side of the conversation (the questions and their checks
are the `Desk` use case's)."""

from __future__ import annotations

from typing import Any, NamedTuple

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.core import callbacks as cb
from bot.handlers.context import Context, private_chat_id, send, services
from bot.handlers.guard import authorize
from bot.services.access import Role
from bot.services.desk import EnrolDraft, Enrolled
from bot.services.ports import Reply


async def start(update: Update, context: Context) -> None:
    """`/enrol`: only clinicians; asks the patient's name."""
    chat_id = private_chat_id(update)
    svc = services(context)
    if chat_id is None or await authorize(context, chat_id, Role.CLINICIAN) is None:
        if chat_id is not None:
            await svc.outbound.say(chat_id, "not_clinician")
        return
    await svc.desk.keep(chat_id, EnrolDraft())
    await send(context, chat_id, svc.desk.ask_name())


class Pressed(NamedTuple):
    """A fresh press on an /enrol button: where it was, and the enrolment under way."""

    query_id: str
    chat_id: int
    message_id: int
    draft: EnrolDraft


async def _pressed(update: Update, context: Context, step: str) -> Pressed | None:
    """A press on one of the /enrol buttons at `step`; None after a stale press, answered
    as such."""
    query, chat_id = update.callback_query, private_chat_id(update)
    if query is None:
        return None
    svc = services(context)
    draft = await svc.desk.load(chat_id) if chat_id is not None else None
    if chat_id is None or query.message is None or draft is None or draft.step != step:
        await svc.outbound.toast(query.id, svc.outbound.message("stale_button").text)
        return None
    return Pressed(query.id, chat_id, query.message.message_id, draft)


async def when_now(update: Update, context: Context) -> None:
    """The session is now; then asks the areas."""
    pressed = await _pressed(update, context, "when")
    if pressed is not None:
        await _redraw(context, pressed, services(context).desk.session_now(pressed.draft))


async def toggle_area(update: Update, context: Context) -> None:
    """Tick or untick a treated area."""
    pressed = await _pressed(update, context, "areas")
    if pressed is None or update.callback_query is None:
        return
    press = cb.parse(update.callback_query.data)
    index = int(press.arg) if isinstance(press, cb.EnrolPress) and press.arg.isdigit() else -1
    await _redraw(context, pressed, services(context).desk.toggle_area(pressed.draft, index))


async def pick_language(update: Update, context: Context) -> None:
    """Choose the patient's language (or unchoose it: their Telegram's at consent)."""
    pressed = await _pressed(update, context, "areas")
    if pressed is None or update.callback_query is None:
        return
    press = cb.parse(update.callback_query.data)
    code = press.arg if isinstance(press, cb.EnrolPress) else ""
    await _redraw(context, pressed, services(context).desk.choose_language(pressed.draft, code))


async def _redraw(context: Context, pressed: Pressed, screen: Reply | None) -> None:
    """Answer the press; keep the draft and show its new screen (None: nothing changed)."""
    svc = services(context)
    await svc.outbound.toast(pressed.query_id)
    if screen is not None:
        await svc.desk.keep(pressed.chat_id, pressed.draft)
        await svc.outbound.edit(pressed.chat_id, pressed.message_id, screen)


async def done(update: Update, context: Context) -> None:
    """Create the patient and show the link and its QR code."""
    pressed = await _pressed(update, context, "areas")  # an old "Done" spares a new /enrol
    if pressed is None:
        return
    query_id, chat_id, message_id, draft = pressed
    svc = services(context)
    who = await authorize(context, chat_id, Role.CLINICIAN)  # deactivated meanwhile?
    if who is None:
        await svc.outbound.toast(query_id, svc.outbound.message("not_clinician").text)
        return
    await svc.outbound.toast(query_id)
    outcome = await svc.desk.finish(draft, actor=who.actor, bot_username=context.bot.username)
    screen = outcome.edit if isinstance(outcome, Enrolled) else outcome
    await svc.desk.keep(chat_id, None)
    await svc.outbound.edit(chat_id, message_id, screen)
    if isinstance(outcome, Enrolled):
        await svc.outbound.picture(chat_id, outcome.qr, caption=outcome.caption)


async def cancel(update: Update, context: Context) -> None:
    """`/cancel`: drop the enrolment in progress."""
    chat_id = private_chat_id(update)
    if chat_id is None:
        return
    desk = services(context).desk
    if await desk.load(chat_id) is None:  # nothing to cancel: as any unknown command
        await services(context).outbound.say(chat_id, "unknown_command")
        return
    await desk.keep(chat_id, None)
    await send(context, chat_id, desk.cancelled())


def _press(op: str) -> Any:
    """A `pattern` for the enrolment buttons of one kind (see `bot.core.callbacks`)."""
    return lambda data: isinstance(p := cb.parse(data), cb.EnrolPress) and p.op == op


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The /enrol commands and buttons; typed answers reach the desk through the text
    handler (`Desk.answer`), whichever worker handles them."""
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("enrol", start, filters=private),
        CommandHandler("cancel", cancel, filters=private),
        CallbackQueryHandler(when_now, pattern=_press("now")),
        CallbackQueryHandler(toggle_area, pattern=_press("a")),
        CallbackQueryHandler(pick_language, pattern=_press("l")),
        CallbackQueryHandler(done, pattern=_press("done")),
    ]
