"""`aftercare demo`: a full rehearsal of one patient's follow-up, printed as a transcript.

The real Application runs against the in-process sandbox Telegram with a fake clock that
jumps ten minutes per dispatcher tick, so fourteen days pass in seconds. Nothing leaves the
machine and no token is needed.
"""

from __future__ import annotations

import asyncio
import tempfile
import textwrap
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.console.server import console_app, serve_http
from bot.core.clock import FakeClock
from bot.health import HEALTH
from bot.rehearsal import Rehearsal, sandbox_settings
from bot.sandbox import BotMessage, SandboxUser
from bot.store.db import Database

PARIS = ZoneInfo("Europe/Paris")
VOICE_SAMPLE = Path(__file__).parent / "sandbox" / "samples" / "voice-red-flag.ogg"
ALL_GOOD = "✅ All good"
# A Tuesday session; the clocks go forward on Sunday 28 March 2027, day 5 of the plan.
SESSION = datetime(2027, 3, 23, 10, 0, tzinfo=PARIS)
WIDTH = 110


class Transcript:
    """Prints what people see, stamped with Paris local time."""

    def __init__(self, r: Rehearsal, names: dict[int, str], *, show_edits: int) -> None:
        self.r = r
        self.names = names
        self.show_edits = show_edits  # the chat whose edited messages are worth showing
        self.seen: dict[tuple[int, int], int] = {}
        self.screens: set[tuple[int, int]] = set()  # consent screens: their edit is the welcome

    def stamp(self) -> str:
        return self.r.clock.now().astimezone(PARIS).strftime("%a %d %b %H:%M %Z")

    def say(self, who: str, what: str) -> None:
        print(f"[{self.stamp()}] {who}: {what}")

    def flush(self) -> None:
        """Print bot messages that are new (or newly edited) since the last flush."""
        for chat_id, name in self.names.items():
            for m in self.r.server.sent(chat_id):
                key = (chat_id, m.message_id)
                before = self.seen.get(key)
                self.seen[key] = m.edits
                if before is None:
                    self._print(f"bot → {name}", m)
                    if any(label.startswith("Yes") for label in m.labels):
                        self.screens.add(key)
                elif before != m.edits and (chat_id == self.show_edits or key in self.screens):
                    self._print(f"bot updates its message to {name}", m)

    def _print(self, who: str, m: BotMessage) -> None:
        text = m.text or (f"📎 {m.file_name}" if m.file_name else "")
        lines = [line for line in text.splitlines() if line.strip()] or [""]
        print(f"[{self.stamp()}] {who}: {lines[0]}")
        for line in lines[1:]:  # whole messages: what the patient reads, consent included
            for part in textwrap.wrap(line, WIDTH) or [""]:
                print(f"{'':>8}{part}")
        if m.labels:
            print(f"{'':>8}buttons: {' | '.join(m.labels)}")


async def _answer(r: Rehearsal, t: Transcript, ana: SandboxUser, day: int) -> None:
    """Ana's scripted answers to each scheduled check-in."""
    taps = {
        0: [ALL_GOOD],
        1: ["Itching", "Mild", "Done"],
        2: ["Itching", "Mild", "Better", "Done"],
        3: [ALL_GOOD],
        5: ["Bruising", "Mild", "Done"],
        7: ["Bruising", "Mild", "Same", "Done"],
        10: [ALL_GOOD],
        14: [ALL_GOOD],
    }.get(day, [ALL_GOOD])
    for label in taps:
        t.say("Ana", f"taps “{label}”")
        await r.press(ana, label)
    t.flush()


async def _fourteen_days(
    r: Rehearsal, t: Transcript, ana: SandboxUser, martin: SandboxUser
) -> None:
    """Ten-minute steps through the course: Ana answers every check-in, reports a darker
    bruise on day 8, asks about swelling lips on day 9 (and is asked the red-flag question),
    and writes a red flag on day 11, which Dr Martin acknowledges."""
    clock = r.clock
    answered: set[int] = set()
    end = SESSION + timedelta(days=14, hours=12)
    routine_done = emergency_done = voice_done = question_done = False
    while clock.now() < end:
        clock.advance(minutes=10)
        await r.tick()
        t.flush()
        last = r.server.last(ana.id)
        day = (clock.now().astimezone(PARIS).date() - SESSION.date()).days
        if "How are you feeling?" in (last.text or "") and last.message_id not in answered:
            answered.add(last.message_id)
            await _answer(r, t, ana, day)
        local = clock.now().astimezone(PARIS)
        if day == 8 and local.hour == 18 and not routine_done:
            routine_done = True
            t.say("Ana", "/report  (the bruise is bigger and darker than yesterday)")
            await r.say(ana, "/report")
            for label in ("Bruising", "Moderate", "Worse", "Done"):
                t.say("Ana", f"taps “{label}”")
                await r.press(ana, label)
            t.flush()
        if day == 9 and local.hour == 13 and not question_done:
            question_done = True
            await _unsure(r, t, ana)
        if day == 11 and local.hour == 20 and not emergency_done:
            emergency_done = True
            words = "one injection point on my cheek is turning grey and really hurts"
            t.say("Ana", words)
            await r.say(ana, words)
            t.flush()
            clock.advance(minutes=3)
            t.say("Dr Martin", "taps “Acknowledge”")
            await r.press(martin, "Acknowledge")
            t.flush()
        if day == 12 and local.hour == 21 and not voice_done:
            voice_done = True
            await _voice_note(r, t, ana, martin)


async def _unsure(r: Rehearsal, t: Transcript, ana: SandboxUser) -> None:
    """Words the bot cannot rule in or out: it asks the red-flag question."""
    words = "my friend said lips can swell up after this, could mine?"
    t.say("Ana", words)
    await r.say(ana, words)
    t.flush()
    t.say("Ana", "taps “None of these”")
    await r.press(ana, "None of these")
    t.flush()


