"""Commands and messages from people: each handler extracts plain values and calls a service."""

from __future__ import annotations

from collections.abc import Awaitable

from telegram import Update

from bot.handlers.context import Context, send, services, telegram_language
from bot.handlers.guard import authorize
from bot.services.access import Principal, Role
from bot.services.ports import MessageResult, Reply
from bot.services.voice import note_of


async def start(update: Update, context: Context, who: Principal) -> None:
    """`/start [token]`: open an invitation link, or greet / resume."""
    chat_id = who.chat_id
    svc = services(context)
    token = context.args[0] if context.args else ""
    if token:
        reply = await svc.enrolment.open_link(chat_id, token, telegram_language(update))
        await send(context, chat_id, reply)
        await svc.outbox.later(svc.menus.refresh)  # a clinician's link: their menu
        return
    result = await svc.patients.greet(chat_id, telegram_language(update))
    await deliver(context, chat_id, result)
    if result.extra.get("dispatch"):  # after the greeting, in the chat's order
        await svc.outbox.later(lambda: _dispatched(svc.dispatcher.for_chat(chat_id)),
                               chat_id=chat_id)


async def help_command(update: Update, context: Context, who: Principal) -> None:
    """`/help`: the commands of the writer's role."""
    chat_id = who.chat_id
    svc = services(context)
    clinician = await authorize(context, chat_id, Role.CLINICIAN)  # /help is anyone's
    if clinician is not None and clinician.clinician_id is not None:
        help_text = await svc.clinic.help(clinician.clinician_id,
                                          admin=clinician.can(Role.ADMIN))
    else:
        help_text = await svc.patients.help(chat_id, telegram_language(update))
    await send(context, chat_id, help_text)


async def status(_update: Update, context: Context, who: Principal) -> None:
    """`/status`: what comes next and when."""
    chat_id = who.chat_id
    svc = services(context)
    reply = await svc.patients.status(chat_id)
    await _reply_or_greet(context, chat_id, reply)


async def stop(_update: Update, context: Context, who: Principal) -> None:
    """`/stop`: asks for confirmation first."""
    chat_id = who.chat_id
    reply = await services(context).patients.ask_stop(chat_id)
    await _reply_or_greet(context, chat_id, reply)


async def report(_update: Update, context: Context, who: Principal) -> None:
    """`/report`: a check-in on the patient's own initiative."""
    chat_id = who.chat_id
    sent = await services(context).checkins.start_report(chat_id)
    if sent is None:
        await _reply_or_greet(context, chat_id, None)


async def text(update: Update, context: Context, who: Principal) -> None:
    """Anything a person writes (new or edited), and photos by their caption."""
    chat_id = who.chat_id
    message = update.effective_message
    if message is None:
        return
    words = message.text or message.caption or ""
    svc = services(context)
    # An /enrol under way comes first (a clinician may be a patient too).
    if message.text and await svc.desk.may_enrol(chat_id):
        desk = await svc.desk.answer(chat_id, words)
        if desk is not None:
            await send(context, chat_id, desk)
            return
    result = await svc.checkins.message(chat_id, words, identify=True)
    if result is None:  # not a patient: a clinician's /enrol or outcome note, or a stranger
        desk = await svc.desk.answer(chat_id, words) if message.text else None
        if desk is not None:  # (a clinician registered since the last look)
            await send(context, chat_id, desk)
            return
        note = await svc.clinician_actions.outcome_note(chat_id, words)
        if note is not None:
            await send(context, chat_id, note)
            return
        result = await svc.outsiders.message(chat_id, words, telegram_language(update))
        if result is None:
            await _reply_or_greet(context, chat_id, None)
            return
    await deliver(context, chat_id, result)


