"""An in-process stand-in for the Telegram Bot API, plugged into PTB as its transport.

The real :class:`telegram.Bot` / ``Application`` talk to :class:`SandboxTelegram` through
:class:`SandboxRequest`; requests are validated against the vendored Bot API schema and
Telegram's limits, recorded, and answered with real Bot API JSON. Tests act as people with
:class:`SandboxUser` and inspect what the bot sent as :class:`BotMessage` snapshots::

    sandbox = SandboxTelegram()
    app = (
        ApplicationBuilder()
        .token(sandbox.token)
        .request(sandbox.request())
        .get_updates_request(sandbox.request())
        .build()
    )
    pat = sandbox.user("Pat")
    await app.process_update(Update.de_json(pat.say("/start"), app.bot))
    assert sandbox.last(pat.id).text
"""

from .models import BotMessage, Fault, FaultKind, RecordedRequest, UploadedFile
from .request import SandboxRequest
from .schema import ApiSchema
from .server import SandboxTelegram
from .users import SandboxUser

__all__ = [
    "ApiSchema",
    "BotMessage",
    "Fault",
    "FaultKind",
    "RecordedRequest",
    "SandboxRequest",
    "SandboxTelegram",
    "SandboxUser",
    "UploadedFile",
]
