"""A Telegram user a test can act as: every action becomes the Update Telegram would send."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .formatting import utf16_len
from .models import BotMessage, JSONDict

if TYPE_CHECKING:
    from .server import SandboxTelegram

__all__ = ["TINY_JPEG", "TINY_OGG", "SandboxUser"]

# Enough of a JPEG (SOI, JFIF header, EOI) to look like one; the bot never decodes it here.
TINY_JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00sandbox-photo\xff\xd9"
)
TINY_OGG = b"OggS\x00\x02" + bytes(20) + b"sandbox-voice"
_TINY_WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8 sandbox-sticker"


class SandboxUser:
    """A person talking to the bot in their private chat (chat id == user id).

    Each action stores what the person did, queues the resulting Update for getUpdates
    (unless the server's ``auto_queue`` is off) and returns the Update as a dict, ready for
    ``Update.de_json(update, bot)``. Message actions take ``chat_id`` to act in a group instead.
    """

    def __init__(self, server: SandboxTelegram, user: JSONDict) -> None:
        self.server = server
        self._user = user

    def __repr__(self) -> str:
        return f"SandboxUser(id={self.id}, first_name={self.first_name!r})"

    @property
    def id(self) -> int:
        """The user id, which is also the id of the private chat with the bot."""
        return int(self._user["id"])

    @property
    def chat_id(self) -> int:
        """The private chat's id (same as :attr:`id`)."""
        return self.id

    @property
    def first_name(self) -> str:
        """The user's first name."""
        return str(self._user["first_name"])

    @property
    def username(self) -> str | None:
        """The user's @username without the @, if any."""
        username = self._user.get("username")
        return None if username is None else str(username)

    @property
    def json(self) -> JSONDict:
        """The user as a Bot API User object."""
        return copy.deepcopy(self._user)

    @property
    def blocked(self) -> bool:
        """Whether this user currently blocks the bot."""
        return self.server.is_blocked(self.id)

    def sent(self) -> list[BotMessage]:
        """Bot messages in this user's private chat."""
        return self.server.sent(self.id)

    def last(self) -> BotMessage:
        """The newest bot message in this user's private chat."""
        return self.server.last(self.id)

    # -- messages ----------------------------------------------------------------------------

    def _message(self, body: JSONDict, chat_id: int | None) -> JSONDict:
        target = self.id if chat_id is None else chat_id
        if target == self.id and self.blocked:
            raise AssertionError(f"{self.first_name} has blocked the bot; call unblock() first")
        message = self.server._store_user_message(target, self.json, body)
        return self.server.push_update("message", message)

    def say(self, text: str, *, chat_id: int | None = None) -> JSONDict:
        """Send a text message; a leading ``/command`` gets its bot_command entity."""
        if not text:
            raise ValueError("Telegram clients cannot send empty messages")
        body: JSONDict = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            body["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        return self._message(body, chat_id)

    def send_photo(
        self,
        data: bytes = TINY_JPEG,
        caption: str | None = None,
        width: int = 1280,
        height: int = 960,
        *,
        chat_id: int | None = None,
    ) -> JSONDict:
        """Send a photo; every size's file id downloads ``data``."""
        body: JSONDict = {"photo": self.server._photo_sizes(data, width, height)}
        if caption:
            body["caption"] = caption
        return self._message(body, chat_id)

    def send_document(
        self,
        data: bytes = b"%PDF-1.4 sandbox",
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        *,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> JSONDict:
        """Send a file as a document."""
        extension = file_name.rsplit(".", 1)[-1] if "." in file_name else "bin"
        stored = self.server._register_file("document", data, extension)
        body: JSONDict = {
            "document": self.server._file_json(stored, file_name=file_name, mime_type=mime_type)
        }
        if caption:
            body["caption"] = caption
        return self._message(body, chat_id)

    def send_voice(
        self, data: bytes = TINY_OGG, duration: int = 1, *, chat_id: int | None = None
    ) -> JSONDict:
        """Send a voice note."""
        stored = self.server._register_file("voice", data, "oga")
        voice = self.server._file_json(stored, duration=duration, mime_type="audio/ogg")
        return self._message({"voice": voice}, chat_id)

    def send_audio(
        self, data: bytes = TINY_OGG, duration: int = 1, mime_type: str = "audio/ogg", *,
        caption: str | None = None, chat_id: int | None = None,
    ) -> JSONDict:
        """Send an audio file (a recording shared from another app)."""
        stored = self.server._register_file("audio", data, "ogg")
        audio = self.server._file_json(stored, duration=duration, mime_type=mime_type)
        body: JSONDict = {"audio": audio}
        if caption:
            body["caption"] = caption
        return self._message(body, chat_id)

    def send_video_note(
        self, data: bytes = b"", duration: int = 1, *, chat_id: int | None = None
    ) -> JSONDict:
        """Send a round video note (Telegram sends MP4)."""
        stored = self.server._register_file("video_note", data, "mp4")
        note = self.server._file_json(stored, duration=duration, length=240)
        return self._message({"video_note": note}, chat_id)

    def send_animation(self, data: bytes = b"GIF89a", *, chat_id: int | None = None) -> JSONDict:
        """Send a GIF: Telegram fills `document` too, for older clients."""
        stored = self.server._register_file("animation", data, "mp4")
        animation = self.server._file_json(stored, width=320, height=240, duration=2,
                                           file_name="funny.gif.mp4", mime_type="video/mp4")
        return self._message({"animation": animation, "document": animation}, chat_id)

    def send_dice(self, *, chat_id: int | None = None) -> JSONDict:
        """Throw a die."""
        return self._message({"dice": {"emoji": "🎲", "value": 3}}, chat_id)

    def send_sticker(self, emoji: str = "👍", *, chat_id: int | None = None) -> JSONDict:
        """Send a static sticker."""
        stored = self.server._register_file("sticker", _TINY_WEBP, "webp")
        sticker = self.server._file_json(
            stored,
            type="regular",
            width=512,
            height=512,
            is_animated=False,
            is_video=False,
            emoji=emoji,
        )
        return self._message({"sticker": sticker}, chat_id)

    def send_location(self, lat: float, lon: float, *, chat_id: int | None = None) -> JSONDict:
        """Share a location."""
        return self._message({"location": {"latitude": lat, "longitude": lon}}, chat_id)

    def send_contact(
        self, phone: str, *, first_name: str | None = None, chat_id: int | None = None
    ) -> JSONDict:
        """Share a contact; without ``first_name`` it is the user's own contact card."""
        contact: JSONDict = {"phone_number": phone, "first_name": first_name or self.first_name}
        if first_name is None:
            contact["user_id"] = self.id
        return self._message({"contact": contact}, chat_id)

    def edit(self, message_id: int, text: str, *, chat_id: int | None = None) -> JSONDict:
        """Edit one of this user's own text messages (an ``edited_message`` update)."""
        target = self.id if chat_id is None else chat_id
        stored = self.server._find_message(target, message_id)
        if stored is None or stored.from_bot or stored.json["from"]["id"] != self.id:
            raise AssertionError(f"{self.first_name} has no message {message_id} in chat {target}")
        if "text" not in stored.json:
            raise AssertionError(f"message {message_id} has no text to edit")
        stored.json["text"] = text
        stored.json.pop("entities", None)
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            stored.json["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
            ]
        stored.json["edit_date"] = int(self.server.now().timestamp())
        stored.edits += 1
        return self.server.push_update("edited_message", copy.deepcopy(stored.json))

    # -- buttons -----------------------------------------------------------------------------

    def press(
        self, message_id: int, callback_data: str, *, chat_id: int | None = None
    ) -> JSONDict:
        """Press an inline button carrying ``callback_data`` on a bot message.

        The data is not checked against the keyboard, so tests can also send stale or forged
        callback data; use :meth:`press_button` to press what is actually shown.
        """
        target = self.id if chat_id is None else chat_id
        stored = self.server._find_message(target, message_id)
        if stored is None or not stored.from_bot:
            raise AssertionError(f"no bot message {message_id} in chat {target} to press on")
        query: JSONDict = {
            "id": self.server._register_callback(),
            "from": self.json,
            "message": copy.deepcopy(stored.json),
            "chat_instance": str(abs(target) * 1_000_003 % 10**15),
            "data": callback_data,
        }
        return self.server.push_update("callback_query", query)

    def press_button(
        self, label_prefix: str, *, message_id: int | None = None, chat_id: int | None = None
    ) -> JSONDict:
        """Press the inline button whose label starts with ``label_prefix`` (case-insensitive).

        Looks in ``message_id`` or else the newest bot message in the chat with an inline
        keyboard. An exact label match wins over prefix matches; several prefix matches, or
        none, fail with the labels on offer.
        """
        target = self.id if chat_id is None else chat_id
        message = self._keyboard_message(target, message_id)
        wanted = label_prefix.casefold()
        buttons = [button for row in message.buttons for button in row]
        matches = [b for b in buttons if b[0].casefold() == wanted] or [
            b for b in buttons if b[0].casefold().startswith(wanted)
        ]
        if len(matches) != 1:
            problem = "no button" if not matches else "several buttons"
            raise AssertionError(
                f"{problem} starting with {label_prefix!r} on message {message.message_id}; "
                f"labels: {message.labels}"
            )
        label, data = matches[0]
        if data is None:
            raise AssertionError(
                f"button {label!r} has no callback_data (URL or other non-callback button)"
            )
        return self.press(message.message_id, data, chat_id=target)

    def _keyboard_message(self, chat_id: int, message_id: int | None) -> BotMessage:
        sent = self.server.sent(chat_id)
        if message_id is not None:
            for message in sent:
                if message.message_id == message_id:
                    return message
            raise AssertionError(f"no bot message {message_id} in chat {chat_id}")
        for message in reversed(sent):
            if message.buttons:
                return message
        raise AssertionError(f"no bot message with an inline keyboard in chat {chat_id}")

    # -- membership --------------------------------------------------------------------------

    def block(self) -> JSONDict:
        """Block the bot: a my_chat_member update (member -> kicked); sends then get 403."""
        if self.blocked:
            raise AssertionError(f"{self.first_name} has already blocked the bot")
        self.server._set_blocked(self.id, True)
        return self._membership("member", "kicked")

    def unblock(self) -> JSONDict:
        """Unblock (restart) the bot: a my_chat_member update (kicked -> member)."""
        if not self.blocked:
            raise AssertionError(f"{self.first_name} has not blocked the bot")
        self.server._set_blocked(self.id, False)
        return self._membership("kicked", "member")

    def _membership(self, old: str, new: str) -> JSONDict:
        bot = self.server._bot_sender()

        def member(status: str) -> dict[str, Any]:
            data: dict[str, Any] = {"user": bot, "status": status}
            if status == "kicked":
                data["until_date"] = 0
            return data

        update: JSONDict = {
            "chat": self.server.chat_json(self.id),
            "from": self.json,
            "date": int(self.server.now().timestamp()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
        return self.server.push_update("my_chat_member", update)
