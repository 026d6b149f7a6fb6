"""Free-text triage against labelled messages: the figures of issue 3.

    python bench/triage_eval.py                 # every set in tests/data/ and tests/data/blind/
    python bench/triage_eval.py FILE.jsonl ...  # labelled JSON Lines: day, text, level, symptoms
    python bench/triage_eval.py --errors        # also list every disagreement
    python bench/triage_eval.py --language fr F  # read in that language (given)
    python bench/triage_eval.py --identify [--own fr] F  # as the bot reads: the language
        # identified first (one not read takes the unread path); --own: the patients' own

Prints issue 14's figures: exact level, emergencies classed or screened (the red-flag
question), emergency and urgent-or-worse recall, harmless messages told to call emergency
services, escalated or screened, symptom F1 (micro), and milliseconds per message.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.adapters.content_files import load_library
from bot.adapters.languages import FastLangdetect
from bot.core.language import reading_order
from bot.core.model import Assessment, Level
from bot.core.triage import Readers, Triager

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
LEVELS = ["none", "routine", "urgent", "emergency"]
# (key, label, target, higher is better) -- issue 14's targets
TARGETS = [
    ("exact", "exact level", 0.92, True),
    ("caught", "emergencies classed or screened", 1.0, True),
    ("emergency_recall", "emergency recall", 0.97, True),
    ("urgent_recall", "urgent-or-worse recall", 0.97, True),
    ("told_to_call", "harmless told to call 112", 0.01, False),
    ("false_alarms", "harmless escalated", 0.08, False),
    ("screened_harmless", "harmless screened", 0.15, False),
    ("symptom_f1", "symptom F1", 0.88, True),
]
# Issue 15's targets for each language other than English (its blind sets of 120).
TARGETS_15 = [
    ("exact", "exact level", 0.85, True),
    ("caught", "emergencies classed or screened", 1.0, True),
    ("emergency_recall", "emergency recall", 0.90, True),
    ("urgent_recall", "urgent-or-worse recall", 0.93, True),
    ("told_to_call", "harmless told to call 112", 0.02, False),
    ("false_alarms", "harmless escalated", 0.12, False),
    ("symptom_f1", "symptom F1", 0.80, True),
]


def figures(triager: Any, items: list[dict], repeats: int = 5) -> dict[str, object]:
    """Scores and timings of one labelled set."""
    predicted = [triager.read(i["text"], day=i["day"]) for i in items]
    timings = []
    for _ in range(repeats):
        for i in items:
            start = time.perf_counter_ns()
            triager.read(i["text"], day=i["day"])
            timings.append((time.perf_counter_ns() - start) / 1e6)
    got = [p.assessment.level for p in predicted]
    screened = [bool(getattr(p, "screen", False)) for p in predicted]
    want = [Level.parse(i["level"]) for i in items]
    rows = list(zip(want, got, screened, strict=True))
    emergencies = [(g, s) for w, g, s in rows if w is Level.EMERGENCY]
    urgent = [g for w, g, _ in rows if w >= Level.URGENT]
    calm = [(g, s) for w, g, s in rows if w is Level.NONE]
    tp = fp = fn = 0
    for item, reading in zip(items, predicted, strict=True):
        truth, found = set(item["symptoms"]), set(reading.symptoms)
        tp, fp, fn = tp + len(truth & found), fp + len(found - truth), fn + len(truth - found)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0

    def share(hits: int, of: list) -> float:
        return hits / len(of) if of else 0.0

    timings.sort()
    return {
        "messages": len(items),
        "exact": share(sum(w == g for w, g, _ in rows), rows),
        "caught": share(sum(g is Level.EMERGENCY or s for g, s in emergencies), emergencies)
        if emergencies else 1.0,
        "emergency_recall": share(sum(g is Level.EMERGENCY for g, _ in emergencies),
                                  emergencies) if emergencies else 1.0,
        "urgent_recall": share(sum(g >= Level.URGENT for g in urgent), urgent)
        if urgent else 1.0,
        "told_to_call": share(sum(g is Level.EMERGENCY for g, _ in calm), calm),
        "false_alarms": share(sum(g > Level.NONE for g, _ in calm), calm),
        "screened_harmless": share(sum(s and g < Level.EMERGENCY for g, s in calm), calm),
        "symptom_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0,
        "ms_p50": statistics.median(timings),
        "ms_p95": timings[int(len(timings) * 0.95) - 1],
        "confusion": Counter((w.label, g.label) for w, g, _ in rows),
        "errors": [
            (item, reading)
            for item, reading in zip(items, predicted, strict=True)
            if reading.assessment.level.label != item["level"]
            or set(reading.symptoms) != set(item["symptoms"])
        ],
    }


@dataclass(frozen=True)
class _Unread:
    """What the bot does with a message in a language it does not read: read anyway for
    what raises a level, at least routine for the clinic, and (short of an emergency) the
    red-flag question for the patient."""

    language: str
    assessment: Assessment
    symptoms: tuple[str, ...]
    screen: bool

    def explain(self) -> str:
        return f"not read ({self.language}): {self.assessment.level.label}, red-flag question"


class Given:
    """The triage engine reading one given language."""

    def __init__(self, readers: Readers, language: str) -> None:
        self.readers, self.language = readers, language

    def read(self, text: str, day: int) -> Any:
        return self.readers.read_in([self.language], text, day=day)


class BotReader:
    """The triage engine behind the bot's language identification."""

    def __init__(self, readers: Readers, own: str = "") -> None:
        self.readers, self.own = readers, own
        self.guesser = FastLangdetect()

    def read(self, text: str, day: int) -> Any:
        order, language = reading_order(
            text, guess=self.guesser.guess(text), read=self.readers.read,
            knows=self.readers.knows, own=self.own, clinic=self.readers.first)
        reading = self.readers.read_in(order, text, day=day)
        if not language:
            return reading
        level = max(reading.assessment.level, Level.ROUTINE)
        return _Unread(language, Assessment(level), tuple(reading.symptoms),
                       level < Level.EMERGENCY)