async def _voice_note(r: Rehearsal, t: Transcript, ana: SandboxUser, martin: SandboxUser) -> None:
    """A red flag said aloud: transcribed on this machine, an emergency like a typed one."""
    t.say("Ana", "sends a voice note: “My lips are swelling and I can't breathe.”")
    await r.process(ana.send_voice(VOICE_SAMPLE.read_bytes(), duration=3))
    await r.services.outbox.idle()
    t.flush()
    t.say("Dr Martin", "taps “Acknowledge”")
    page = next(m for m in reversed(r.server.sent(martin.id)) if "Acknowledge" in m.labels)
    await r.press(martin, "Acknowledge", message_id=page.message_id)
    t.flush()


async def _marie(
    r: Rehearsal, t: Transcript, marie: SandboxUser, martin: SandboxUser
) -> None:
    """A second patient whose Telegram speaks French: everything she reads is French, and
    her words are read in French (a routine question, then a warning sign: the instruction
    in French at once, the page in the clinic's English)."""
    patient = await r.services.enrolment.invite_patient(
        name="Marie Dubois", session_at=SESSION, areas="face")
    t.say("clinic", "enrols Marie Dubois (her Telegram is in French)")
    t.say("Marie", "scans the QR code: /start <token>")
    await r.say(marie, f"/start {patient.token}")
    t.flush()
    t.say("Marie", "taps “Oui, j'accepte”")
    await r.press(marie, "Oui")
    t.flush()
    for words in ("j'ai deux petits bleus sur la joue, c'est normal ?",
                  "ma lèvre gonfle à vue d'oeil et j'ai du mal à avaler"):
        t.say("Marie", words)
        await r.say(marie, words)
        await r.services.outbox.idle()
        t.flush()
    t.say("Dr Martin", "taps “Acknowledge” on Marie's page")
    page = next(m for m in reversed(r.server.sent(martin.id)) if "Acknowledge" in m.labels)
    await r.press(martin, "Acknowledge", message_id=page.message_id)
    t.flush()


async def _console(r: Rehearsal, martin: SandboxUser, seconds: float) -> None:
    """Serve the demo clinic's console, with Dr Martin's one-time sign-in link printed."""
    listen = r.settings.console_listen if r.settings.console_listen != "off" else (
        "127.0.0.1:8080")
    app = console_app(r.services, bot_username=r.app.bot.username or "", bot_token="",
                      extra=HEALTH)
    stop = asyncio.Event()
    server = asyncio.create_task(serve_http(app, listen, stop))
    link = (await r.services.console.link(martin.id)).text
    url = link[link.find("http"):].split()[0]
    how_long = "until Ctrl-C" if seconds < 0 else f"for {seconds:.0f} s"
    print(f"=== the demo clinic's console is up {how_long}: open {url} to sign in as Dr Martin "
          "(the link works once) ===", flush=True)
    try:
        if seconds < 0:
            await stop.wait()
        else:
            await asyncio.sleep(seconds)
    finally:
        stop.set()
        await server


async def rehearse(console_for: float = 0) -> None:
    """Run the scripted follow-up and print it; serve its console `console_for` seconds
    (-1: until Ctrl-C) before the patient asks to be forgotten."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'demo.db'}")
        await db.create_all()
        clock = FakeClock(SESSION - timedelta(minutes=40))
        settings = sandbox_settings(
            db.url, clinic_timezone="Europe/Paris", storage_dir=Path(tmp) / "storage"
        )
        async with Rehearsal(db, clock, settings=settings) as r:
            ana = r.server.user("Ana")
            martin = r.server.user("Dr Martin")
            marie = r.server.user("Marie", language_code="fr")
            t = Transcript(r, {ana.id: "Ana", martin.id: "Dr Martin", marie.id: "Marie"},
                           show_edits=martin.id)
            print("=== Aftercare demo: two patients' follow-up (English, French), rehearsed "
                  "against the sandbox ===")
            invite = await r.services.enrolment.invite_clinician(name="Dr Martin")
            t.say("clinic", "invites Dr Martin as a clinician")
            await r.say(martin, f"/start {invite.token}")
            t.flush()

            clock.set(SESSION + timedelta(minutes=20))
            patient = await r.services.enrolment.invite_patient(
                name="Ana Lopez", session_at=SESSION, areas="face, neck", phone="+33 6 12 34 56 78"
            )
            t.say("clinic", f"enrols Ana Lopez (session {SESSION:%d %b %H:%M}), shows the QR code")
            t.say("Ana", "scans the QR code: /start <token>")
            await r.say(ana, f"/start {patient.token}")
            t.flush()
            t.say("Ana", "taps “Yes, I agree”")
            await r.press(ana, "Yes")
            t.flush()
            await _marie(r, t, marie, martin)

            await _fourteen_days(r, t, ana, martin)
            if console_for:
                await _console(r, martin, console_for)
            # The end of the course: Ana asks for her data, then to be forgotten.
            for step in ("/mydata", "/forget"):
                t.say("Ana", step)
                await r.say(ana, step)
                t.flush()
            t.say("Ana", "taps “Yes, erase my data”")
            await r.press(ana, "Yes, erase my data")
            t.flush()
        await db.dispose()
        print("=== end of rehearsal: 14 days, no request broke the Bot API schema"
              f" ({len(r.server.requests)} requests, {len(r.server.violations)} violations) ===")


async def main(console_for: float = 0) -> int:
    """`aftercare demo`."""
    started = time.monotonic()
    await rehearse(console_for)
    print(f"(rehearsed in {time.monotonic() - started:.1f} s of real time)")
    return 0
