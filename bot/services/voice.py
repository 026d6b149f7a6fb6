"""Voice notes, audio files and video notes: kept for the clinic, transcribed on this
machine, and never the basis of reassurance.

Speech recognition mishears, and its English model turns other languages into confident
nonsense. So a transcript is triaged only for what raises a level (a red flag in it is an
emergency like a typed one), is shown to the patient as "I heard: ..." only as a help, and
every note that is not already an emergency gets the red-flag question: each warning sign
as a button (a tap is an emergency) and "None of these". The note is downloaded and
transcribed before its update's transaction opens (`prepare`), so a slow note holds no
database connection.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from bot.core.media import sniff
from bot.services.checkins import Checkins
from bot.services.common import Deps, followed
from bot.services.photos import Photos
from bot.services.ports import DeliveryError, FileTooBig, MessageResult, Reply, Unheard
from bot.services.questions import Questions
from bot.store.models import Patient

log = logging.getLogger(__name__)
KEPT_BYTES = 64 * 1024 * 1024  # notes heard ahead of their handling, at most
KINDS = {"voice": "audio/ogg", "audio": "audio/mpeg", "video_note": "video/mp4"}


@dataclass(frozen=True, slots=True)
class Heard:
    """A note as far as it could be heard: its bytes, its words, or why not."""

    data: bytes | None
    transcript: str | None = None
    problem: str | None = None  # off | unheard | too_big | failed


@dataclass(frozen=True, slots=True)
class Note:
    """What the handler saw: the file Telegram holds."""

    file_id: str
    unique_id: str
    size: int | None
    mime: str  # audio/ogg for voice notes, video/mp4 for video notes
    caption: str = ""  # audio files and forwarded notes can carry one


class Voice:
    """Receives voice notes from patients."""

    def __init__(
        self, deps: Deps, checkins: Checkins, photos: Photos, questions: Questions
    ) -> None:
        self.d = deps
        self.checkins = checkins
        self.photos = photos
        self.questions = questions
        self.outbox = questions.outbox
        self._heard: OrderedDict[int, Heard] = OrderedDict()

    async def prepare(self, update: dict[str, Any]) -> None:
        """Download and transcribe a private voice note before its update is handled."""
        found = note_of(update)
        update_id = update.get("update_id")
        if found is None or not isinstance(update_id, int) or update_id in self._heard:
            return
        chat_id = update["message"]["chat"].get("id")  # note_of checked the message and chat
        if not isinstance(chat_id, int):
            return
        async with self.d.store.unit_of_work() as uow:  # a stranger's note is not fetched
            if not followed(await uow.patients.by_chat(chat_id)):
                return
        self._heard[update_id] = await self._hear(found)
        while sum(len(h.data or b"") for h in self._heard.values()) > KEPT_BYTES:
            self._heard.popitem(last=False)

    async def _hear(self, note: Note) -> Heard:
        if note.size is not None and note.size > self.d.max_voice_bytes:
            return Heard(None, problem="too_big")
        try:
            data = await self.d.messenger.fetch_file(note.file_id, limit=self.d.max_voice_bytes)
        except FileTooBig:
            return Heard(None, problem="too_big")
        except DeliveryError as exc:
            log.warning("voice note could not be downloaded: %s", exc)
            return Heard(None, problem="failed")
        if not (sniff(data) or "").startswith(("audio/", "video/")):
            return Heard(None, problem="failed")  # not sound at all: not kept
        if self.d.transcriber is None:
            return Heard(data, problem="off")
        started = time.perf_counter()
        try:
            words = await self.d.transcriber.transcribe(data)
        except Exception as exc:  # a note is kept and asked about, whatever the model did
            log.warning("voice note not transcribed: %s",
                        exc if isinstance(exc, Unheard) else type(exc).__name__)
            return Heard(data, problem="unheard")
        finally:
            self.d.metrics.transcribed(time.perf_counter() - started)
        if words is None:
            return Heard(data, problem="off")
        return Heard(data, words) if words.strip() else Heard(data, problem="unheard")

    async def receive(self, chat_id: int, update_id: int, note: Note) -> MessageResult | None:
        """A patient's note; None if the chat is not a followed patient's."""
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.by_chat(chat_id)
        if not followed(patient):
            return None
        # Heard before the transaction opened (`prepare`); never heard inside it (a slow
        # note would hold the database). Not there (evicted): said so, and still asked.
        heard = self._heard.pop(update_id, None) or Heard(None, problem="failed")
        # The caption is the patient's own words: triaged with the transcript (raise only).
        # Separate sentences: a caption's "should I worry" must not reach into the transcript.
        words = "\n".join(w for w in (note.caption, heard.transcript) if w)
        said = await self.checkins.message(chat_id, words, source="voice",
                                           also_in=self.d.transcribes)
        assert said is not None
        media = await self._keep(patient, said, note, heard)
        if said.emergency:  # the instruction and the page: nothing to ask
            return MessageResult(said.replies, escalation_id=said.escalation_id,
                                 pages=said.pages, emergency=True, photo_id=media)
        m = self.d.speaks_to(patient).messages
        if patient.language and patient.language != self.d.transcribes:
            # The recogniser hears English only: what it "heard" of their language is noise.
            about = m["voice_off"]
        elif heard.transcript:
            about = m.format("voice_heard", transcript=heard.transcript[:500])
        else:
            about = m[f"voice_{heard.problem}"]
        for reply in (Reply(about), *said.replies):
            await self.outbox.say(chat_id, reply)
        await self._ask(chat_id, patient, media)
        return MessageResult(escalation_id=said.escalation_id, pages=said.pages, photo_id=media)

    async def _keep(
        self, patient: Patient, said: MessageResult, note: Note, heard: Heard
    ) -> int | None:
        """Keep the note for the clinic; a store that fails loses the audio, never the
        answer's record, its page or its instruction."""
        if heard.data is None:
            return None
        try:
            words = "\n".join(w for w in (note.caption, heard.transcript) if w)
            return await self.photos.keep(patient, said, note.unique_id, heard.data,
                                          sniff(heard.data) or note.mime, words=words)
        except Exception:
            log.exception("voice note of patient %s could not be kept", patient.id)
            return None

    async def _ask(self, chat_id: int, patient: Patient, media: int | None) -> None:
        """The red-flag question, as a check-in of its own (a tap is an answer; the note
        goes with the escalation it raises)."""
        assert patient.id is not None
        async with self.d.store.unit_of_work() as uow:
            sessions = await uow.patients.sessions_of(patient.id)
            asked = await self.questions.create(uow, patient, sessions, kind="voice",
                                                note=media)
        if asked is not None:
            await self.questions.say(chat_id, asked)


def note_of(update: dict[str, Any]) -> Note | None:
    """The voice note, audio file or video note of a person's private message."""
    body = update.get("message")
    if not isinstance(body, dict) or (body.get("chat") or {}).get("type") != "private":
        return None
    for kind, mime in KINDS.items():
        item = body.get(kind)
        if isinstance(item, dict) and isinstance(item.get("file_id"), str):
            size = item.get("file_size")
            said = item.get("mime_type")
            caption = body.get("caption")
            return Note(item["file_id"], str(item.get("file_unique_id") or item["file_id"]),
                        size if isinstance(size, int) else None,
                        said if kind == "audio" and isinstance(said, str) else mime,
                        caption if isinstance(caption, str) else "")
    return None
