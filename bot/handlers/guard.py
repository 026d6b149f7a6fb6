"""The one authorisation point: every handler is registered through `allow`, every button
press through `authorize`, and both ask `Access` for the role.

Patient handlers need no role: their services find the patient by the chat the update came
from, so a patient can only ever reach their own record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Update

from bot.core import callbacks as cb
from bot.handlers.context import Context, private_chat_id, services
from bot.services.access import Principal, Role

Guarded = Callable[[Update, Context, Principal], Awaitable[None]]
Callback = Callable[[Update, Context], Coroutine[Any, Any, None]]


async def authorize(context: Context, chat_id: int, role: Role) -> Principal | None:
    """The principal if they hold `role`; None otherwise (the caller refuses)."""
    if role is Role.ANYONE:
        return Principal(chat_id, Role.ANYONE)
    who = await services(context).access.principal(chat_id)
    return who if who.can(role) else None


def allow(role: Role, handler: Guarded) -> Callback:
    """A PTB callback that runs `handler` only in a private chat and only for `role`.

    Everyone refused gets the same sentence, whatever the command: it reveals nothing.
    """

    async def checked(update: Update, context: Context) -> None:
        chat_id = private_chat_id(update)
        if chat_id is None:
            return
        who = await authorize(context, chat_id, role)
        if who is None:
            await services(context).outbound.say(chat_id, "not_clinician")
            return
        await handler(update, context, who)

    checked.__name__ = checked.__qualname__ = handler.__name__
    checked.__doc__ = handler.__doc__
    return checked


def press_role(press: cb.Callback) -> Role:
    """The role a button press needs."""
    return Role.CLINICIAN if isinstance(press, cb.EscalationPress | cb.EnrolPress) else Role.ANYONE
