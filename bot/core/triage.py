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
_MODIFIER_SPAN = 6
_RELATIVE = frozenset({"that", "thats", "which", "whichs", "who", "whos"})
_REASONS = ("negated", "in the past", "hypothetical", "someone else")  # strongest first
_CLOSING = frozenset(
    {"now", "completely", "totally", "away", "already", "today", "overnight", "yesterday",
     "thankfully", "tho", "though", "x", "xx", "lol", "thank", "thanks", "yay", "finally",
     "by", "since", "this", "last", "after", "within", ","}
)  # tokens a negation or severity word reaches (ConText's window)
_TREND_RANK = {Trend.WORSE: 3, Trend.SAME: 2, Trend.BETTER: 1, Trend.UNKNOWN: 0, Trend.NEW: 0}
_UNITS_C = frozenset({"c", "celsius", "°c"})
_UNITS_F = frozenset({"f", "fahrenheit", "°f"})
_NOT_TEMPERATURE = frozenset(
    {"kg", "kilos", "cm", "mm", "ml", "mg", "%", "days", "day", "hours", "hrs", "weeks", "years"}
)
_DURATION = re.compile(
    r"\b(?:for|since|about|over|past|last)\s+(?:the\s+)?(?:last\s+|past\s+)?"
    r"(\d+|a|an|one|two|three|four|five|six|seven|few|couple of)\s+(hours?|days?|weeks?)\b"
    r"|\bsince\s+(yesterday|last night|this morning|monday|tuesday|wednesday|thursday|friday"
    r"|saturday|sunday|the weekend|my (?:treatment|session|appointment))\b"
)


def _ends_sentence(token: str, known: frozenset[str] = frozenset()) -> bool:
    """Punctuation that ends a sentence, and emoji, which patients use the same way
    (unless the lexicon gives the emoji a meaning: "lips 👄 double size")."""
    return token in _SENTENCE_END or (
        len(token) == 1
        and unicodedata.category(token) == "So"
        and token != "°"
        and token not in known
    )


_UNITS_WORDS = {w: n for n, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
)}
_TENS_WORDS = {"thirty": 30, "forty": 40}
_SPELLED = re.compile(
    r"\b(thirty|forty|a hundred and|one hundred and|hundred and)(?:[ -](one|two|three|four|five"
    r"|six|seven|eight|nine))?(?: point (zero|one|two|three|four|five|six|seven|eight|nine))?\b"
)


def _spelled(match: re.Match[str]) -> str:
    """'thirty nine point five' -> '39.5', 'a hundred and two' -> '102'."""
    head, unit, decimal = match.groups()
    value = _TENS_WORDS.get(head, 100) + (_UNITS_WORDS[unit] if unit else 0)
    return f"{value}.{_UNITS_WORDS[decimal]}" if decimal else str(value)


