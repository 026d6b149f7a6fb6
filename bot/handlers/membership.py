"""`my_chat_member`: a patient who blocks the bot is marked unreachable and the clinic told."""

from __future__ import annotations

from telegram import ChatMember, Update

from bot.handlers.context import Context, private_chat_id, services


async def on_member(update: Update, context: Context) -> None:
    """The bot's membership in a chat changed."""
    change = update.my_chat_member
    chat_id = private_chat_id(update)
    if change is None or chat_id is None:
        return
    if change.new_chat_member.status == ChatMember.BANNED:
        escalation_id = await services(context).dispatcher.blocked(chat_id)
        if escalation_id is not None:
            await services(context).paging.deliver(escalation_id)
