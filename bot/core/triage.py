"""Free-text triage: from a patient's own words to observations and an escalation level.

A lexicon (content `lexicon.yaml`, red-flag phrases from `red_flags.yaml`) is compiled once
into a phrase table. Reading a message:

1. normalise (lowercase, apostrophes dropped, decimal commas, hyphens as spaces) and tokenise;
   correct one-letter slips in longer words towards symptom words;
2. match phrases, longest first, each with its kinds (symptom, red flag, severity, trend,
   negation, hypothetical, other person, clause break, contact, off-topic, word group);
3. split into clauses and apply ConText-style modifiers to each symptom and red-flag mention
   within its clause: negation before or after, hypothetical ("if it swells"), other person
   ("my friend had..."); attach severity and trend words to the nearest mention;
4. read temperatures (°C or °F), combinations ("red and warm swelling" adds infection) and
   requests to be contacted; then the rules engine gives the level. Red flags are found like
   any symptom but nothing in the message can lower them (G1).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from bot.core.content import Content
from bot.core.model import Assessment, Observation, Report, Trend
from bot.core.rules import evaluate, with_trends

_TOKEN = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+|[^\s\w]")
_SENTENCE_END = frozenset({".", "!", "?", ";", ":", "\n"})
_MODIFIER_SPAN = 6  # tokens a negation or severity word reaches (ConText's window)
_TREND_RANK = {Trend.WORSE: 3, Trend.SAME: 2, Trend.BETTER: 1, Trend.UNKNOWN: 0, Trend.NEW: 0}
_UNITS_C = frozenset({"c", "celsius", "°c"})
_UNITS_F = frozenset({"f", "fahrenheit", "°f"})
_DURATION = re.compile(
    r"\b(?:for|since|about|over|past|last)\s+(?:the\s+)?(?:last\s+|past\s+)?"
    r"(\d+|a|an|one|two|three|four|five|six|seven|few|couple of)\s+(hours?|days?|weeks?)\b"
    r"|\bsince\s+(yesterday|last night|this morning|monday|tuesday|wednesday|thursday|friday"
    r"|saturday|sunday|the weekend|my (?:treatment|session|appointment))\b"
)


def normalise(text: str) -> str:
    """Lowercase text with apostrophes dropped ("can't" -> "cant") and decimals with points."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[\u200d\ufe0f\U0001F3FB-\U0001F3FF]", "", text)  # emoji joiners, skin tones
    text = text.replace("’", "'").replace("‘", "'").replace("`", "'").replace("'", "")
    text = re.sub(r"(\d),(\d)", r"\1.\2", text)
    text = text.replace("\n", " . ")
    return re.sub(r"[-_/]", lambda m: " / " if m.group() == "/" else " ", text)


def tokens(text: str) -> list[str]:
    """Words, numbers and single symbols of the normalised text."""
    return _TOKEN.findall(normalise(text))


@dataclass(frozen=True, slots=True)
class Hit:
    """A matched phrase: tokens [start, end) and what it means."""

    start: int
    end: int
    kinds: tuple[tuple[str, str], ...]

    def has(self, kind: str) -> bool:
        return any(k == kind for k, _ in self.kinds)

    def values(self, kind: str) -> list[str]:
        return [v for k, v in self.kinds if k == kind]


@dataclass(frozen=True, slots=True)
class Mention:
    """One mention of a symptom or red flag, after its modifiers were applied."""

    name: str  # symptom, or red-flag id when `flag`
    start: int
    clause: int
    present: bool
    flag: bool = False
    why_absent: str = ""