def normalise(text: str) -> str:
    """Lowercase text with apostrophes dropped ("can't" -> "cant") and decimals with points."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _SPELLED.sub(_spelled, text)
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
    names: frozenset[str] = frozenset()  # the kinds alone, for `has` (asked very often)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", frozenset(k for k, _ in self.kinds))

    def has(self, kind: str) -> bool:
        return kind in self.names

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
        rules = "; ".join(
            dict.fromkeys(f"{f.rule_id} -> {f.level.label}" for f in self.assessment.fired)
        )
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
                if phrase.startswith("@"):  # every phrase of a symptom: "@swelling"
                    for term in lex.symptoms.get(phrase[1:], []):
                        add(term, "group", name)
                else:
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
            "self": lex.self_reference,
            "historical": lex.historical,
        }
        for kind, phrases in simple.items():
            for phrase in phrases:
                add(phrase, kind)
        for phrase in lex.other_person:
            add(phrase + "s", "other_person")  # "my sister's bruise" once apostrophes go
        # A longer phrase that contains a symptom word also names the symptom
        # ("very painful" is severe soreness, "more swollen" is worse swelling).
        inner = {
            k: [(t, v) for t, v in kinds if t in {"symptom", "group"}]
            for k, kinds in table.items()
        }
        for key, kinds in table.items():
            # Pseudo phrases ("warm compress", "red wine") are there to mean nothing.
            if any(kind in {"symptom", "pseudo"} for kind, _ in kinds) or len(key) < 2:
                continue
            for size in range(1, len(key)):
                for i in range(len(key) - size + 1):
                    for kind, value in inner.get(key[i : i + size], []):
                        if (kind, value) not in kinds:
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

    def _sentences(self, toks: list[str]) -> list[int]:
        out, sentence = [], 0
        for tok in toks:
            if _ends_sentence(tok, self.known):
                sentence += 1
            out.append(sentence)
        return out

    def _clauses(self, toks: list[str], hits: list[Hit]) -> list[int]:
        """Clause number of each token. A comma continues a list of symptoms."""
        by_start = {h.start: h for h in hits}
        clause, out = 0, []
        for i, tok in enumerate(toks):
            hit = by_start.get(i)
            if _ends_sentence(tok, self.known) or (hit is not None and hit.has("break")):
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

        def compared(c: int) -> bool:
            """'my sister had hives after hers' compares; 'my wife's face is burning' reports."""
            return any(clause(h) == c and "comparison" in h.values("group") for h in hits)

        def absent(h: Hit) -> str:
            """Why a mention does not count ('' when it does); the strongest reason wins."""
            c = clause(h)
            reasons = set()
            for m in modifiers:
                if clause(m) != c or m is h:
                    continue
                before, after = m.end <= h.start, m.start >= h.end
                if m.has("historical") and (before or after):
                    reasons.add("in the past")
                if before and m.has("hypothetical"):
                    reasons.add("hypothetical")
                if before and m.has("other_person") and compared(c):
                    reasons.add("someone else")
                if before and m.has("neg_before") and h.start - m.end <= _MODIFIER_SPAN:
                    reasons.add("negated")
                if (
                    after
                    and m.has("neg_after")
                    and m.start - h.end <= _MODIFIER_SPAN
                    and closes(m)
                ):
                    reasons.add("negated")
            return next((r for r in _REASONS if r in reasons), "")

        def closes(m: Hit) -> bool:
            """'the itch has gone (now)' resolves; 'the bruise has gone grey' does not."""
            if m.end >= len(toks) or clause_of[m.end] != clause_of[m.start]:
                return True
            return toks[m.end] in _CLOSING or toks[m.end] in _SENTENCE_END

        mentions: list[Mention] = []
        for h in hits:
            for name in h.values("symptom"):
                why = absent(h)
                mentions.append(Mention(name, h.start, clause(h), not why, why_absent=why))
            for flag_id in h.values("flag"):
                # A red flag about "my mum" still gets the emergency advice: carers write for
                # patients, and a needless 112 costs less than a missed one.
                why = absent(h)
                why = "" if why == "someone else" else why
                mentions.append(Mention(flag_id, h.start, clause(h), not why, True, why))

        # Severity and trend words attach to the nearest symptom mention of their clause;
        # a trend word in a clause without one ("it's bigger") refers to the last one named.
        severity: dict[str, int] = {}
        trend: dict[str, Trend] = {}
        symptom_mentions = [m for m in mentions if not m.flag]
        sentence_of = self._sentences(toks)
        for h in hits:
            grades = h.values("severity")
            trends = h.values("trend")
            if not grades and not trends:
                continue
            why = absent(h)
            if why == "negated":  # "not growing", "no bigger than yesterday": unchanged
                grades, trends = [], [Trend.SAME.value] if trends else []
            elif why:
                continue
            if not grades and not trends:
                continue
            same = [m for m in symptom_mentions if m.clause == clause(h)]
            target: Mention | None = None
            if same and trends:
                # The trend is said of the clause's subject: "the lump under the bruise keeps
                # getting bigger" is about the lump.
                earlier = [m for m in same if m.start < h.start]
                target = earlier[0] if earlier else min(same, key=lambda m: m.start)
                # ...unless a relative pronoun binds it to the noun just before it: "a bruise
                # with a lump in it that's getting bigger" is about the lump.
                relative = [
                    i for i in range(target.start, h.start) if toks[i] in _RELATIVE
                ]
                if relative and earlier:
                    before_relative = [m for m in earlier if m.start < relative[-1]]
                    target = before_relative[-1] if before_relative else target
            elif same:
                target = min(same, key=lambda m: abs(m.start - h.start))
                reach = 2 * _MODIFIER_SPAN if "3" in grades else _MODIFIER_SPAN
                if abs(target.start - h.start) > reach:
                    target = None
            elif grades and not trends:
                # "itching drives me mad, really bad": the grade is the sentence's symptom's.
                near = [
                    m
                    for m in symptom_mentions
                    if m.present
                    and sentence_of[m.start] == sentence_of[h.start]
                    and abs(m.start - h.start) <= 2 * _MODIFIER_SPAN
                ]
                target = min(near, key=lambda m: abs(m.start - h.start)) if near else None
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

        # "my friend had a bruise like that, mine is still here": the patient has it too.
        for h in hits:
            if h.has("self") and not any(
                m.present and m.start > h.start and sentence_of[m.start] == sentence_of[h.start]
                for m in symptom_mentions
            ):
                theirs = [
                    m for m in symptom_mentions
                    if m.why_absent == "someone else" and m.start < h.start
                ]
                if theirs:
                    m = theirs[-1]
                    symptom_mentions.append(Mention(m.name, h.start, clause(h), True))
        scored = self._score_trend(toks, hits)
        if scored is not None:
            position, direction = scored
            near = [m for m in symptom_mentions if m.present and m.start <= position]
            if near and near[-1].name not in trend:
                trend[near[-1].name] = direction
        present = {m.name for m in symptom_mentions if m.present}
        denied = {m.name for m in symptom_mentions if not m.present and m.why_absent == "negated"}
        flags = list(dict.fromkeys(m.name for m in mentions if m.flag and m.present))

        # Word groups present (not negated), per clause, for the combinations.
        groups_by_clause: dict[int, set[str]] = {}
        for h in hits:
            names = h.values("group")
            if names and absent(h) in {"", "someone else"}:
                groups_by_clause.setdefault(clause(h), set()).update(names)
        everywhere = set().union(*groups_by_clause.values()) if groups_by_clause else set()
        silenced = {
            clause(h) for h in modifiers
            if h.has("hypothetical") or h.has("historical") or h.has("neg_before")
        }
        reading = self._temperature(toks, hits, clause_of, silenced)
        temperature, fahrenheit = reading if reading else (None, None)
        if temperature is not None:
            if temperature >= 38.0 or (fahrenheit is not None and fahrenheit >= 100.4):
                present.add("fever")
            else:  # measured and normal: whatever "feverish" said, there is no fever
                present.discard("fever")
                denied.add("fever")

        fired_combos: list[str] = []
        for combo in content.lexicon.combinations:
            if not everywhere.issuperset(combo.all):  # cheap, and most combinations stop here
                continue
            if combo.symptoms is not None and not present & set(combo.symptoms):
                continue
            if present & set(combo.without):
                continue
            if combo.day_min is not None and day < combo.day_min:
                continue
            scopes = (
                list(groups_by_clause.items()) if combo.scope == "clause" else [(-1, everywhere)]
            )
            where = {
                c
                for c, found in scopes
                if all(g in found for g in combo.all)
                and (not combo.any or any(g in found for g in combo.any))
                and not any(g in found for g in combo.unless)
            }
            if not where:
                continue
            fired_combos.append(combo.id)
            for name in combo.replaces:
                mentioned = {m.clause for m in symptom_mentions if m.name == name and m.present}
                if name in present and (-1 in where or mentioned <= where):
                    present.discard(name)
                    if combo.adds:  # what was said of it is said of what explains it
                        if name in severity:
                            severity[combo.adds] = max(
                                severity.get(combo.adds, 0), severity[name]
                            )
                        if name in trend and _TREND_RANK[trend[name]] > _TREND_RANK[
                            trend.get(combo.adds, Trend.UNKNOWN)
                        ]:
                            trend[combo.adds] = trend[name]
            if combo.adds:
                present.add(combo.adds)
                for name in combo.inherits:
                    if name in severity:
                        severity[combo.adds] = max(severity.get(combo.adds, 0), severity[name])
                    if name in trend and _TREND_RANK[trend[name]] > _TREND_RANK[
                        trend.get(combo.adds, Trend.UNKNOWN)
                    ]:
                        trend[combo.adds] = trend[name]
                if combo.severity is not None:
                    severity[combo.adds] = max(severity.get(combo.adds, 0), combo.severity)
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
                    temperature_f=fahrenheit if name == "fever" else None,
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
    def _score_trend(toks: list[str], hits: list[Hit]) -> tuple[int, Trend] | None:
        """Two 'N/10' scores, one said of now and one of before: their difference."""
        scores = [
            (i, int(toks[i]))
            for i in range(len(toks) - 2)
            if toks[i].isdigit() and toks[i + 1] == "/" and toks[i + 2] == "10"
        ]
        if len(scores) != 2:
            return None
        anchors = [(h.start, g) for h in hits for g in h.values("group")
                   if g in {"now_words", "past_words"}]

        def when(i: int) -> str | None:
            near = [(abs(a - i), g) for a, g in anchors if abs(a - i) <= 3]
            return min(near)[1] if near else None

        tagged = {when(i): score for i, score in scores}
        if "now_words" not in tagged or "past_words" not in tagged:
            return None
        now, before = tagged["now_words"], tagged["past_words"]
        direction = Trend.WORSE if now > before else Trend.BETTER if now < before else Trend.SAME
        return scores[0][0], direction

    def _temperature(
        self, toks: list[str], hits: list[Hit], clause_of: list[int], silenced: set[int]
    ) -> tuple[float, float | None] | None:
        """The highest body temperature written, in °C, and the °F reading if given in °F.

        A number counts when it has a unit, sits near 'temp'/'fever', or has a decimal in body
        range; not in a clause that is hypothetical, in the past or negated.
        """
        context = {
            clause_of[h.start]
            for h in hits
            if "fever_context" in h.values("group") or "fever" in h.values("symptom")
        }
        sentence_of = self._sentences(toks)
        anchored: set[int] = set()
        for _ in range(2):  # second pass: "from 37.6 this morning to 39 now"
            raw = self._read_temperatures(toks, clause_of, context, sentence_of, anchored)
        readings = [reading for reading, i in raw if clause_of[i] not in silenced]
        return max(readings, key=lambda r: r[0]) if readings else None

    @staticmethod
    def _unit(toks: list[str], i: int, sentence_of: list[int]) -> str:
        """'c', 'f', '°' or '' for the number at i: written after it, or named in its sentence."""
        after = toks[i + 1 : i + 3]
        if after and after[0] in {"°", "º", "deg", "degrees"}:
            after = after[1:]
            if not after or after[0] not in _UNITS_C | _UNITS_F:
                return "°"
        if after and after[0] in _UNITS_C:
            return "c"
        if after and after[0] in _UNITS_F:
            return "f"
        for j in range(i + 1, min(len(toks), i + 6)):  # "101.9 this morning (fahrenheit)"
            if sentence_of[j] != sentence_of[i]:
                break
            if toks[j] in {"celsius", "fahrenheit"}:
                return toks[j][0]
        return ""

    @staticmethod
    def _read_temperatures(
        toks: list[str],
        clause_of: list[int],
        context: set[int],
        sentence_of: list[int],
        anchored: set[int],
    ) -> list[tuple[tuple[float, float | None], int]]:
        found: list[tuple[tuple[float, float | None], int]] = []
        for i, tok in enumerate(toks):
            if not tok[0].isdigit() or (i + 1 < len(toks) and toks[i + 1] in _NOT_TEMPERATURE):
                continue
            value = float(tok)
            unit = Triager._unit(toks, i, sentence_of)
            fahrenheit = unit == "f" or (unit in {"", "°"} and 93 <= value <= 110)
            celsius = (value - 32) * 5 / 9 if fahrenheit else value
            if not 34.0 <= celsius <= 43.5:
                continue
            said = unit != "" or clause_of[i] in context  # 38°C, 101 F, "temp 38"
            bare = "." in tok  # "38.1 this evening", "101.9": a decimal in body range
            beside = sentence_of[i] in anchored  # "from 37.6 this morning to 39 now"
            if said or bare or beside:
                found.append(((round(celsius, 1), value if fahrenheit else None), i))
                anchored.add(sentence_of[i])
        return found
