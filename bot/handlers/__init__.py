"""All handlers, registered in one place, each through the one authorisation point."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.core.flood import FloodLimit
from bot.handlers import buttons, clinician, enrol, errors, membership, patient
from bot.handlers.gate import Gate
from bot.handlers.guard import allow
from bot.services.access import Role

ANYONE, CLINICIAN, ADMIN = Role.ANYONE, Role.CLINICIAN, Role.ADMIN


def register(app: Application[Any, Any, Any, Any, Any, Any], flood: FloodLimit) -> None:
    """Route every kind of update; anything unrouted is ignored on purpose."""
    private = filters.ChatType.PRIVATE
    app.add_handler(TypeHandler(Update, Gate(flood)), group=-1)
    for handler in enrol.handlers():  # its buttons before the catch-all for stale ones
        app.add_handler(handler)
    commands = [
        ("start", ANYONE, patient.start),
        ("help", ANYONE, patient.help_command),
        ("status", ANYONE, patient.status),
        ("stop", ANYONE, patient.stop),
        ("report", ANYONE, patient.report),
        ("mydata", ANYONE, patient.mydata),
        ("forget", ANYONE, patient.forget),
        ("language", ANYONE, patient.language),
        ("patient", CLINICIAN, clinician.patient),
        ("patients", CLINICIAN, clinician.patients),
        ("open", CLINICIAN, clinician.open_escalations),
        ("stats", CLINICIAN, clinician.stats),
        ("console", CLINICIAN, clinician.console),
        ("clinicians", ADMIN, clinician.clinicians),
        ("rota", ADMIN, clinician.rota),
        ("deactivate", ADMIN, clinician.deactivate),
    ]
    for name, role, callback in commands:
        app.add_handler(CommandHandler(name, allow(role, callback), filters=private))
    app.add_handler(
        MessageHandler(private & filters.COMMAND, allow(ANYONE, patient.unknown_command))
    )
    # A GIF arrives with a document too: it is no photo to keep (it gets "unsupported").
    pictures = filters.PHOTO | (filters.Document.ALL & ~filters.ANIMATION)
    app.add_handler(MessageHandler(private & pictures, allow(ANYONE, patient.photo)))
    app.add_handler(MessageHandler(private & filters.TEXT, allow(ANYONE, patient.text)))
    sounds = filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE
    app.add_handler(MessageHandler(private & sounds, allow(ANYONE, patient.voice)))
    app.add_handler(
        MessageHandler(private & ~filters.StatusUpdate.ALL, allow(ANYONE, patient.unsupported))
    )
    for button in buttons.handlers():  # one per kind of button, each press authorised
        app.add_handler(button)
    app.add_handler(ChatMemberHandler(membership.on_member, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_error_handler(errors.on_error)
