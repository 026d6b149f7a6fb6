"""Clinician and admin commands. Anyone else gets the same polite refusal and learns nothing."""

from __future__ import annotations

from telegram import Update

from bot.handlers.context import Context, private_chat_id, send, services
from bot.services.ports import Reply


async def _clinician_chat(update: Update, context: Context, *, admin: bool = False) -> int | None:
    """The chat id if an active clinician (or admin) wrote; otherwise refuse and return None."""
    chat_id = private_chat_id(update)
    if chat_id is None:
        return None
    svc = services(context)
    if await svc.clinic.clinician(chat_id, admin=admin) is None:
        await send(context, chat_id, Reply(svc.deps.content.messages["not_clinician"]))
        return None
    return chat_id


async def show_timeline(context: Context, chat_id: int, patient_id: int) -> None:
    """Send a patient's timeline: the course as text, then the chart, then the photos."""
    view = await services(context).timeline.build(patient_id)
    if view is None:
        await send(context, chat_id, Reply(f"No patient #{patient_id}."))
        return
    for text in view.texts:
        await send(context, chat_id, Reply(text))
    if view.chart is not None:
        await context.bot.send_photo(chat_id, view.chart, caption="Severity by day")
    if view.photos is not None:
        await context.bot.send_photo(chat_id, view.photos, caption="Photos by day")


async def patient(update: Update, context: Context) -> None:
    """`/patient <id or name>`: the patient's timeline."""
    chat_id = await _clinician_chat(update, context)
    if chat_id is None:
        return
    query = " ".join(context.args or [])
    if not query:
        await send(context, chat_id, Reply("Usage: /patient 12  or  /patient Lopez"))
        return
    found = await services(context).clinic.find(query)
    if found.patient_id is None:
        await send(context, chat_id, found.reply or Reply("No such patient."))
        return
    await show_timeline(context, chat_id, found.patient_id)


async def patients(update: Update, context: Context) -> None:
    """`/patients`: active patients, most worrying first."""
    chat_id = await _clinician_chat(update, context)
    if chat_id is not None:
        await send(context, chat_id, await services(context).clinic.patients())


async def open_escalations(update: Update, context: Context) -> None:
    """`/open`: escalations not yet resolved."""
    chat_id = await _clinician_chat(update, context)
    if chat_id is not None:
        await send(context, chat_id, await services(context).clinic.open_escalations())


async def stats(update: Update, context: Context) -> None:
    """`/stats`: clinic figures."""
    chat_id = await _clinician_chat(update, context)
    if chat_id is not None:
        figures = await services(context).stats.figures()
        await send(context, chat_id, Reply(figures.text()))


async def clinicians(update: Update, context: Context) -> None:
    """`/clinicians` (admin): who is registered, active, on the rota."""
    chat_id = await _clinician_chat(update, context, admin=True)
    if chat_id is not None:
        await send(context, chat_id, Reply(await services(context).clinic.clinicians()))


async def rota(update: Update, context: Context) -> None:
    """`/rota 3 1 2` (admin): the on-call order."""
    chat_id = await _clinician_chat(update, context, admin=True)
    if chat_id is None:
        return
    args = context.args or []
    if not all(a.lstrip("#").isdigit() for a in args):
        await send(context, chat_id, Reply("Usage: /rota 3 1 2  (clinician numbers, in order)"))
        return
    text = await services(context).clinic.set_rota([int(a.lstrip("#")) for a in args])
    await send(context, chat_id, Reply(text))


async def deactivate(update: Update, context: Context) -> None:
    """`/deactivate 3` (admin)."""
    chat_id = await _clinician_chat(update, context, admin=True)
    if chat_id is None:
        return
    args = context.args or []
    if len(args) != 1 or not args[0].lstrip("#").isdigit():
        await send(context, chat_id, Reply("Usage: /deactivate 3"))
        return
    text = await services(context).clinic.deactivate(int(args[0].lstrip("#")))
    await send(context, chat_id, Reply(text))
