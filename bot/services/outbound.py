"""The one path for what the bot says to a person in answer to them: replies, edits of
the pressed screen, pictures, files and voice notes are outbox rows (`bot.services.outbox`),
written with the change that caused them; a button's toast (good for seconds only) follows
once that change is committed. All share the messenger's pacing and its error translation
with check-ins and pages. Handlers pass what a use case returned; the words come from
content."""

from __future__ import annotations

import contextlib
import logging

from bot.services.common import Deps
from bot.services.outbox import Outbox
from bot.services.ports import DeliveryError, Reply
from bot.store.models import OutboxKind, Photo

log = logging.getLogger(__name__)


class Outbound:
    """Answers the chat that asked."""

    def __init__(self, deps: Deps, outbox: Outbox) -> None:
        self.d = deps
        self.outbox = outbox

    def message(self, key: str, language: str = "", **fields: object) -> Reply:
        """The content's message `key` in `language` (the clinic's when not shipped), its
        placeholders filled (clinic and emergency number always available)."""
        content = self.d.speaks(language)
        clinic = content.clinic
        return Reply(
            content.messages.format(
                key, clinic=clinic.name, emergency_number=clinic.emergency_number, **fields
            )
        )

    async def reply(self, chat_id: int, reply: Reply, *, emergency: bool = False) -> None:
        """Say `reply` (the instruction to call emergency services when `emergency`)."""
        await self.outbox.say(chat_id, reply, emergency=emergency)

    async def say(self, chat_id: int, key: str, language: str = "", **fields: object) -> None:
        """Say the content's message `key` (in `language`, else the clinic's)."""
        await self.reply(chat_id, self.message(key, language, **fields))

    async def edit(self, chat_id: int, message_id: int, reply: Reply) -> None:
        """Replace a screen's text and buttons (an unchanged screen is not an error)."""
        await self.outbox.edit(chat_id, message_id, reply)

    async def toast(self, press_id: str, text: str | None = None, *, alert: bool = False) -> None:
        """Answer a button press (every press is answered, if only to stop its spinner).
        A toast is a courtesy of the moment: one that cannot be delivered is dropped."""

        async def answer() -> None:
            with contextlib.suppress(DeliveryError):
                await self.d.messenger.answer_press(press_id, text, alert=alert)

        await self.outbox.later(answer)

    async def picture(self, chat_id: int, data: bytes, caption: str | None = None) -> None:
        """Send a picture, after the chat's text."""
        await self.outbox.send_file(chat_id, OutboxKind.PHOTO, data, caption or "")

    async def media(self, chat_id: int, photo: Photo, data: bytes, caption: str) -> None:
        """Send a kept voice note (or other media) back, after the chat's text: a voice
        note plays in the chat."""
        if photo.mime == "audio/ogg":
            await self.outbox.send_file(chat_id, OutboxKind.VOICE, data, caption)
        elif photo.mime.startswith("image/"):
            await self.outbox.send_file(chat_id, OutboxKind.PHOTO, data, caption)
        else:
            name = f"day{photo.day}.{photo.path.rsplit('.', 1)[-1]}"
            await self.document(chat_id, data, name, caption)

    async def document(
        self, chat_id: int, data: bytes, filename: str, caption: str | None = None
    ) -> None:
        """Send a file, after the chat's text."""
        await self.outbox.send_file(chat_id, OutboxKind.DOCUMENT, data, caption or "",
                                    filename=filename)
