"""Photos (and voice notes) patients send: kept at full resolution, attached to what they
reported, forwarded to the clinicians paged about it."""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import timedelta
from typing import Any

from bot.core.media import sniff
from bot.core.texts import plain
from bot.services.checkins import Checkins
from bot.services.common import Deps, day_of, followed
from bot.services.ports import DeliveryError, FileTooBig, MessageResult, Reply
from bot.store.models import OutboxKind, Patient, Photo

log = logging.getLogger(__name__)

TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
# What the photo store keeps: photos, and voice notes, audio files and video notes.
MEDIA = TYPES | {"audio/ogg": "ogg", "audio/mpeg": "mp3", "audio/mp4": "m4a",
                 "audio/x-wav": "wav", "audio/wav": "wav", "video/mp4": "mp4"}
ATTACH_WINDOW = timedelta(hours=48)  # a photo joins an open escalation this recent
FETCHED_BYTES = 64 * 1024 * 1024  # photos downloaded ahead of their handling, at most
WORDS_KEPT = 700  # of a caption or transcript: what fits in a forwarded note's caption


class Photos:
    """Receive, store and route patients' photos."""

    def __init__(self, deps: Deps, checkins: Checkins) -> None:
        self.d = deps
        self.checkins = checkins
        self._fetched: OrderedDict[str, bytes | DeliveryError] = OrderedDict()

    async def prepare(self, update: dict[str, Any]) -> None:
        """Download a patient's photo before its update is handled: a slow transfer must
        not hold the database (SQLite has one connection) while it runs."""
        found = picture_of(update)
        if found is None or found[0] in self._fetched:
            return
        file_id, size, mime, chat_id = found
        if mime not in TYPES or (size is not None and size > self.d.max_photo_bytes):
            return  # refused when handled, without a download
        async with self.d.store.unit_of_work() as uow:  # a stranger's photo is not fetched
            if not followed(await uow.patients.by_chat(chat_id)):
                return
        try:
            data: bytes | DeliveryError = await self.d.messenger.fetch_file(
                file_id, limit=self.d.max_photo_bytes)
        except DeliveryError as exc:
            data = exc
        self._fetched[file_id] = data
        while sum(len(d) for d in self._fetched.values() if isinstance(d, bytes)) > FETCHED_BYTES:
            self._fetched.popitem(last=False)

    async def _fetch(self, file_id: str) -> bytes:
        """The photo downloaded ahead (`prepare`), or now."""
        fetched = self._fetched.pop(file_id, None)
        if isinstance(fetched, DeliveryError):
            raise fetched
        if fetched is not None:
            return fetched
        return await self.d.messenger.fetch_file(file_id, limit=self.d.max_photo_bytes)

    async def receive(
        self,
        chat_id: int,
        *,
        file_id: str,
        unique_id: str,
        size: int | None,
        mime: str,
        caption: str = "",
    ) -> MessageResult | None:
        """A photo (or image file) from a chat; None if the chat is not a followed patient's."""
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.by_chat(chat_id)
        if not followed(patient):
            return None
        # The caption is the patient's words: triaged first, so a red flag is never delayed
        # (nor lost with a file the bot cannot keep).
        said = (await self.checkins.message(chat_id, caption, identify=True)
                if caption.strip() else None)
        if mime not in TYPES:
            return self._reply(said, self._say(patient, "photo_wrong_type"), None)
        limit_mb = self.d.max_photo_bytes / (1024 * 1024)
        if size is not None and size > self.d.max_photo_bytes:
            return self._reply(said, self._say(patient, "photo_too_big", limit=f"{limit_mb:g}"),
                               None)
        # From here on, whatever happens to the photo, the caption's replies and pages (claimed
        # by this process) must reach the handler.
        try:
            data = await self._fetch(file_id)
        except FileTooBig:
            too_big = self._say(patient, "photo_too_big", limit=f"{limit_mb:g}")
            return self._reply(said, too_big, None)
        except DeliveryError as exc:
            log.warning("photo from patient %s could not be downloaded: %s", patient.id, exc)
            return self._reply(said, self._say(patient, "photo_failed"), None)
        sniffed = sniff(data)  # the bytes say what it is, not the name or the claim
        if sniffed not in TYPES:
            return self._reply(said, self._say(patient, "photo_wrong_type"), None)
        try:
            return await self._store(patient, said, unique_id, data, sniffed, caption=caption)
        except Exception:
            log.exception("photo from patient %s could not be stored", patient.id)
            return self._reply(said, self._say(patient, "photo_failed"), None)

    async def _store(
        self, patient: Patient, said: MessageResult | None, unique_id: str, data: bytes,
        mime: str, *, caption: str,
    ) -> MessageResult:
        """Keep the photo, attached to the escalation it belongs to (if any)."""
        photo_id, attached = await self._keep(patient, said, unique_id, data, mime, words=caption)
        return self._reply(said, self._thanks(patient, attached), photo_id)

    async def keep(
        self, patient: Patient, said: MessageResult | None, unique_id: str, data: bytes,
        mime: str, *, words: str = "",
    ) -> int | None:
        """Keep a photo or a voice note (with what was said with it); its id (None if it
        was kept already)."""
        photo_id, _ = await self._keep(patient, said, unique_id, data, mime, words=words)
        return photo_id

    async def _keep(
        self, patient: Patient, said: MessageResult | None, unique_id: str, data: bytes,
        mime: str, *, words: str = "",
    ) -> tuple[int | None, bool]:
        """The stored media's id (None if known already), and whether it joined an
        escalation: the one `said` raised, or the patient's latest open one."""
        assert patient.id is not None
        now = self.d.clock.now()
        async with self.d.store.unit_of_work() as uow:
            escalation = None
            if said is not None and said.escalation_id is not None:
                escalation = await uow.escalations.get(said.escalation_id)
            if escalation is None:
                escalation = await uow.escalations.latest_open(patient.id, now - ATTACH_WINDOW)
            if await uow.patients.photo_known(patient.id, unique_id):
                return None, escalation is not None
            day = day_of(patient, await uow.patients.sessions_of(patient.id), now)
            assert self.d.photo_store is not None
            path = await self.d.photo_store.save(
                patient.id, f"day{day}-{unique_id}", data, MEDIA.get(mime, "bin")
            )
            photo = await uow.add(
                Photo(
                    patient_id=patient.id,
                    escalation_id=escalation.id if escalation else None,
                    file_unique_id=unique_id,
                    path=path,
                    size=len(data),
                    mime=mime,
                    day=day,
                    created_at=now,
                    words=plain(words)[:WORDS_KEPT] or None,  # PostgreSQL refuses NUL
                )
            )
        return photo.id, escalation is not None

    async def forward(self, photo_id: int) -> int:
        """Send a photo or voice note to every clinician paged for its escalation; to how
        many."""
        async with self.d.store.unit_of_work() as uow:
            photo = await uow.patients.photo(photo_id)
            if photo is None or photo.escalation_id is None:
                return 0
            patient = await uow.patients.get(photo.patient_id)
            chats = sorted(
                {
                    p.chat_id
                    for p in await uow.escalations.pings_of(photo.escalation_id)
                    if p.message_id
                }
            )
        if not chats or patient is None or self.d.photo_store is None:
            return 0
        data = await self.d.photo_store.read(photo.path)
        picture = photo.mime.startswith("image/")
        caption = (
            f"{'📷' if picture else '🎤'} {patient.name} (#{patient.id}), day {photo.day}, "
            f"for escalation #{photo.escalation_id}"
        ) + (f": “{photo.words}”" if photo.words else "")
        # Telegram plays OGG/Opus as a voice note; anything else that is not a picture
        # goes as a file.
        kind = (OutboxKind.PHOTO if picture
                else OutboxKind.VOICE if photo.mime == "audio/ogg" else OutboxKind.DOCUMENT)
        name = f"day{photo.day}.{MEDIA.get(photo.mime, 'bin')}"
        for chat_id in chats:  # rows, like every message: kept until delivered
            await self.checkins.outbox.send_file(chat_id, kind, data, caption[:1024],
                                                 filename=name, patient_id=patient.id)
        return len(chats)

    def _say(self, patient: Patient, key: str, **fields: object) -> Reply:
        """A problem with the file, said with the emergency line: the patient may have
        been sending it about a warning sign."""
        content = self.d.speaks_to(patient)
        number = content.clinic.emergency_number
        return Reply(content.messages.format(key, emergency_number=number, **fields))

    def _thanks(self, patient: Patient, attached: bool) -> Reply:
        m = self.d.speaks_to(patient).messages
        return Reply(m["photo_attached"] if attached else m["photo_saved"])

    @staticmethod
    def _reply(
        said: MessageResult | None, about_photo: Reply, photo_id: int | None
    ) -> MessageResult:
        """What answers the caption (`said`), then `about_photo`."""
        if said is None:
            return MessageResult((about_photo,), photo_id=photo_id)
        replies = said.replies if said.emergency else (*said.replies, about_photo)
        # Nothing follows, and so dilutes, an instruction to call emergency services.
        return MessageResult(
            replies, escalation_id=said.escalation_id, pages=said.pages, emergency=said.emergency,
            photo_id=photo_id,
        )


def picture_of(update: dict[str, Any]) -> tuple[str, int | None, str, int] | None:
    """The file, claimed size and type, and chat of a private photo or file (a GIF is not
    one), as the photo handler reads them."""
    body = update.get("message")
    if not isinstance(body, dict) or (body.get("chat") or {}).get("type") != "private":
        return None
    chat_id = body["chat"].get("id")
    photo, document = body.get("photo"), body.get("document")
    if isinstance(photo, list) and photo and isinstance(photo[-1], dict):
        item, mime = photo[-1], "image/jpeg"  # Telegram lists sizes smallest first
    elif isinstance(document, dict) and "animation" not in body:
        item, mime = document, str(document.get("mime_type") or "application/octet-stream")
    else:
        return None
    file_id, size = item.get("file_id"), item.get("file_size")
    if not isinstance(file_id, str) or not isinstance(chat_id, int):
        return None
    return file_id, size if isinstance(size, int) else None, mime, chat_id