async def photo(update: Update, context: Context, who: Principal) -> None:
    """A photo, or an image sent as a file (full resolution), with its caption."""
    chat_id = who.chat_id
    message = update.effective_message
    if message is None:
        return
    if message.photo:
        best = message.photo[-1]  # Telegram lists sizes smallest first
        file_id, unique_id, size = best.file_id, best.file_unique_id, best.file_size
        mime = "image/jpeg"
    elif message.document is not None:
        doc = message.document
        file_id, unique_id, size = doc.file_id, doc.file_unique_id, doc.file_size
        mime = doc.mime_type or "application/octet-stream"
    else:
        return
    result = await services(context).photos.receive(
        chat_id, file_id=file_id, unique_id=unique_id, size=size, mime=mime,
        caption=message.caption or "",
    )
    if result is None:  # not a patient
        result = await services(context).outsiders.message(chat_id, message.caption or "",
                                                           telegram_language(update))
    if result is None and (await services(context).access.principal(chat_id)).clinician_id:
        await _reply_or_greet(context, chat_id, None)  # a clinician: their help
        return
    if result is None:  # nothing kept, the emergency line said
        await services(context).outbound.say(chat_id, "media_outsider",
                                             telegram_language(update))
        return
    await deliver(context, chat_id, result)


async def voice(update: Update, context: Context, who: Principal) -> None:
    """A voice note, audio file or video note."""
    note = note_of(update.to_dict())
    if note is None:
        return
    svc = services(context)
    result = await svc.voice.receive(who.chat_id, update.update_id, note)
    if result is None:  # after /stop: "not kept, /start resumes"; for others, what we read
        result = await svc.outsiders.message(who.chat_id, "", telegram_language(update))
    if result is None:  # not a patient: nothing kept, the emergency line said
        await svc.outbound.say(who.chat_id, "voice_outsider", telegram_language(update))
        return
    await deliver(context, who.chat_id, result)


async def unsupported(update: Update, context: Context, who: Principal) -> None:
    """Stickers, voice, locations...: say what the bot can read."""
    await services(context).outbound.say(who.chat_id, "unsupported", telegram_language(update))


async def unknown_command(update: Update, context: Context, who: Principal) -> None:
    """A command the bot does not know."""
    await services(context).outbound.say(who.chat_id, "unknown_command",
                                         telegram_language(update))


async def deliver(context: Context, chat_id: int, result: MessageResult) -> None:
    """Say the replies (the instruction to call emergency services in the highest lane),
    then page clinicians, then forward the photo: all once the update's effects commit."""
    svc = services(context)
    for n, reply in enumerate(result.replies):
        await svc.outbound.reply(chat_id, reply, emergency=result.emergency and n == 0)
    if result.pages:
        pages = result.pages
        await svc.outbox.later(lambda: _dispatched(svc.paging.send(pages)))
    if result.photo_id is not None:
        photo_id = result.photo_id
        await svc.outbox.later(lambda: _dispatched(svc.photos.forward(photo_id)))


async def _dispatched(work: Awaitable[object]) -> None:
    await work


async def _reply_or_greet(context: Context, chat_id: int, reply: Reply | None) -> None:
    if reply is not None:
        await send(context, chat_id, reply)
        return
    await deliver(context, chat_id, await services(context).patients.greet(chat_id))


async def mydata(_update: Update, context: Context, who: Principal) -> None:
    """`/mydata`: a readable summary, then everything as a JSON file."""
    export = await services(context).privacy.export(who.chat_id)
    if export is None:
        await _reply_or_greet(context, who.chat_id, None)
        return
    outbound = services(context).outbound
    await outbound.reply(who.chat_id, export.summary)
    caption = outbound.message("mydata_caption", export.language).text
    await outbound.document(who.chat_id, export.document, export.filename, caption)


async def forget(_update: Update, context: Context, who: Principal) -> None:
    """`/forget`: asks for confirmation first."""
    reply = await services(context).privacy.ask_forget(who.chat_id)
    await _reply_or_greet(context, who.chat_id, reply)


async def language(_update: Update, context: Context, who: Principal) -> None:
    """`/language`: the patient picks the language the bot writes in."""
    reply = await services(context).patients.ask_language(who.chat_id)
    await _reply_or_greet(context, who.chat_id, reply)
