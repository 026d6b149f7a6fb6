"""Negation and hedging: our ConText-style reading against medspaCy's ConText, same lexicon.

medspaCy is not a project dependency; run this from a throwaway venv (the project's stays clean):

    python3 -m venv /tmp/medspacy-venv && /tmp/medspacy-venv/bin/pip install medspacy
    /tmp/medspacy-venv/bin/pip install -e /work/main

    /tmp/medspacy-venv/bin/python bench/negation_compare.py             # tests/data/triage_*.jsonl
    /tmp/medspacy-venv/bin/python bench/negation_compare.py FILE.jsonl  # any labelled set

Both sides get the clinic's lexicon phrases as targets; medspaCy keeps its default ConText rules
(one extra row adds the clinic's own cue words to them, to separate cue list from algorithm).
Per set: symptom P/R/F1 (micro) against gold, the same on messages with a negation cue, ms per
message, where the two lexicon-only readings disagree and why (matching or ConText modifier).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bot.adapters.content_files import load_content
from bot.core.content import Content
from bot.core.triage import Triage, Triager

try:
    import medspacy
    import spacy
    from loguru import logger
    from medspacy.context import ConTextRule
    from medspacy.ner import TargetRule
except ImportError:  # not a project dependency: skip (exit 0) so `make bench` still passes
    print(
        "negation_compare: SKIPPED, medspacy is not importable from this Python. Set up:\n"
        "    python3 -m venv /tmp/medspacy-venv && /tmp/medspacy-venv/bin/pip install medspacy\n"
        "    /tmp/medspacy-venv/bin/pip install -e /work/main\n"
        "then run: /tmp/medspacy-venv/bin/python bench/negation_compare.py",
        file=sys.stderr,
    )
    sys.exit(0)

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
NEGATION_CUE = re.compile(
    r"\b(?:no|not|nor|none|never|without|gone|anymore|denies|no longer)\b"
    r"|\b(?:do|does|did|is|are|was|were|has|have|had|ca|can|could|would|wo|ai)n['’]?t\b",
    re.IGNORECASE,
)
T = TypeVar("T")
NOT_PRESENT = ("is_negated", "is_hypothetical", "is_historical", "is_family")

# One reading: symptom name -> (present?, why not) per mention found.
Found = dict[str, list[tuple[bool, str]]]


@dataclass(frozen=True, slots=True)
class Row:
    """One approach on one set: what it read from each message, and how long it took."""

    name: str
    predicted: list[set[str]]
    found: list[Found]
    ms: list[float]


def medspacy_nlp(content: Content, *, flags: bool = False, cues: bool = False) -> Any:
    """medspaCy's default pipeline plus one TargetRule per lexicon (and red-flag) phrase.

    With `cues`, the default ConText rules also get the clinic's own cue words (negation,
    hypothetical, other person, pseudo, clause breaks) as ConTextRules, scopes left default.
    """
    nlp = medspacy.load()  # sentence splitter, target matcher, ConText with default rules
    rules = [
        TargetRule(phrase, category=name)
        for name, phrases in content.lexicon.symptoms.items()
        for phrase in phrases
    ]
    if flags:
        rules += [
            TargetRule(phrase, category=flag.symptom)
            for flag in content.red_flags.values()
            for phrase in flag.phrases
        ]
    nlp.get_pipe("medspacy_target_matcher").add(rules)
    if cues:
        lex = content.lexicon
        kinds = [
            (lex.negation.before, "NEGATED_EXISTENCE", "FORWARD"),
            (lex.negation.after, "NEGATED_EXISTENCE", "BACKWARD"),
            (lex.hypothetical, "HYPOTHETICAL", "FORWARD"),
            (lex.other_person, "FAMILY", "FORWARD"),
            (lex.negation.pseudo, "PSEUDO", "PSEUDO"),
            (lex.clause_breaks, "TERMINATE", "TERMINATE"),
        ]
        nlp.get_pipe("medspacy_context").add(
            [ConTextRule(p, cat, direction=d) for phrases, cat, d in kinds for p in phrases]
        )
    return nlp


def read_medspacy(doc: Any) -> Found:
    found: Found = {}
    for ent in doc.ents:
        why = ", ".join(
            f"{m.category.lower()} by '{doc[slice(*m.modifier_span)].text}'"
            for m in ent._.modifiers
            if m.category != "POSSIBLE_EXISTENCE"
        )
        present = not any(getattr(ent._, attr) for attr in NOT_PRESENT)
        found.setdefault(ent.label_, []).append((present, "" if present else why))
    return found


def read_ours(r: Triage, content: Content, *, flags: bool) -> Found:
    """Lexicon + ConText mentions only: no combinations, temperatures or trends."""
    found: Found = {}
    for m in r.mentions:
        if m.flag and not flags:
            continue
        name = content.red_flags[m.name].symptom if m.flag else m.name
        found.setdefault(name, []).append((m.present, m.why_absent))
    return found


def present(found: Found) -> set[str]:
    return {name for name, seen in found.items() if any(p for p, _ in seen)}


def timed(args: list[T], call: Callable[[T], object], repeats: int) -> list[float]:
    """Milliseconds per call, sorted, after one warm-up pass."""
    for a in args:  # warm-up (caches, lazy initialisation)
        call(a)
    out = []
    for _ in range(repeats):
        for a in args:
            start = time.perf_counter_ns()
            call(a)
            out.append((time.perf_counter_ns() - start) / 1e6)
    return sorted(out)


def rows(
    items: list[dict[str, Any]],
    content: Content,
    triager: Triager,
    nlps: dict[str, Any],
    repeats: int,
) -> list[Row]:
    readings = [triager.read(i["text"], day=i["day"]) for i in items]
    ms_ours = timed(items, lambda i: triager.read(i["text"], day=i["day"]), repeats)
    out = [Row("ours (full)", [set(r.symptoms) for r in readings], [{}] * len(items), ms_ours)]
    for flags, label in ((False, "lexicon"), (True, "lexicon+flags")):
        found = [read_ours(r, content, flags=flags) for r in readings]
        out.append(Row(f"ours ({label}+ConText)", [present(f) for f in found], found, ms_ours))
    for name, nlp in nlps.items():
        found = [read_medspacy(nlp(i["text"])) for i in items]
        ms = timed([i["text"] for i in items], nlp, repeats)
        out.append(Row(name, [present(f) for f in found], found, ms))
    return out


def prf(gold: list[set[str]], predicted: list[set[str]]) -> tuple[float, float, float]:
    tp = sum(len(g & p) for g, p in zip(gold, predicted, strict=True))
    fp = sum(len(p - g) for g, p in zip(gold, predicted, strict=True))
    fn = sum(len(g - p) for g, p in zip(gold, predicted, strict=True))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def table(items: list[dict[str, Any]], results: list[Row]) -> None:
    gold = [set(i["symptoms"]) for i in items]
    neg = [k for k, i in enumerate(items) if NEGATION_CUE.search(i["text"])]
    print(
        f"  {len(neg)} of {len(items)} messages have a negation cue; "
        "neg F1 / neg exact = symptom F1 / exact symptom set on those"
    )
    print(
        f"  {'':36} {'P':>6} {'R':>6} {'F1':>6} {'neg F1':>7} {'neg exact':>9} "
        f"{'p50 ms':>7} {'p95 ms':>7}"
    )
    for row in results:
        p, r, f1 = prf(gold, row.predicted)
        neg_f1 = prf([gold[k] for k in neg], [row.predicted[k] for k in neg])[2]
        exact = sum(gold[k] == row.predicted[k] for k in neg) / len(neg) if neg else 1.0
        p50 = statistics.median(row.ms)
        p95 = row.ms[max(0, int(len(row.ms) * 0.95) - 1)]
        print(
            f"  {row.name:36} {p:6.1%} {r:6.1%} {f1:6.1%} {neg_f1:7.1%} {exact:9.1%} "
            f"{p50:7.3f} {p95:7.3f}"
        )


def causes(items: list[dict[str, Any]], ours: Row, theirs: Row) -> None:
    """Symptoms the two lexicon-only readings disagree on: why, and which one gold agrees with."""
    counts: Counter[tuple[str, str]] = Counter()
    for k, item in enumerate(items):
        a, b = ours.predicted[k], theirs.predicted[k]
        for name in a ^ b:
            both = name in ours.found[k] and name in theirs.found[k]
            right = "ours" if (name in a) == (name in item["symptoms"]) else "them"
            counts["ConText" if both else "matching", right] += 1
    print(f"  {sum(counts.values())} symptom disagreements, {ours.name} vs {theirs.name}:")
    print(
        f"    ConText modifier (both matched it): ours right {counts['ConText', 'ours']:2}, "
        f"medspaCy right {counts['ConText', 'them']:2}"
    )
    print(
        f"    phrase matching (one matched it):   ours right {counts['matching', 'ours']:2}, "
        f"medspaCy right {counts['matching', 'them']:2}"
    )


def describe(found: Found) -> str:
    parts = []
    for name, seen in sorted(found.items()):
        if any(p for p, _ in seen):
            parts.append(name)
        else:
            parts.append(f"-{name} ({'; '.join(dict.fromkeys(w for _, w in seen))})")
    return ", ".join(parts) or "-"


def examples(items: list[dict[str, Any]], ours: Row, theirs: Row, shown: int) -> None:
    """Messages where one reading is closer to gold: ConText cases first, both directions."""
    closer: dict[str, list[tuple[int, int, int]]] = {"ours": [], "medspaCy": []}
    for k, item in enumerate(items):
        gold, a, b = set(item["symptoms"]), ours.predicted[k], theirs.predicted[k]
        wrong_a, wrong_b = len(a ^ gold), len(b ^ gold)
        if wrong_a == wrong_b:
            continue
        modifier = any(n in ours.found[k] and n in theirs.found[k] for n in a ^ b)
        rank = (0 if modifier else 100) - abs(wrong_a - wrong_b)
        closer["ours" if wrong_a < wrong_b else "medspaCy"].append((rank, len(item["text"]), k))
    queues = {who: sorted(found) for who, found in closer.items()}
    picked: list[tuple[str, int]] = []
    while len(picked) < shown and any(queues.values()):
        for who, queue in queues.items():
            if queue and len(picked) < shown:
                picked.append((who, queue.pop(0)[2]))
    print(
        f"  {len(picked)} most informative disagreements with {theirs.name} "
        "(-x (why): matched but judged absent):"
    )
    for who, k in picked:
        item = items[k]
        print(f"    [{who} closer] day {item['day']}: {item['text']!r}")
        print(f"        gold:     {', '.join(sorted(item['symptoms'])) or '-'}")
        print(f"        ours:     {describe(ours.found[k])}")
        print(f"        medspaCy: {describe(theirs.found[k])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeats", type=int, default=5, help="timed passes per set")
    parser.add_argument("--examples", type=int, default=10, help="disagreements shown")
    args = parser.parse_args()
    logger.disable("PyRuSH")  # its sentence splitter logs every token at DEBUG
    content = load_content()
    triager = Triager(content)
    nlps = {
        "medspaCy ConText (lexicon)": medspacy_nlp(content),
        "medspaCy ConText (lexicon+flags)": medspacy_nlp(content, flags=True),
        "medspaCy ConText+our cues (lexicon)": medspacy_nlp(content, cues=True),
    }
    default_rules = len(next(iter(nlps.values())).get_pipe("medspacy_context").rules)
    print(
        f"medspacy {medspacy.__version__} (spaCy {spacy.__version__}), {default_rules} default "
        f"ConText rules; Python {sys.version.split()[0]}; {args.repeats} timed passes"
    )
    for path in args.files or sorted(DATA.glob("triage_*.jsonl")):
        items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        print(f"\n== {path.name}: {len(items)} messages")
        results = rows(items, content, triager, nlps, args.repeats)
        table(items, results)
        causes(items, results[1], results[3])
        causes(items, results[1], results[5])
        examples(items, results[1], results[3], args.examples)
        examples(items, results[1], results[5], args.examples // 2)


if __name__ == "__main__":
    main()