@dataclass(frozen=True, slots=True)
class Triage:
    """What a message says, and what it means clinically."""

    report: Report
    assessment: Assessment
    mentions: tuple[Mention, ...] = ()
    durations: tuple[str, ...] = ()
    off_topic: str | None = None  # admin | thanks | well
    unclear_trend: tuple[str, ...] = ()  # symptoms also reported last time, trend not said
    combinations: tuple[str, ...] = field(default=())

    @property
    def symptoms(self) -> list[str]:
        return sorted({o.symptom for o in self.report.present})

    def explain(self) -> str:
        """A clinician-readable account of the reading."""
        parts = []
        for o in self.report.observations:
            bits = [o.symptom]
            if o.red_flag:
                bits.append(f"red flag {o.red_flag}")
            if o.severity is not None:
                bits.append(f"severity {o.severity}")
            if o.trend is not Trend.UNKNOWN:
                bits.append(o.trend.value)
            if o.temperature_c is not None:
                bits.append(f"{o.temperature_c:.1f} °C")
            parts.append(("" if o.present else "denied: ") + ", ".join(bits))
        for m in self.mentions:
            if not m.present and m.why_absent in {"hypothetical", "someone else"}:
                parts.append(f"{m.name} not counted ({m.why_absent})")
        if self.report.contact_request:
            parts.append("asks to be contacted or is worried")
        if self.durations:
            parts.append("duration: " + "; ".join(self.durations))
        if self.combinations:
            parts.append("combined signs: " + ", ".join(self.combinations))
        if self.off_topic:
            parts.append(f"no symptom ({self.off_topic})")
        rules = "; ".join(f"{f.rule_id} -> {f.level.label}" for f in self.assessment.fired)
        found = " | ".join(parts) or "nothing clinical found"
        return f"{found}. Level {self.assessment.level.label}" + (f" ({rules})" if rules else "")


