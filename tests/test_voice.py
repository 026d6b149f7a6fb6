"""Voice notes through the real Application and the sandbox, transcribed on this machine by
Moonshine (real OGG/Opus bytes in tests/data/voice): a transcript may raise a level, never
reassure, and every note that is not an emergency gets the red-flag question."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import av
import pytest
import soundfile
from sqlmodel import select

from bot.core.clock import FakeClock
from bot.rehearsal import Rehearsal, sandbox_settings
from bot.sandbox import SandboxUser
from bot.store.db import Database
from bot.store.models import Answer, CheckIn, Escalation, Photo
from tests.conftest import paris
from tests.fakes import assert_instructed
from tests.media_helpers import kept

VOICE = Path(__file__).parent / "data" / "voice"
RED_FLAG = (VOICE / "lips-swelling-cant-breathe.ogg").read_bytes()
MISHEARD = (VOICE / "redness-better-thank-you.ogg").read_bytes()
QUESTION = "To be safe, one question about your voice note."


async def enrolled(r: Rehearsal) -> tuple[SandboxUser, SandboxUser]:
    nurse, ana = r.server.user("Nurse"), r.server.user("Ana")
    await r.invite_clinician(nurse)
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    await r.run_until(paris(2026, 11, 3, 12, 0))
    return nurse, ana


async def test_a_red_flag_said_aloud_is_an_emergency_and_the_clinic_hears_it(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse, ana = await enrolled(r)
    await r.process(ana.send_voice(RED_FLAG, duration=3))
    await r.services.outbox.idle()
    assert_instructed(r.server, ana.id)
    page = next(m for m in r.server.sent(nurse.id) if "EMERGENCY" in (m.text or ""))
    assert "lips are swelling" in (page.text or "")  # the transcript goes with the page
    voices = [q for q in r.server.requests if q.method == "sendVoice"]
    assert [q.params["chat_id"] for q in voices] == [nurse.id]  # and the audio itself
    async with r.db.unit_of_work() as uow:
        [kept] = (await uow.orm.exec(select(Photo))).all()
        [answer] = (await uow.orm.exec(select(Answer).where(Answer.source == "voice"))).all()
    assert kept.mime == "audio/ogg"
    assert answer.level == "emergency"
    await r.say(nurse, "/patient 1")  # the timeline plays it back
    await r.services.outbox.idle()
    voices = [q for q in r.server.requests if q.method == "sendVoice"]
    assert len(voices) == 2
    assert voices[-1].params["caption"] == "🎤 voice note, day 0"
    timeline = next(m.text or "" for m in r.server.sent(nurse.id)
                    if (m.text or "").startswith("📋 Ana"))
    assert "🎤 voice note, day 0" in timeline


async def test_a_harmless_note_is_never_called_normal_and_gets_the_red_flag_question(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse, ana = await enrolled(r)
    before = len(r.server.sent(ana.id))
    await r.process(ana.send_voice(MISHEARD, duration=4))
    heard, question = r.server.sent(ana.id)[before:]
    assert (heard.text or "").startswith("I heard: “")
    assert "can't tell from a voice note that all is well" in (heard.text or "")
    assert "normal course" not in (heard.text or "")
    assert QUESTION in (question.text or "")
    assert "None of these" in question.labels
    assert "Lips, tongue or throat swelling" in question.labels
    await r.press(ana, "None of these")
    assert "in your record for your care team" in (r.server.last(ana.id).text or "")
    assert "✔ None of these" in (r.server.sent(ana.id)[-2].text or "")
    async with r.db.unit_of_work() as uow:
        [asked] = (await uow.orm.exec(select(CheckIn).where(CheckIn.kind == "voice"))).all()
        escalations = (await uow.orm.exec(select(Escalation))).all()
    assert asked.answered_at is not None
    assert escalations == []
    assert not [m for m in r.server.sent(nurse.id) if "EMERGENCY" in (m.text or "")]


async def test_a_sign_tapped_after_a_note_is_an_emergency(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse, ana = await enrolled(r)
    await r.process(ana.send_voice(MISHEARD, duration=4))
    sign = next(label for label in r.server.last(ana.id).labels
                if label not in ("None of these", "Back"))
    await r.press(ana, sign)
    await r.services.outbox.idle()
    assert_instructed(r.server, ana.id)
    assert any("EMERGENCY" in (m.text or "") for m in r.server.sent(nurse.id))
    # The note the sign was about goes to the clinic with the page, with what was heard.
    [voice] = [q for q in r.server.requests if q.method == "sendVoice"]
    assert voice.params["chat_id"] == nurse.id
    assert "for escalation #1: “" in voice.params["caption"]
    async with r.db.unit_of_work() as uow:
        [kept] = (await uow.orm.exec(select(Photo))).all()
    assert kept.escalation_id == 1


async def test_a_note_that_cannot_be_decoded_still_gets_the_question(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    _, ana = await enrolled(r)
    before = len(r.server.sent(ana.id))
    await r.process(ana.send_voice(b"OggS not really audio at all", duration=1))
    heard, question = r.server.sent(ana.id)[before:]
    assert "couldn't make out your voice note" in (heard.text or "")
    assert QUESTION in (question.text or "")


async def test_a_stranger_s_note_gets_the_emergency_line_and_nothing_is_kept(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    stranger = r.server.user("Stranger")
    await r.process(stranger.send_voice(RED_FLAG, duration=3))
    assert "call 112 now" in (r.server.last(stranger.id).text or "")
    assert not [q for q in r.server.requests if q.method == "getFile"]
    async with r.db.unit_of_work() as uow:
        assert (await uow.orm.exec(select(Photo))).all() == []


async def test_a_red_flag_in_a_note_s_caption_is_an_emergency(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse, ana = await enrolled(r)
    update = ana.send_voice(b"OggS not really audio at all", duration=1)
    update["message"]["caption"] = "my throat is closing"
    await r.process(update)
    assert_instructed(r.server, ana.id)
    assert any("EMERGENCY" in (m.text or "") for m in r.server.sent(nurse.id))


@pytest.fixture
async def deaf(database: Database, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rehearsal]:
    settings = sandbox_settings(database.url, storage_dir=tmp_path / "storage",
                                voice_transcription="off")
    async with Rehearsal(database, clock, settings=settings) as r:
        yield r


async def test_with_transcription_off_the_note_is_kept_forwarded_and_asked_about(
    deaf: Rehearsal,
) -> None:
    r = deaf
    _, ana = await enrolled(r)
    before = len(r.server.sent(ana.id))
    await r.process(ana.send_voice(RED_FLAG, duration=3))
    kept, question = r.server.sent(ana.id)[before:]
    assert "I can't listen to it myself" in (kept.text or "")
    assert QUESTION in (question.text or "")
    async with r.db.unit_of_work() as uow:
        assert len((await uow.orm.exec(select(Photo))).all()) == 1


async def test_with_transcription_off_a_sign_tapped_sends_the_note_with_the_page(
    deaf: Rehearsal,
) -> None:
    r = deaf
    nurse, ana = await enrolled(r)
    await r.process(ana.send_voice(RED_FLAG, duration=3))
    await r.press(ana, "Lips, tongue or throat swelling")
    await r.services.outbox.idle()
    assert_instructed(r.server, ana.id)
    voices = [q for q in r.server.requests if q.method == "sendVoice"]
    assert [q.params["chat_id"] for q in voices] == [nurse.id]
    assert voices[0].params["caption"].endswith("for escalation #1")  # nothing was heard


async def test_a_question_about_a_note_left_unanswered_pages_with_the_note(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse, ana = await enrolled(r)
    await r.process(ana.send_voice(MISHEARD, duration=4))
    await r.advance(timedelta(minutes=20), step=timedelta(minutes=1))
    assert any("did not answer the warning-sign question" in (m.text or "")
               for m in r.server.sent(nurse.id))
    voices = [q for q in r.server.requests if q.method == "sendVoice"]
    assert [q.params["chat_id"] for q in voices] == [nurse.id]


async def test_an_audio_file_is_heard_like_a_voice_note(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse, ana = await enrolled(r)
    await r.process(ana.send_audio(RED_FLAG, duration=3))
    await r.services.outbox.idle()
    assert_instructed(r.server, ana.id)
    assert any("lips are swelling" in (m.text or "") for m in r.server.sent(nurse.id))


def as_mp4(ogg: bytes) -> bytes:
    """The same speech as a video note carries it: AAC in an MP4 container."""
    pcm, rate = soundfile.read(io.BytesIO(ogg), dtype="float32", always_2d=True)
    mono = pcm.mean(axis=1)
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate, layout="mono")
        for start in range(0, len(mono), 1024):
            frame = av.AudioFrame.from_ndarray(
                mono[start:start + 1024].reshape(1, -1), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


async def test_a_red_flag_said_in_a_video_note_is_an_emergency(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse, ana = await enrolled(r)
    await r.process(ana.send_video_note(as_mp4(RED_FLAG), duration=3))
    await r.services.outbox.idle()
    assert_instructed(r.server, ana.id)
    assert any("lips are swelling" in (m.text or "") for m in r.server.sent(nurse.id))


async def test_a_video_note_is_kept_forwarded_and_asked_about(rehearsal: Rehearsal) -> None:
    """A round video note (MP4) is kept for the clinic and gets the red-flag question, even
    when its sound cannot be made out here."""
    r = rehearsal
    _, ana = await enrolled(r)
    before = len(r.server.sent(ana.id))
    await r.process(ana.send_video_note(b"\x00\x00\x00\x18ftypmp42" + bytes(64)))
    *_, question = r.server.sent(ana.id)[before:]
    assert QUESTION in (question.text or "")
    async with r.db.unit_of_work() as uow:
        [kept] = (await uow.orm.exec(select(Photo))).all()
    assert kept.mime == "video/mp4"


async def test_a_note_and_its_transcript_are_in_mydata_and_gone_after_forget(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    _, ana = await enrolled(r)
    await r.process(ana.send_voice(MISHEARD, duration=4))
    await r.press(ana, "None of these")
    await r.say(ana, "/mydata")
    data = json.loads(r.server.last(ana.id).document or b"")
    [note] = data["photos"]
    assert note["mime"] == "audio/ogg"
    assert note["words"]  # what was heard, kept with it
    assert await kept(r, ".ogg")
    await r.say(ana, "/forget")
    await r.press(ana, "Yes, erase my data")
    async with r.db.unit_of_work() as uow:
        assert (await uow.orm.exec(select(Photo))).all() == []
    assert await kept(r, ".ogg") == []
