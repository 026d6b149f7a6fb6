"""Clinician and admin commands; `guard.allow` has checked the role before any of these runs."""

from __future__ import annotations

from telegram import Update

from bot.handlers.context import Context, send, services
from bot.services.access import Principal
from bot.services.ports import Reply


async def show_timeline(context: Context, who: Principal, patient_id: int) -> None:
    """Send a patient's timeline: the course as text, then the chart, the photos and the
    latest voice notes."""
    chat_id = who.chat_id
    view = await services(context).timeline.build(patient_id, actor=who.actor)
    if view is None:
        await services(context).outbound.say(chat_id, "no_such_patient", id=patient_id)
        return
    for text in view.texts:
        await send(context, chat_id, Reply(text))
    outbound = services(context).outbound
    if view.chart is not None:
        caption = outbound.message("chart_caption").text
        await outbound.picture(chat_id, view.chart, caption=caption)
    if view.photos is not None:
        caption = outbound.message("photos_caption").text
        await outbound.picture(chat_id, view.photos, caption=caption)
    for note, data in view.voices:  # played in the chat, as the patient said it
        caption = outbound.message("voice_caption", day=note.day).text
        await outbound.media(chat_id, note, data, caption)


async def patient(_update: Update, context: Context, who: Principal) -> None:
    """`/patient <id or name>`: the patient's timeline."""
    chat_id = who.chat_id
    query = " ".join(context.args or [])
    if not query:
        await services(context).outbound.say(chat_id, "patient_usage")
        return
    found = await services(context).clinic.find(query)
    if found.patient_id is None:
        reply = found.reply or services(context).outbound.message("no_patient_found")
        await send(context, chat_id, reply)
        return
    await show_timeline(context, who, found.patient_id)


async def patients(_update: Update, context: Context, who: Principal) -> None:
    """`/patients`: active patients, most worrying first."""
    chat_id = who.chat_id
    await send(context, chat_id, await services(context).clinic.patients())


async def open_escalations(_update: Update, context: Context, who: Principal) -> None:
    """`/open`: escalations not yet resolved."""
    chat_id = who.chat_id
    await send(context, chat_id, await services(context).clinic.open_escalations())


async def console(_update: Update, context: Context, who: Principal) -> None:
    """`/console`: a one-time link to the clinic console."""
    await send(context, who.chat_id, await services(context).console.link(who.chat_id))


async def stats(_update: Update, context: Context, who: Principal) -> None:
    """`/stats`: clinic figures."""
    chat_id = who.chat_id
    await send(context, chat_id, Reply(await services(context).stats.report()))


async def clinicians(_update: Update, context: Context, who: Principal) -> None:
    """`/clinicians` (admin): who is registered, active, on the rota."""
    chat_id = who.chat_id
    await send(context, chat_id, Reply(await services(context).clinic.clinicians()))


async def rota(_update: Update, context: Context, who: Principal) -> None:
    """`/rota 3 1 2` (admin): the on-call order."""
    chat_id = who.chat_id
    args = context.args or []
    if not all(a.lstrip("#").isdecimal() for a in args):
        await services(context).outbound.say(chat_id, "rota_usage")
        return
    changed = await services(context).clinic.set_rota(
        [int(a.lstrip("#")) for a in args], actor=who.actor
    )
    await send(context, chat_id, Reply(changed.text))


async def deactivate(_update: Update, context: Context, who: Principal) -> None:
    """`/deactivate 3` (admin)."""
    chat_id = who.chat_id
    args = context.args or []
    if len(args) != 1 or not args[0].lstrip("#").isdecimal():
        await services(context).outbound.say(chat_id, "deactivate_usage")
        return
    svc = services(context)
    text = await svc.clinic.deactivate(int(args[0].lstrip("#")), actor=who.actor)
    await send(context, chat_id, Reply(text))
    await svc.outbox.later(svc.menus.refresh)  # their chat gets the patients' menu back
