"""Free-text triage against labelled messages: the figures of issue 3.

    python bench/triage_eval.py                 # both sets in tests/data/
    python bench/triage_eval.py FILE.jsonl ...  # labelled JSON Lines: day, text, level, symptoms
    python bench/triage_eval.py --errors        # also list every disagreement

Prints exact-level accuracy, recall of emergencies, recall of urgent-or-higher, false alarms
on messages that need nothing, symptom F1 (micro), and milliseconds per message.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from pathlib import Path

from bot.adapters.content_files import load_content
from bot.core.model import Level
from bot.core.triage import Triager

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
LEVELS = ["none", "routine", "urgent", "emergency"]
TARGETS = {"exact": 0.92, "emergency_recall": 1.0, "urgent_recall": 0.97, "false_alarms": 0.08}


def figures(triager: Triager, items: list[dict], repeats: int = 5) -> dict[str, object]:
    """Scores and timings of one labelled set."""
    predicted = [triager.read(i["text"], day=i["day"]) for i in items]
    timings = []
    for _ in range(repeats):
        for i in items:
            start = time.perf_counter_ns()
            triager.read(i["text"], day=i["day"])
            timings.append((time.perf_counter_ns() - start) / 1e6)
    got = [p.assessment.level for p in predicted]
    want = [Level.parse(i["level"]) for i in items]
    pairs = list(zip(want, got, strict=True))
    emergencies = [g for w, g in pairs if w is Level.EMERGENCY]
    urgent = [g for w, g in pairs if w >= Level.URGENT]
    calm = [g for w, g in pairs if w is Level.NONE]
    tp = fp = fn = 0
    for item, reading in zip(items, predicted, strict=True):
        truth, found = set(item["symptoms"]), set(reading.symptoms)
        tp, fp, fn = tp + len(truth & found), fp + len(found - truth), fn + len(truth - found)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    timings.sort()
    return {
        "messages": len(items),
        "exact": sum(w == g for w, g in pairs) / len(pairs),
        "emergency_recall": sum(g is Level.EMERGENCY for g in emergencies) / len(emergencies)
        if emergencies else 1.0,
        "urgent_recall": sum(g >= Level.URGENT for g in urgent) / len(urgent) if urgent else 1.0,
        "false_alarms": sum(g > Level.NONE for g in calm) / len(calm) if calm else 0.0,
        "symptom_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0,
        "ms_p50": statistics.median(timings),
        "ms_p95": timings[int(len(timings) * 0.95) - 1],
        "confusion": Counter((w.label, g.label) for w, g in pairs),
        "errors": [
            (item, reading)
            for item, reading in zip(items, predicted, strict=True)
            if reading.assessment.level.label != item["level"]
            or set(reading.symptoms) != set(item["symptoms"])
        ],
    }


def report(name: str, f: dict[str, object], *, errors: bool) -> None:
    def mark(key: str) -> str:
        value, target = f[key], TARGETS[key]
        ok = value <= target if key == "false_alarms" else value >= target  # type: ignore[operator]
        return "ok " if ok else "MISS"

    print(f"== {name}: {f['messages']} messages")
    print(f"  exact level accuracy      {f['exact']:7.1%}   target >= 92%   {mark('exact')}")
    print(f"  emergency recall          {f['emergency_recall']:7.1%}   target 100%     "
          f"{mark('emergency_recall')}")
    print(f"  urgent-or-higher recall   {f['urgent_recall']:7.1%}   target >= 97%   "
          f"{mark('urgent_recall')}")
    print(f"  false alarms (need none)  {f['false_alarms']:7.1%}   target <= 8%    "
          f"{mark('false_alarms')}")
    print(f"  symptom F1 (micro)        {f['symptom_f1']:7.3f}")
    print(f"  ms per message            p50 {f['ms_p50']:.3f}  p95 {f['ms_p95']:.3f}   "
          f"target p50 < 2 ms")
    confusion = f["confusion"]
    print("  confusion (rows: label, columns: predicted)")
    print("    " + "".join(f"{c:>11}" for c in LEVELS))
    for row in LEVELS:
        print(f"    {row:<10}" + "".join(f"{confusion[(row, c)]:>11}" for c in LEVELS[0:]))  # type: ignore[index]
    if errors:
        for item, reading in f["errors"]:  # type: ignore[attr-defined]
            print(f"  - {item.get('id')} day {item['day']}: want {item['level']} "
                  f"{item['symptoms']}, got {reading.assessment.level.label} {reading.symptoms}"
                  f"\n      {item['text']!r}\n      {reading.explain()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--errors", action="store_true")
    args = parser.parse_args()
    files = args.files or sorted(DATA.glob("triage_*.jsonl"))
    started = time.perf_counter()
    triager = Triager(load_content())
    print(f"lexicon compiled in {(time.perf_counter() - started) * 1000:.0f} ms")
    for path in files:
        items = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
        report(path.name, figures(triager, items), errors=args.errors)


if __name__ == "__main__":
    main()
