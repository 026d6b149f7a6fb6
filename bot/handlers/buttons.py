"""Inline-button presses: one `CallbackQueryHandler` per kind of button (its `pattern` decodes
the press with `bot.core.callbacks`), each routed to the use case that owns it; anything else
(forged, stale, foreign) gets the stale-button toast."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import CallbackQuery, Update
from telegram.ext import CallbackQueryHandler

from bot.core import callbacks as cb
from bot.handlers.clinician import show_timeline
from bot.handlers.context import Context, private_chat_id, services, telegram_language
from bot.handlers.guard import authorize, press_role
from bot.services.access import Principal
from bot.services.facade import Services
from bot.services.ports import PressResult

log = logging.getLogger(__name__)

# A press's use case: the services, the chat, the pressed message, the decoded press.
Route = Callable[[Services, int, int, Any], Awaitable[PressResult]]


async def _answer(
    context: Context, query: CallbackQuery, result: PressResult, chat_id: int | None
) -> None:
    """The toast, the edited message, then any new messages."""
    await services(context).outbound.toast(query.id, result.toast, alert=result.alert)
    if result.edit is not None and query.message is not None and chat_id is not None:
        # An unchanged screen (a double tap) is not an error: the messenger says so.
        await services(context).outbound.edit(chat_id, query.message.message_id, result.edit)
    if chat_id is not None:
        for n, reply in enumerate(result.replies):
            await services(context).outbound.reply(
                chat_id, reply, emergency=result.emergency and n == 0)


async def _finish(context: Context, query: CallbackQuery, result: PressResult,
                  chat_id: int) -> None:
    """Answer the press; then the pages it raised and the dispatch it asked for."""
    svc = services(context)
    await _answer(context, query, result, chat_id)
    if result.pages:
        pages = result.pages
        await svc.outbox.later(lambda: _done(svc.paging.send(pages)))
    if result.photo_id is not None:  # the voice note a tapped sign was about
        photo_id = result.photo_id
        await svc.outbox.later(lambda: _done(svc.photos.forward(photo_id)))
    if result.dispatch:  # after the answer (a welcome before the check-in it announces)
        await svc.outbox.later(lambda: _done(svc.dispatcher.for_chat(chat_id)),
                               chat_id=chat_id)


async def _done(work: Awaitable[object]) -> None:
    await work


async def _trusted(update: Update, context: Context) -> tuple[CallbackQuery, int, int,
                                                             Any, Principal] | None:
    """The press, its chat, message and decoded code, and who pressed, if the press can be
    trusted; otherwise it is answered here with a toast and None is returned."""
    query = update.callback_query
    if query is None:
        return None
    chat_id, message = private_chat_id(update), query.message
    press = cb.parse(query.data)
    outbound = services(context).outbound
    # In a one-to-one chat the chat's id is the person's: a press from anyone else (a
    # forged or replayed update) is refused like a stale one.
    if chat_id is None or message is None or press is None or query.from_user.id != chat_id:
        await outbound.toast(
            query.id, outbound.message("stale_button", telegram_language(update)).text)
        return None
    who = await authorize(context, chat_id, press_role(press))
    if who is None:
        await outbound.toast(
            query.id, outbound.message("not_clinician", telegram_language(update)).text)
        return None
    return query, chat_id, message.message_id, press, who


def _pressed(route: Route) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
    """A PTB callback that authorises a press, runs its use case and shows the result."""

    async def handle(update: Update, context: Context) -> None:
        trusted = await _trusted(update, context)
        if trusted is None:
            return
        query, chat_id, message_id, press, _who = trusted
        result = await route(services(context), chat_id, message_id, press)
        await _finish(context, query, result, chat_id)

    handle.__name__ = handle.__qualname__ = route.__name__
    return handle


async def on_escalation(update: Update, context: Context) -> None:
    """A clinician's button on a ping or summary (the timeline is sent, not edited in)."""
    trusted = await _trusted(update, context)
    if trusted is None:
        return
    query, chat_id, _message_id, press, who = trusted
    pressed = await services(context).clinician_actions.press(chat_id, press)
    if pressed.timeline_for is not None:
        await services(context).outbound.toast(query.id)
        await show_timeline(context, who, pressed.timeline_for)
        return
    await _finish(context, query, pressed.result, chat_id)


async def on_stale(update: Update, context: Context) -> None:
    """Anything no other button handler took: forged, stale, or an `/enrol` button after
    its conversation ended."""
    query = update.callback_query
    if query is not None:
        outbound = services(context).outbound
        await outbound.toast(
            query.id, outbound.message("stale_button", telegram_language(update)).text)


async def _consent(svc: Services, chat_id: int, _message_id: int, press: Any) -> PressResult:
    return await svc.enrolment.consent(chat_id, press)


async def _checkin(svc: Services, chat_id: int, message_id: int, press: Any) -> PressResult:
    return await svc.checkins.press(chat_id, message_id, press)


async def _stop(svc: Services, chat_id: int, _message_id: int, press: Any) -> PressResult:
    return await svc.patients.stop(chat_id, press)


async def _forget(svc: Services, chat_id: int, _message_id: int, press: Any) -> PressResult:
    return await svc.privacy.forget(chat_id, press)


async def _trend(svc: Services, chat_id: int, _message_id: int, press: Any) -> PressResult:
    return await svc.checkins.clarify(chat_id, press)


async def _language(svc: Services, chat_id: int, _message_id: int, press: Any) -> PressResult:
    return await svc.patients.set_language(chat_id, press)


async def _report(svc: Services, chat_id: int, _message_id: int, _press: Any) -> PressResult:
    started = await svc.checkins.start_report(chat_id)
    return PressResult() if started is not None else PressResult(
        toast=svc.outbound.message("stale_button").text
    )


def _kind(kind: type) -> Callable[[object], bool]:
    """A `pattern`: the button data decodes to a press of this kind."""
    return lambda data: isinstance(data, str) and isinstance(cb.parse(data), kind)


def handlers() -> list[CallbackQueryHandler[Any, Any]]:
    """The button handlers, one per kind, then the catch-all for stale presses."""
    routes: list[tuple[type, Route]] = [
        (cb.Consent, _consent), (cb.CheckinPress, _checkin), (cb.StopPress, _stop),
        (cb.ForgetPress, _forget), (cb.TrendPress, _trend), (cb.ReportPress, _report),
        (cb.LanguagePress, _language),
    ]
    out: list[CallbackQueryHandler[Any, Any]] = [
        CallbackQueryHandler(_pressed(route), pattern=_kind(kind)) for kind, route in routes
    ]
    out.append(CallbackQueryHandler(on_escalation, pattern=_kind(cb.EscalationPress)))
    out.append(CallbackQueryHandler(on_stale))
    return out
