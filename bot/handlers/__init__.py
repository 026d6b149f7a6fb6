"""All handlers, registered in one place."""

from __future__ import annotations

from typing import Any

from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.handlers import buttons, clinician, enrol, errors, membership, patient

COMMANDS = [
    ("start", "Start or resume the follow-up"),
    ("status", "What comes next"),
    ("report", "Tell your care team how you feel"),
    ("help", "What I can do"),
    ("stop", "Stop the follow-up"),
]


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Route every kind of update; anything unrouted is ignored on purpose."""
    private = filters.ChatType.PRIVATE
    app.add_handler(enrol.conversation())  # first: while it runs it owns the clinician's chat
    app.add_handler(CommandHandler("start", patient.start, filters=private))
    app.add_handler(CommandHandler("help", patient.help_command, filters=private))
    app.add_handler(CommandHandler("status", patient.status, filters=private))
    app.add_handler(CommandHandler("stop", patient.stop, filters=private))
    app.add_handler(CommandHandler("report", patient.report, filters=private))
    app.add_handler(CommandHandler("patient", clinician.patient, filters=private))
    app.add_handler(CommandHandler("patients", clinician.patients, filters=private))
    app.add_handler(CommandHandler("open", clinician.open_escalations, filters=private))
    app.add_handler(CommandHandler("stats", clinician.stats, filters=private))
    app.add_handler(CommandHandler("clinicians", clinician.clinicians, filters=private))
    app.add_handler(CommandHandler("rota", clinician.rota, filters=private))
    app.add_handler(CommandHandler("deactivate", clinician.deactivate, filters=private))
    app.add_handler(MessageHandler(private & filters.COMMAND, patient.unknown_command))
    pictures = filters.PHOTO | filters.Document.ALL
    app.add_handler(MessageHandler(private & pictures, patient.photo))
    app.add_handler(MessageHandler(private & filters.TEXT, patient.text))
    app.add_handler(MessageHandler(private & ~filters.StatusUpdate.ALL, patient.unsupported))
    app.add_handler(CallbackQueryHandler(buttons.on_button))
    app.add_handler(ChatMemberHandler(membership.on_member, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_error_handler(errors.on_error)
