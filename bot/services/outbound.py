"""The one path for what the bot says to a person in answer to them: replies, edits of
the pressed screen, button toasts, pictures and files go through the `Messenger` port, so
they share its pacing and its error translation with check-ins and pages. Handlers pass what
a use case returned; the words come from content."""

from __future__ import annotations

from bot.services.common import Deps
from bot.services.ports import Reply


class Outbound:
    """Sends a use case's answer to the chat that asked."""

    def __init__(self, deps: Deps) -> None:
        self.d = deps

    def message(self, key: str, **fields: object) -> Reply:
        """The content's message `key`, its placeholders filled (clinic and emergency number
        always available)."""
        clinic = self.d.content.clinic
        return Reply(
            self.d.content.messages.format(
                key, clinic=clinic.name, emergency_number=clinic.emergency_number, **fields
            )
        )

    async def reply(self, chat_id: int, reply: Reply) -> int:
        """Send one message; its id."""
        return await self.d.messenger.send(chat_id, reply.text, reply.keyboard)

    async def say(self, chat_id: int, key: str, **fields: object) -> int:
        """Send the content's message `key`."""
        return await self.reply(chat_id, self.message(key, **fields))

    async def edit(self, chat_id: int, message_id: int, reply: Reply) -> None:
        """Replace a screen's text and buttons (an unchanged screen is not an error)."""
        await self.d.messenger.edit(chat_id, message_id, reply.text, reply.keyboard)

    async def toast(self, press_id: str, text: str | None = None, *, alert: bool = False) -> None:
        """Answer a button press (every press is answered, if only to stop its spinner)."""
        await self.d.messenger.answer_press(press_id, text, alert=alert)

    async def picture(self, chat_id: int, data: bytes, caption: str | None = None) -> int:
        return await self.d.messenger.send_photo(chat_id, data, caption)

    async def document(
        self, chat_id: int, data: bytes, filename: str, caption: str | None = None
    ) -> int:
        return await self.d.messenger.send_document(chat_id, data, filename, caption)
