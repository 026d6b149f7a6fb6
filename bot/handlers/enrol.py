"""`/enrol` in the chair: a clinician answers three questions and gets the link and QR code."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import segno
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.handlers.context import Context, private_chat_id, services
from bot.handlers.guard import authorize
from bot.services.access import Role
from bot.services.enrolment import deep_link

NAME, WHEN, AREAS = range(3)
AREA_CHOICES = ["face", "neck", "décolleté", "scalp", "body", "hands"]
KEY = "enrol"  # the draft's one key in chat_data


@dataclass(slots=True)
class EnrolDraft:
    """What the clinician has answered so far."""

    name: str = ""
    session_at: datetime | None = None
    areas: list[str] = field(default_factory=list)


def _draft(context: Context) -> EnrolDraft:
    data: dict[Any, Any] = context.chat_data if context.chat_data is not None else {}
    draft = data.get(KEY)
    if not isinstance(draft, EnrolDraft):
        draft = EnrolDraft()
        data[KEY] = draft
    return draft


def _areas_markup(chosen: list[str]) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(("✔ " if a in chosen else "") + a, callback_data=f"n:a:{i}")
        for i, a in enumerate(AREA_CHOICES)
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append([InlineKeyboardButton("Done ✔", callback_data="n:done")])
    return InlineKeyboardMarkup(rows)


async def start(update: Update, context: Context) -> int:
    """`/enrol`: only clinicians; asks the patient's name."""
    chat_id = private_chat_id(update)
    svc = services(context)
    if chat_id is None or await authorize(context, chat_id, Role.CLINICIAN) is None:
        if chat_id is not None:
            await context.bot.send_message(chat_id, svc.deps.content.messages["not_clinician"])
        return ConversationHandler.END
    if context.chat_data is not None:
        context.chat_data[KEY] = EnrolDraft()
    await context.bot.send_message(chat_id, "New patient: what is their full name? (/cancel)")
    return NAME


async def name(update: Update, context: Context) -> int:
    """The patient's name; then asks when the session was."""
    message = update.effective_message
    text = (message.text or "").strip() if message else ""
    if not 1 <= len(text) <= 100 or message is None:
        if message is not None:
            await message.reply_text("Please send the patient's name (up to 100 characters).")
        return NAME
    _draft(context).name = text
    await message.reply_text(
        "When was the session? Tap Now, or send a time like 14:30 or 2026-11-20 14:30.",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Now", callback_data="n:now")]]),
    )
    return WHEN


async def when_now(update: Update, context: Context) -> int:
    """The session is now; then asks the areas."""
    query = update.callback_query
    if query is None:
        return WHEN
    await query.answer()
    _draft(context).session_at = services(context).deps.clock.now()
    await query.edit_message_text(
        "Session: now. Which areas were treated?", reply_markup=_areas_markup([])
    )
    return AREAS


async def when_typed(update: Update, context: Context) -> int:
    """A typed session time (local to the clinic); then asks the areas."""
    message = update.effective_message
    if message is None:
        return WHEN
    deps = services(context).deps
    text = (message.text or "").strip()
    local_now = deps.clock.now().astimezone(deps.clinic_tz)
    try:
        if len(text) <= 5:
            hours, minutes = (int(p) for p in text.split(":"))
            moment = local_now.replace(hour=hours, minute=minutes, second=0, microsecond=0)
        else:
            moment = datetime.fromisoformat(text).replace(tzinfo=deps.clinic_tz)
    except ValueError:
        await message.reply_text("I couldn't read that time: send 14:30 or 2026-11-20 14:30.")
        return WHEN
    if moment > local_now:
        await message.reply_text("That is in the future: send the time the session took place.")
        return WHEN
    _draft(context).session_at = moment
    await message.reply_text(
        f"Session: {moment:%a %d %b %H:%M}. Which areas were treated?",
        reply_markup=_areas_markup([]),
    )
    return AREAS


async def toggle_area(update: Update, context: Context) -> int:
    """Tick or untick a treated area."""
    query = update.callback_query
    if query is None or not query.data:
        return AREAS
    index = int(query.data.rsplit(":", 1)[1]) if query.data.rsplit(":", 1)[1].isdigit() else -1
    await query.answer()
    if 0 <= index < len(AREA_CHOICES):
        draft = _draft(context)
        area = AREA_CHOICES[index]
        draft.areas = [a for a in draft.areas if a != area] if area in draft.areas else [
            *draft.areas, area
        ]
        await query.edit_message_reply_markup(_areas_markup(draft.areas))
    return AREAS


async def done(update: Update, context: Context) -> int:
    """Create the patient and show the link and its QR code."""
    query = update.callback_query
    chat_id = private_chat_id(update)
    if query is None or chat_id is None:
        return ConversationHandler.END
    svc = services(context)
    who = await authorize(context, chat_id, Role.CLINICIAN)  # deactivated meanwhile?
    if who is None:
        await query.answer(svc.deps.content.messages["not_clinician"])
        return ConversationHandler.END
    await query.answer()
    draft = _draft(context)
    if draft.session_at is None or not draft.name:
        await query.edit_message_text("Something was missing; start again with /enrol.")
        return ConversationHandler.END
    invitation = await svc.enrolment.invite_patient(
        name=draft.name, session_at=draft.session_at, areas=", ".join(draft.areas),
        actor=who.actor,
    )
    link = deep_link(context.bot.username, invitation.token)
    png = io.BytesIO()
    segno.make(link, error="m").save(png, kind="png", scale=8, border=4)
    await query.edit_message_text(f"Areas: {', '.join(draft.areas) or 'not recorded'}.")
    days = svc.deps.token_ttl.days
    await context.bot.send_photo(
        chat_id,
        png.getvalue(),
        caption=(
            f"{draft.name} (patient #{invitation.patient_id}): let them scan this code, or "
            f"send them the link. It works once, for {days} days.\n{link}"
        ),
    )
    if context.chat_data is not None:
        context.chat_data.pop(KEY, None)
    return ConversationHandler.END


async def cancel(update: Update, context: Context) -> int:
    """`/cancel`: drop the enrolment in progress."""
    message = update.effective_message
    if context.chat_data is not None:
        context.chat_data.pop(KEY, None)
    if message is not None:
        await message.reply_text("Enrolment cancelled.")
    return ConversationHandler.END


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
                    CallbackQueryHandler(when_now, pattern="^n:now$"),
                    MessageHandler(text, when_typed),
                ],
                AREAS: [
                    CallbackQueryHandler(toggle_area, pattern=r"^n:a:\d+$"),
                    CallbackQueryHandler(done, pattern="^n:done$"),
                ],
            },
            fallbacks=[CommandHandler("cancel", cancel, filters=private)],
            per_user=True,
            per_chat=True,
        )