def report(name: str, f: dict[str, object], *, errors: bool, issue: int = 14) -> None:
    print(f"== {name}: {f['messages']} messages (issue {issue}'s targets)")
    for key, label, target, higher in TARGETS_15 if issue == 15 else TARGETS:
        value = f[key]
        ok = value >= target if higher else value <= target  # type: ignore[operator]
        sign = ">=" if higher else "<="
        print(f"  {label:<32} {value:7.1%}   target {sign} {target:.0%}   "
              f"{'ok ' if ok else 'MISS'}")
    print(f"  ms per message            p50 {f['ms_p50']:.3f}  p95 {f['ms_p95']:.3f}   "
          f"target p50 < 2 ms")
    confusion = f["confusion"]
    print("  confusion (rows: label, columns: predicted)")
    print("    " + "".join(f"{c:>11}" for c in LEVELS))
    for row in LEVELS:
        print(f"    {row:<10}" + "".join(f"{confusion[(row, c)]:>11}" for c in LEVELS[0:]))  # type: ignore[index]
    if errors:
        for item, reading in f["errors"]:  # type: ignore[attr-defined]
            screen = " (screened)" if getattr(reading, "screen", False) else ""
            print(f"  - {item.get('id')} day {item['day']}: want {item['level']} "
                  f"{item['symptoms']}, got {reading.assessment.level.label}{screen} "
                  f"{reading.symptoms}\n      {item['text']!r}\n      {reading.explain()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--errors", action="store_true")
    parser.add_argument("--identify", action="store_true",
                        help="identify each message's language first, as the bot does")
    parser.add_argument("--own", default="", metavar="XX",
                        help="with --identify: the patients' own language (set, or Telegram's)")
    parser.add_argument("--language", default="", metavar="XX",
                        help="read every message in this language (the clinic's by default)")
    args = parser.parse_args()
    files = args.files or [*sorted(DATA.glob("triage_*.jsonl")),
                           *sorted((DATA / "blind").glob("*.jsonl"))]
    started = time.perf_counter()
    library = load_library()
    readers = Readers(library.contents.values(), library.clinic)
    print(f"lexicons ({', '.join(sorted(readers.read))}) compiled in "
          f"{(time.perf_counter() - started) * 1000:.0f} ms")
    reader: Any = (BotReader(readers, args.own) if args.identify
                   else Given(readers, args.language or library.clinic))
    for path in files:
        items = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
        issue = 15 if path.parent.name == "languages" else 14
        report(path.name, figures(reader, items), errors=args.errors, issue=issue)
    hostile(readers.by.get(args.language or library.clinic) or readers.by[readers.first])


def hostile(triager: Triager) -> None:
    """The slowest reading of Telegram-sized messages built to be slow (numbers, modifiers
    and red-flag words repeated, in one clause): the lifeline reads on the event loop."""
    texts = ["pain 1 " * 600, "pain: 1. " * 460, "heart 130 " * 410, "was 2 now 9 " * 350,
             "yesterday today now " * 205, "not no never if " * 260,
             "my lips are swelling, " * 190, "⑳ " * 2048]
    worst = 0.0
    for text in texts:
        start = time.perf_counter()
        triager.read(text[:4096], day=2)
        worst = max(worst, (time.perf_counter() - start) * 1000)
    print(f"== hostile 4,096-character messages ({len(texts)}): slowest {worst:.0f} ms")


if __name__ == "__main__":
    main()
