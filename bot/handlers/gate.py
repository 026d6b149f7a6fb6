"""Before any handler: drop what the bot ignores on purpose, and slow down floods.

Ignored on purpose: updates from other bots, group and channel posts, and update kinds
without a chat (inline queries, polls, reactions...). Added to a group, the bot leaves: it
talks about health one to one only. Over the flood limit, a message that reads as a red
flag still goes through (safety first); anything else is dropped with one "slow down".
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from telegram import ChatMember, Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.core.flood import FloodLimit
from bot.handlers.context import Context, services, telegram_language
from bot.services.ports import DeliveryError, Reply

log = logging.getLogger(__name__)

REMEMBERED = 10_000  # updates whose flood decision is kept, for retries
JOINED = frozenset({ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.RESTRICTED})


def _on_behalf(update: Update) -> bool:
    """Business and guest messages: written in someone else's chat, never a patient's own."""
    return any(
        getattr(update, name, None) is not None
        for name in ("business_connection", "business_message", "edited_business_message",
                     "deleted_business_messages", "guest_message")
    )


class Gate:
    """A group -1 handler callback: returns to let the update through, or stops it."""

    def __init__(self, limit: FloodLimit) -> None:
        self.limit = limit
        self._decided: OrderedDict[int, bool] = OrderedDict()  # update id: let through

    def _within_limit(self, update: Update, context: Context, user_id: int) -> bool:
        """Counted once per update, at the time it was sent: an update handled again (a
        retry) or late (a backlog after an outage) is not a flood of its own."""
        known = self._decided.get(update.update_id)
        if known is None:
            message = update.effective_message
            when = (message.edit_date or message.date) if message is not None else None
            sent = when.timestamp() if when is not None else None
            if update.callback_query is not None:  # a press: the message pressed is old
                sent = None
            if sent is None:
                sent = services(context).deps.clock.now().timestamp()
            known = self.limit.take(user_id, sent)
            self._decided[update.update_id] = known
            if len(self._decided) > REMEMBERED:
                self._decided.popitem(last=False)
        return known

    async def __call__(self, update: Update, context: Context) -> None:
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None or user.is_bot or _on_behalf(update):
            raise ApplicationHandlerStop
        if chat.type != chat.PRIVATE:
            await self._leave_groups(update, context)
            raise ApplicationHandlerStop
        if update.my_chat_member is not None:  # blocking the bot is never "too fast"
            return
        if self._within_limit(update, context, user.id) or self._red_flag(update, context):
            return
        log.info("user %s over the flood limit: update %s dropped", user.id, update.update_id)
        await self._refuse(update, context)
        raise ApplicationHandlerStop

    @staticmethod
    async def _leave_groups(update: Update, context: Context) -> None:
        change = update.my_chat_member
        if change is None or change.new_chat_member.status not in JOINED:
            return
        try:
            await context.bot.leave_chat(change.chat.id)
        except TelegramError as exc:
            log.warning("could not leave chat %s: %s", change.chat.id, type(exc).__name__)

    @staticmethod
    def _red_flag(update: Update, context: Context) -> bool:
        message = update.effective_message
        words = (message.text or message.caption or "") if message is not None else ""
        if not words.strip():
            return False
        return services(context).checkins.is_red_flag(words)

    async def _refuse(self, update: Update, context: Context) -> None:
        outbound = services(context).outbound
        text = outbound.message("slow_down", telegram_language(update)).text
        user = update.effective_user
        assert user is not None
        try:
            if update.callback_query is not None:
                await outbound.toast(update.callback_query.id, text)
            elif self.limit.first_refusal(user.id):
                await outbound.reply(user.id, Reply(text))
        except (TelegramError, DeliveryError) as exc:
            log.warning("could not tell user %s to slow down: %s", user.id, type(exc).__name__)
