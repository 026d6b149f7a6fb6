"""The timeline's chart tells the truth: every grade as reported, red flags and escalations
marked, the whole plan's span, normal windows shaded; read from the data the PNG carries,
not from its pixels (issue 17, point 6)."""

from __future__ import annotations

import io
import json
from typing import Any

from PIL import Image

from bot.rehearsal import Rehearsal
from tests.conftest import paris


def chart_data(png: bytes) -> dict[str, Any]:
    image = Image.open(io.BytesIO(png))
    return dict(json.loads(image.info["aftercare"]))


async def test_the_chart_shows_grades_as_reported_marks_and_the_whole_plan(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse, ana = r.server.user("Nurse"), r.server.user("Ana")
    await r.invite_clinician(nurse)
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    r.clock.set(paris(2026, 11, 4, 12, 0))  # day 1
    await r.say(ana, "there's a blood-filled lump on my cheek, tense and very painful")
    r.clock.set(paris(2026, 11, 5, 12, 0))  # day 2
    await r.say(ana, "/report")
    for label in ("Itching", "Severe", "Done"):
        await r.press(ana, label)
    r.clock.set(paris(2026, 11, 6, 12, 0))  # day 3
    await r.say(ana, "part of my cheek has gone white and cold")
    await r.services.outbox.idle()
    await r.say(nurse, "/patient 1")
    chart = next(m for m in reversed(r.server.sent(nurse.id)) if m.photo is not None)
    assert chart.photo is not None
    data = chart_data(chart.photo)
    assert data["span"] == 28  # the whole plan, not two weeks
    rows = {s["label"]: s for s in data["series"]}
    symptoms = r.services.deps.content.symptoms
    itching = dict(rows[symptoms["itching"].label]["points"])
    assert itching[2] == 3  # severe, as said
    assert rows[symptoms["itching"].label]["window"] is not None  # its normal course shaded
    hematoma = dict(rows[symptoms["hematoma"].label]["points"])
    assert hematoma[1] != 1  # never drawn as "mild" when it was not said so
    levels = [(m["day"], m["level"]) for m in data["marks"]]
    assert (1, "urgent") in levels
    assert (3, "emergency") in levels
    emergency = next(m for m in data["marks"] if m["level"] == "emergency")
    assert emergency["label"].startswith("EMERGENCY, ")  # and the red flag, named
