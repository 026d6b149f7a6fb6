"""Inline-button presses: decode, route to the service that owns them, show the result."""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Update

from bot.core import callbacks as cb
from bot.handlers.clinician import show_timeline
from bot.handlers.context import Context, private_chat_id, send, services
from bot.handlers.guard import authorize, press_role
from bot.services.ports import PressResult

log = logging.getLogger(__name__)


async def _answer(
    context: Context, query: CallbackQuery, result: PressResult, chat_id: int | None
) -> None:
    """The toast, the edited message, then any new messages."""
    await query.answer(result.toast, show_alert=result.alert)
    if result.edit is not None and query.message is not None and chat_id is not None:
        # An unchanged screen (a double tap) is not an error: the messenger says so.
        await services(context).outbound.edit(chat_id, query.message.message_id, result.edit)
    if chat_id is not None:
        for reply in result.replies:
            await send(context, chat_id, reply)


async def on_button(update: Update, context: Context) -> None:
    """Every inline-button press; a press that cannot be trusted only gets a toast."""
    query = update.callback_query
    if query is None:
        return
    svc = services(context)
    chat_id = private_chat_id(update)
    message = query.message
    press = cb.parse(query.data)
    stale = PressResult(toast=svc.outbound.message("stale_button").text)
    who = (
        await authorize(context, chat_id, press_role(press))
        if chat_id is not None and press is not None
        else None
    )
    if chat_id is None or message is None or press is None:
        result = stale
    elif who is None:
        result = PressResult(toast=svc.outbound.message("not_clinician").text)
    elif isinstance(press, cb.Consent):
        result = await svc.enrolment.consent(chat_id, press)
    elif isinstance(press, cb.CheckinPress):
        result = await svc.checkins.press(chat_id, message.message_id, press)
    elif isinstance(press, cb.StopPress):
        result = await svc.patients.stop(chat_id, press)
    elif isinstance(press, cb.ForgetPress):
        result = await svc.privacy.forget(chat_id, press)
    elif isinstance(press, cb.EscalationPress):
        pressed = await svc.escalations.press(chat_id, press)
        result = pressed.result
        if pressed.timeline_for is not None:
            await query.answer()
            await show_timeline(context, who, pressed.timeline_for)
            return
    elif isinstance(press, cb.TrendPress):
        result = await svc.checkins.clarify(chat_id, press)
    else:
        started = await svc.checkins.start_report(chat_id)
        result = PressResult() if started is not None else stale
    try:
        await _answer(context, query, result, chat_id)
    finally:  # claimed by this process: they go even if answering the patient failed
        if result.pages:
            await svc.escalations.send(result.pages)
    if result.dispatch and chat_id is not None:
        await svc.dispatcher.for_chat(chat_id)