def _damerau1(a: str, b: str) -> bool:
    """True when a and b differ by exactly one edit (insert, delete, substitute, swap)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and a[diffs[0]] == b[diffs[1]]
            and a[diffs[1]] == b[diffs[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]


class Triager:
    """Reads patients' messages with one clinic's content (compile once, read many)."""

    MIN_CORRECTABLE = 6  # one-letter slips are corrected only in words this long

    def __init__(self, content: Content) -> None:
        self.content = content
        lex = content.lexicon
        table: dict[tuple[str, ...], list[tuple[str, str]]] = {}

        def add(phrase: str, kind: str, value: str = "") -> None:
            key = tuple(tokens(phrase))
            if key and (kind, value) not in table.setdefault(key, []):
                table[key].append((kind, value))

        for name, phrases in lex.symptoms.items():
            for phrase in phrases:
                add(phrase, "symptom", name)
        for flag_id, flag in content.red_flags.items():
            for phrase in flag.phrases:
                add(phrase, "flag", flag_id)
        for name, phrases in lex.groups.items():
            for phrase in phrases:
                add(phrase, "group", name)
        for grade, phrases in lex.severity.items():
            for phrase in phrases:
                add(phrase, "severity", str(grade))
        for trend, phrases in (
            ("worse", lex.trend.worse),
            ("better", lex.trend.better),
            ("same", lex.trend.same),
        ):
            for phrase in phrases:
                add(phrase, "trend", trend)
        simple = {
            "neg_before": lex.negation.before,
            "neg_after": lex.negation.after,
            "pseudo": lex.negation.pseudo,
            "hypothetical": lex.hypothetical,
            "other_person": lex.other_person,
            "break": lex.clause_breaks,
            "contact": lex.contact.request,
            "worry": lex.contact.worry,
            "admin": lex.off_topic.admin,
            "thanks": lex.off_topic.thanks,
            "well": lex.off_topic.well,
        }
        for kind, phrases in simple.items():
            for phrase in phrases:
                add(phrase, kind)
        # A longer phrase that contains a symptom word also names the symptom
        # ("very painful" is severe soreness, "more swollen" is worse swelling).
        symptom_keys = {k: v for k, v in table.items() if any(t == "symptom" for t, _ in v)}
        for key, kinds in table.items():
            if any(kind == "symptom" for kind, _ in kinds) or len(key) < 2:
                continue
            for size in range(1, len(key)):
                for i in range(len(key) - size + 1):
                    for kind, value in symptom_keys.get(key[i : i + size], []):
                        if kind == "symptom" and (kind, value) not in kinds:
                            kinds.append((kind, value))
        self.table = {k: tuple(v) for k, v in table.items()}
        self.longest = max(len(k) for k in self.table)
        known = {t for key in self.table for t in key}
        self.known = frozenset(known | {normalise(w) for w in lex.never_correct})
        self.targets = tuple(
            sorted(
                {
                    key[0]
                    for key, kinds in self.table.items()
                    if len(key) == 1
                    and len(key[0]) >= self.MIN_CORRECTABLE - 1
                    and key[0].isalpha()
                    and any(kind == "symptom" for kind, _ in kinds)
                }
            )
        )
        self._correct = lru_cache(maxsize=8192)(self._correct_uncached)

    # --- reading
    def _correct_uncached(self, token: str) -> str:
        if len(token) < self.MIN_CORRECTABLE or token in self.known or not token.isalpha():
            return token
        for target in self.targets:
            if target[0] == token[0] and _damerau1(token, target):
                return target
        return token

    def _hits(self, toks: list[str]) -> list[Hit]:
        hits: list[Hit] = []
        i = 0
        while i < len(toks):
            for size in range(min(self.longest, len(toks) - i), 0, -1):
                kinds = self.table.get(tuple(toks[i : i + size]))
                if kinds:
                    hits.append(Hit(i, i + size, kinds))
                    i += size
                    break
            else:
                score = self._out_of_ten(toks, i)
                if score is not None:
                    hits.append(Hit(i, i + 4, (("severity", str(score)),)))
                    i += 4
                    continue
                i += 1
        return hits

    @staticmethod
    def _out_of_ten(toks: list[str], i: int) -> int | None:
        """'7 out of 10' as a severity grade."""
        if toks[i : i + 4][1:] == ["out", "of", "10"] and toks[i].isdigit():
            score = int(toks[i])
            if 0 <= score <= 10:
                return 1 if score <= 3 else 2 if score <= 6 else 3
        return None

    def _clauses(self, toks: list[str], hits: list[Hit]) -> list[int]:
        """Clause number of each token. A comma continues a list of symptoms."""
        by_start = {h.start: h for h in hits}
        clause, out = 0, []
        for i, tok in enumerate(toks):
            hit = by_start.get(i)
            if tok in _SENTENCE_END or (hit is not None and hit.has("break")):
                clause += 1
            elif tok == ",":
                nxt = next((h for h in hits if h.start > i), None)
                if not (nxt is not None and nxt.start == i + 1 and nxt.has("symptom")):
                    clause += 1
            out.append(clause)
        return out

    def read(  # noqa: PLR0915
        self, text: str, *, day: int, previous: Sequence[Observation] | None = None
    ) -> Triage:
        """Triage one message written on `day` (days since the session)."""
        content = self.content
        toks = [self._correct(t) for t in tokens(text)]
        hits = self._hits(toks)
        clause_of = self._clauses(toks, hits)

        def clause(h: Hit) -> int:
            return clause_of[h.start] if h.start < len(clause_of) else -1

        modifiers = [h for h in hits if not h.has("pseudo")]

        def absent(h: Hit) -> str:
            """Why a mention does not count ('' when it does)."""
            c = clause(h)
            for m in modifiers:
                if clause(m) != c or m is h:
                    continue
                if m.end <= h.start:
                    if m.has("hypothetical"):
                        return "hypothetical"
                    if m.has("other_person"):
                        return "someone else"
                    if m.has("neg_before") and h.start - m.end <= _MODIFIER_SPAN:
                        return "negated"
                elif m.start >= h.end and m.has("neg_after") and m.start - h.end <= _MODIFIER_SPAN:
                    return "negated"
            return ""

        mentions: list[Mention] = []
        for h in hits:
            for name in h.values("symptom"):
                why = absent(h)
                mentions.append(Mention(name, h.start, clause(h), not why, why_absent=why))
            for flag_id in h.values("flag"):
                why = absent(h)
                mentions.append(Mention(flag_id, h.start, clause(h), not why, True, why))

        # Severity and trend words attach to the nearest symptom mention of their clause;
        # a trend word in a clause without one ("it's bigger") refers to the last one named.
        severity: dict[str, int] = {}
        trend: dict[str, Trend] = {}
        symptom_mentions = [m for m in mentions if not m.flag]
        for h in hits:
            grades = h.values("severity")
            trends = h.values("trend")
            if not grades and not trends:
                continue
            same = [m for m in symptom_mentions if m.clause == clause(h)]
            target: Mention | None = None
            if same:
                target = min(same, key=lambda m: abs(m.start - h.start))
                if grades and not trends and abs(target.start - h.start) > _MODIFIER_SPAN:
                    target = None
            elif trends:
                before = [m for m in symptom_mentions if m.start < h.start and m.present]
                target = before[-1] if before else None
            if target is None:
                continue
            for g in grades:
                severity[target.name] = max(severity.get(target.name, 0), int(g))
            for t in trends:
                new = Trend(t)
                old = trend.get(target.name, Trend.UNKNOWN)
                trend[target.name] = new if _TREND_RANK[new] > _TREND_RANK[old] else old

        present = {m.name for m in symptom_mentions if m.present}
        denied = {m.name for m in symptom_mentions if not m.present and m.why_absent == "negated"}
        flags = list(dict.fromkeys(m.name for m in mentions if m.flag and m.present))

        groups = {
            g for h in hits if not absent(h) for g in h.values("group")
        } | {g for h in hits for g in h.values("group") if h.has("symptom") and not absent(h)}
        temperature = self._temperature(toks, hits, clause_of)
        if temperature is not None:
            if temperature >= 38.0:
                present.add("fever")
            else:  # measured and normal: whatever "feverish" said, there is no fever
                present.discard("fever")
                denied.add("fever")

        fired_combos: list[str] = []
        for combo in content.lexicon.combinations:
            if combo.symptoms is not None and not present & set(combo.symptoms):
                continue
            if present & set(combo.without):
                continue
            if combo.day_min is not None and day < combo.day_min:
                continue
            if not all(g in groups for g in combo.all):
                continue
            if combo.any and not any(g in groups for g in combo.any):
                continue
            fired_combos.append(combo.id)
            if combo.adds:
                present.add(combo.adds)
                present -= set(combo.replaces)
            if combo.red_flag and combo.red_flag not in flags:
                flags.append(combo.red_flag)

        observations: list[Observation] = []
        for name in sorted(present):
            if name not in content.symptoms:
                continue
            observations.append(
                Observation(
                    name,
                    severity.get(name),
                    trend.get(name, Trend.UNKNOWN),
                    temperature_c=temperature if name == "fever" else None,
                )
            )
        for flag_id in flags:
            observations.append(
                Observation(content.red_flags[flag_id].symptom, 4, red_flag=flag_id)
            )
        for name in sorted(denied - present):
            if name in content.symptoms:
                observations.append(Observation(name, present=False))

        contact = any((h.has("contact") or h.has("worry")) and not absent(h) for h in hits)
        report = with_trends(Report(tuple(observations), contact_request=contact), previous)
        assessment = evaluate(report, day=day, previous=previous, content=content)
        reported_before = {o.symptom for o in previous or () if o.present}
        unclear = tuple(
            o.symptom
            for o in report.present
            if o.trend is Trend.UNKNOWN and o.symptom in reported_before and not o.red_flag
        )
        off_topic = None
        if not report.present and not contact:
            for kind in ("admin", "well", "thanks"):
                if any(h.has(kind) for h in hits):
                    off_topic = kind
                    break
        durations = tuple(m.group(0) for m in _DURATION.finditer(" ".join(toks)))
        return Triage(
            report=report,
            assessment=assessment,
            mentions=tuple(mentions),
            durations=durations,
            off_topic=off_topic,
            unclear_trend=unclear,
            combinations=tuple(fired_combos),
        )

    @staticmethod
    def _temperature(toks: list[str], hits: list[Hit], clause_of: list[int]) -> float | None:
        """The highest body temperature written, in °C (a number with a unit or near 'temp')."""
        context = {
            clause_of[h.start]
            for h in hits
            if "fever_context" in h.values("group") or "fever" in h.values("symptom")
        }
        found: list[float] = []
        for i, tok in enumerate(toks):
            if not tok[0].isdigit():
                continue
            value = float(tok)
            unit = toks[i + 1] if i + 1 < len(toks) else ""
            if unit in {"°", "º", "deg", "degrees"} and i + 2 < len(toks):
                unit = toks[i + 2] if toks[i + 2] in _UNITS_C | _UNITS_F else "°"
            fahrenheit = unit in _UNITS_F or (unit not in _UNITS_C and 93 <= value <= 110)
            celsius = value if not fahrenheit else (value - 32) * 5 / 9
            has_unit = unit in _UNITS_C | _UNITS_F | {"°"}
            if 34.0 <= celsius <= 43.5 and (has_unit or clause_of[i] in context):
                found.append(round(celsius, 1))
        return max(found) if found else None
