"""Phase 4, measure: severity and trend words attached to the symptom they qualify, scores
("7 out of 10", "was 3/10, now 6/10"), self-reference ("mine is still here"), and body
temperatures (°C or °F, written or spelled out)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.core.lexicon_model import Measures as NumberWords
from bot.core.model import Trend
from bot.core.triage.match import Hit, Matched
from bot.core.triage.scope import MODIFIER_SPAN, UNSURE, Mention, Scope
from bot.core.triage.text import WordForms

_RELATIVE = frozenset({"that", "thats", "which", "whichs", "who", "whos"})
TREND_RANK = {Trend.WORSE: 3, Trend.SAME: 2, Trend.BETTER: 1, Trend.UNKNOWN: 0, Trend.NEW: 0}
_UNITS_C = frozenset({"c", "celsius", "°c"})
_UNITS_F = frozenset({"f", "fahrenheit", "°f"})
_NOT_TEMPERATURE = frozenset(
    {"kg", "kilos", "cm", "mm", "ml", "mg", "%", "days", "day", "hours", "hrs", "weeks", "years"}
)


@dataclass(slots=True)
class Measures:
    """What the message says of each symptom, beyond naming it."""

    symptom_mentions: list[Mention]
    severity: dict[str, int] = field(default_factory=dict)
    trend: dict[str, Trend] = field(default_factory=dict)
    temperature: float | None = None  # °C, the highest written
    fahrenheit: float | None = None  # as written, when written in °F
    heart_rate: int | None = None  # beats per minute, the highest written of the patient
    heart_rate_beside: bool = False  # one was written right beside a heart word


_NOT_A_SCORE_AFTER = frozenset(
    {"days", "day", "hours", "hour", "hrs", "hr", "h", "am", "pm", "mins", "min", "minutes",
     "times", "x", "mg", "ml", "kg", "%", "weeks", "week", "months", "years", "ibuprofen",
     "paracetamol", "tablets", "pills", "sessions", "injections", "°", "degrees", "bpm", ":"}
)
_NOT_A_SCORE_BEFORE = frozenset(
    {"day", "days", "week", "weeks", "session", "sessions", "number", "no", "#", "at", "took",
     "take", "every", "hr", "pulse", "heart", "x", "about", "after"}
)
_NOT_A_RATE = frozenset(
    {"mg", "ml", "kg", "g", "lbs", "days", "day", "hours", "hrs", "years", "yrs", "year", "am",
     "pm", "%", "minutes", "mins", "metres", "meters", "m", "km", "steps", "calories", "kcal"}
)
_SCORE_CUES = frozenset(
    {"level", "score", "rating", "rate", "rated", "solid", "a", "is", "was", "now", "its",
     "to", "from", ":", "like", "around", "maybe", "about", "then", "and"}
)


class Numbers:
    """Scores out of ten and heart rates, read with one clinic's content (compiled once)."""

    def __init__(self, words: NumberWords, forms: WordForms | None = None) -> None:
        forms = forms or WordForms()
        self.bands = sorted(words.score_grades.items(), key=lambda item: item[1])
        keys = {k for phrase in words.out_of for k in forms.keys(phrase)}
        self.out_of = [list(k) for k in sorted(keys, key=len, reverse=True)]
        # The word before a "10" that ends another score ("2 from 10", "2 sur 10").
        self.out_of_heads = {k[-2] for k in keys if len(k) >= 2 and k[-1] == "10"}
        racing = words.racing_heart
        self.heart_words = ({k for w in racing.words for k in forms.keys(w)}
                            if racing else set())
        self.heart_unless = set(racing.unless) if racing else set()
        self.not_rates = ({k for w in racing.not_rates for k in forms.keys(w)}
                          if racing else set())
        self.weather = {k for w in words.weather for k in forms.keys(w)}
        self.longest = max((len(w) for w in
                            (*self.heart_words, *self.not_rates, *self.weather)), default=0)

    def found(self, toks: list[str], phrases: set[tuple[str, ...]]) -> set[tuple[int, int]]:
        """Where phrases of `phrases` are in `toks`, as [start, end) (whole words only)."""
        return {(j, j + size) for j in range(len(toks))
                for size in range(1, min(self.longest, len(toks) - j) + 1)
                if tuple(toks[j:j + size]) in phrases}

    def grade(self, score: int) -> int:
        return next(grade for grade, top in self.bands if score <= top)


def measure(
    m: Matched, scope: Scope, mentions: list[Mention], numbers: Numbers | None = None
) -> Measures:
    """Severity, trend, self-reference, scores, heart rate and temperature of one message."""
    out = Measures([x for x in mentions if not x.flag])
    _attach(m, scope, out)
    _self_reference(m, out)
    silenced = _silenced(m, scope)
    if numbers is not None:
        _scores(m, out, numbers, silenced)
        out.heart_rate, out.heart_rate_beside = _heart_rate(m, scope, numbers, silenced)
    reading = _temperature(m, scope, numbers)
    if reading is not None:
        out.temperature, out.fahrenheit = reading
    return out


def _attach(m: Matched, scope: Scope, out: Measures) -> None:
    """Severity and trend words attach to the nearest symptom mention of their clause; a
    trend word in a clause without one ("it's bigger") refers to the last one named."""
    symptoms = out.symptom_mentions  # (self-references are added after this phase)
    for h in m.hits:
        grades, trends = h.values("severity"), h.values("trend")
        if not grades and not trends:
            continue
        why = scope.absent(h)
        if why == "negated":  # "not growing", "no bigger than yesterday": unchanged
            grades, trends = (), (Trend.SAME.value,) if trends else ()
        elif why:
            continue
        if not grades and not trends:
            continue
        target = _target(m, h, symptoms, grades, trends)
        if target is None:
            continue
        for g in grades:
            out.severity[target.name] = max(out.severity.get(target.name, 0), int(g))
        for t in trends:
            new, old = Trend(t), out.trend.get(target.name, Trend.UNKNOWN)
            out.trend[target.name] = new if TREND_RANK[new] > TREND_RANK[old] else old


def _target(
    m: Matched, h: Hit, symptoms: list[Mention], grades: Sequence[str], trends: Sequence[str]
) -> Mention | None:
    """The symptom mention a severity or trend hit qualifies, if any."""
    same = [x for x in symptoms if x.clause == m.clause(h)]
    if same and trends:
        # The trend is said of the clause's subject: "the lump under the bruise keeps
        # getting bigger" is about the lump...
        earlier = [x for x in same if x.start < h.start]
        target = earlier[0] if earlier else min(same, key=lambda x: x.start)
        # ...unless a relative pronoun binds it to the noun just before it: "a bruise
        # with a lump in it that's getting bigger" is about the lump.
        relative = [i for i in range(target.start, h.start) if m.toks[i] in _RELATIVE]
        if relative and earlier:
            before_relative = [x for x in earlier if x.start < relative[-1]]
            target = before_relative[-1] if before_relative else target
        return target
    if same:
        target = min(same, key=lambda x: abs(x.start - h.start))
        reach = 2 * MODIFIER_SPAN if "3" in grades else MODIFIER_SPAN
        return target if abs(target.start - h.start) <= reach else None
    if grades and not trends:
        # "itching drives me mad, really bad": the grade is the sentence's symptom's.
        near = [
            x for x in symptoms
            if x.present
            and m.sentence_of[x.start] == m.sentence_of[h.start]
            and abs(x.start - h.start) <= 2 * MODIFIER_SPAN
        ]
        return min(near, key=lambda x: abs(x.start - h.start)) if near else None
    if trends:
        before = [x for x in symptoms if x.start < h.start and x.present]
        return before[-1] if before else None
    return None


def _self_reference(m: Matched, out: Measures) -> None:
    """"my friend had a bruise like that, mine is still here" (or "the nurse said the bruises
    would fade, mine are darker"): the patient has it too."""
    mentions = out.symptom_mentions
    for h in m.hits:
        if h.has("self") and not any(
            x.present and x.start > h.start and m.sentence_of[x.start] == m.sentence_of[h.start]
            for x in mentions
        ):
            theirs = [x for x in mentions
                      if x.why_absent in {"someone else", UNSURE} and x.start < h.start]
            if theirs:
                x = theirs[-1]
                mentions.append(Mention(x.name, h.start, m.clause(h), True))


def _silenced(m: Matched, scope: Scope) -> set[int]:
    """Tokens whose numbers are not the patient's now: in a hypothetical or past clause, or
    after a negation in theirs ("temp 38.6 no chills" keeps its 38.6). A number beside a
    joke or a leaflet still counts: it raises, the question asks; one said of someone else,
    the writer's own case set apart ("my husband has a fever of 39, not me"), is theirs."""
    out: set[int] = {i for i, c in enumerate(m.clause_of) if c in scope.theirs}
    for h in scope.modifiers:
        whole = h.has("hypothetical") or h.has("historical")
        if not whole and _corrects(m.toks, h.end):
            continue  # "temperature 37.5 no 39.5 sorry": a correction, not a denial
        if whole or h.has("neg_before"):
            clause, start = m.clause(h), 0 if whole else h.start
            out.update(i for i, c in enumerate(m.clause_of) if c == clause and i >= start)
    return out


def _corrects(toks: list[str], i: int) -> bool:
    """Whether a number follows at i, after words that correct ("no wait 140")."""
    while i < len(toks) and toks[i] in _CORRECTING:
        i += 1
    return i < len(toks) and toks[i][:1].isdecimal()


_CORRECTING = {"wait", "actually", "sorry", "i", "mean", "its", "it", "is", "now", ","}


def _score_at(
    toks: list[str], i: int, after_symptom: bool, numbers: Numbers
) -> tuple[int, int] | None:
    """The score out of ten written at token i, if the number there is one, and the
    token where it ends ("7 / 10")."""
    tok = toks[i]
    if not tok.isdecimal() or len(tok) > 2 or int(tok) > 10:
        return None
    after, before = toks[i + 1 : i + 4], toks[i - 1] if i else ""
    out_of = next((o for o in numbers.out_of if after[: len(o)] == o), None)
    if out_of is not None:
        return int(tok), i + len(out_of)
    if tok == "10" and before in numbers.out_of_heads and i > 1 and toks[i - 2].isdecimal():
        return None  # the "10" of "2 from 10"
    if (after and after[0] in _NOT_A_SCORE_AFTER) or before in _NOT_A_SCORE_BEFORE:
        return None
    return (int(tok), i) if before in _SCORE_CUES or after_symptom or i == 0 else None


def _scores(m: Matched, out: Measures, numbers: Numbers, silenced: set[int]) -> None:
    """Scores grade the symptom they are said of; two of one symptom give its trend (the
    later one is now, unless the words say otherwise: "3/10 but it was 1/10 yesterday")."""
    present = sorted((x for x in out.symptom_mentions if x.present), key=lambda x: x.start)
    starts = [x.start for x in present]
    ends = {h.end for h in m.hits if h.has("symptom")}
    sentence = _sentences(m)
    by_symptom: dict[str, list[tuple[int, int, int]]] = {}
    for i in range(len(m.toks)):
        read = _score_at(m.toks, i, i in ends or (i - 1 in ends and m.toks[i - 1] == ":"),
                         numbers)
        if read is None or i in silenced:
            continue
        score, end = read
        near = present[bisect_left(starts, i - 2 * MODIFIER_SPAN):
                       bisect_right(starts, i + 2 * MODIFIER_SPAN)]
        same = [x for x in near if sentence[x.start] == sentence[i]]
        if not same:
            continue
        before = [x for x in same if x.start < i]
        target = before[-1] if before else min(same, key=lambda x: x.start)
        by_symptom.setdefault(target.name, []).append((i, end, score))
    anchors = [(h.start, h.end - 1, g) for h in m.hits for g in h.values("group")
               if g in {"now_words", "past_words"}]
    for name, scored in by_symptom.items():
        now = scored[-1][2]
        if len(scored) >= 2:
            first, last = scored[0], scored[-1]
            said = _said_of(anchors, [(i, end) for i, end, _ in scored])
            earlier = last[0] > 0 and m.toks[last[0] - 1] == "from"  # "4/10 (up) from 2"
            if said.get(last[0]) == "past_words" or said.get(first[0]) == "now_words" or earlier:
                first, last = last, first
            now = last[2]
            out.trend[name] = (Trend.WORSE if last[2] > first[2]
                               else Trend.BETTER if last[2] < first[2] else Trend.SAME)
        out.severity[name] = max(out.severity.get(name, 0), numbers.grade(now))


def _sentences(m: Matched) -> list[int]:
    """Each token's sentence, one that opens with a colon joined to the one before
    ("Soreness: 3/10 but it was 1/10 yesterday" is one statement)."""
    out, opened_by_colon = [], False
    for i, sentence in enumerate(m.sentence_of):
        if i == 0 or sentence != m.sentence_of[i - 1]:
            opened_by_colon = sentence > 0 and m.toks[i] == ":"
        out.append(sentence - 1 if opened_by_colon else sentence)
    return out


def _said_of(
    anchors: list[tuple[int, int, str]], scores: list[tuple[int, int]]
) -> dict[int, str]:
    """'now_words' or 'past_words' for each score (by its first token), within 3 tokens.
    Words right beside a score go first and are that score's ("was 2 now 9", "3/10 today
    vs 2/10 yesterday", "6/10 right now, it was 8"); between two scores "now" is the later's
    and "yesterday" the earlier's; elsewhere a word is the nearest score's."""

    def gap(start: int, end: int, score: tuple[int, int]) -> int:
        return score[0] - end if end < score[0] else start - score[1] if start > score[1] else 0

    scores = sorted(scores)
    firsts = [score[0] for score in scores]

    def beside(start: int, end: int) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
        """The scores just before and just after an anchor (bisect: messages can be long)."""
        after = bisect_right(firsts, end)
        before = bisect_left(firsts, start) - 1
        return (scores[before] if before >= 0 else None,
                scores[after] if after < len(scores) else None)

    def nearest_of(start: int, end: int) -> tuple[tuple[int, int], int]:
        candidates = [score for score in beside(start, end) if score is not None]
        inside = scores[bisect_left(firsts, start):bisect_right(firsts, end)]
        best = min([*candidates, *inside], key=lambda sc: (gap(start, end, sc), -sc[0]))
        return best, gap(start, end, best)

    said: dict[int, str] = {}
    for start, end, group in sorted(anchors, key=lambda a: nearest_of(a[0], a[1])[1]):
        nearest, distance = nearest_of(start, end)
        earlier, later = beside(start, end)
        if later is not None and earlier is not None and earlier[1] < start and distance > 1:
            nearest = later if group == "now_words" else earlier
        if gap(start, end, nearest) <= 3:
            said.setdefault(nearest[0], group)
    return said


def _heart_rate(
    m: Matched, scope: Scope, numbers: Numbers, silenced: set[int]
) -> tuple[int | None, bool]:
    """The highest heart rate in a sentence with a heart word ("my resting heart rate is
    normally 60 but now 135"), and whether one was written right beside a heart word
    ("pulse 72"), which settles the heart topic when no rate reaches the red flag."""
    toks = m.toks
    heart = {i for h in m.hits if "heart" in h.values("group") for i in range(h.start, h.end)}
    for start, end in numbers.found(toks, numbers.heart_words):
        heart.update(range(start, end))
    sentences = {m.sentence_of[i] for i in heart}
    explained = {m.sentence_of[h.start] for h in m.hits  # "HR 135 at the top of the hill"
                 if numbers.heart_unless.intersection(h.values("group")) and not scope.absent(h)}
    rates, beside = [], False
    ends = {end for _, end in numbers.found(toks, numbers.not_rates)}  # "pressure 120 on 80"
    pressures: set[int] = set()
    for i, tok in enumerate(toks):
        if i in ends or i - 1 in ends or (i - 2 in pressures and i - 1 not in heart) or (
                i + 2 < len(toks) and toks[i + 1] == "/" and toks[i + 2].isdecimal()):
            pressures.add(i)
            continue  # a blood pressure ("120/80", "160 на 125"), not a heart rate
        if not tok.isdecimal() or len(tok) > 3 or not 40 <= int(tok) <= 250:
            continue
        if m.sentence_of[i] not in sentences or i in silenced:
            continue
        if m.sentence_of[i] in explained or (i + 1 < len(toks) and toks[i + 1] in _NOT_A_RATE):
            continue
        rates.append(int(tok))
        beside = beside or any(j in heart for j in range(i - 2, i + 3))
    return (max(rates) if rates else None), beside


def _temperature(
    m: Matched, scope: Scope, numbers: Numbers | None = None
) -> tuple[float, float | None] | None:
    """The highest body temperature written, in °C, and the °F reading if given in °F.

    A number counts when it has a unit, sits near 'temp'/'fever', or has a decimal in body
    range; not in a clause that is hypothetical, in the past or negated.
    """
    silenced = _silenced(m, scope)
    context = {
        m.clause_of[h.start]
        for h in m.hits
        if "fever_context" in h.values("group") or "fever" in h.values("symptom")
    }
    if numbers is not None and numbers.weather:  # "39 degrees out here", no fever said
        outdoors = {m.clause_of[start] for start, _ in numbers.found(m.toks, numbers.weather)}
        feverish = {m.clause_of[h.start] for h in m.hits if "fever" in h.values("symptom")}
        silenced |= {i for i, c in enumerate(m.clause_of) if c in outdoors - feverish}
    anchored: set[int] = set()
    for _ in range(2):  # second pass: "from 37.6 this morning to 39 now"
        raw = _read_temperatures(m, context, anchored)
    readings = [reading for reading, i in raw if i not in silenced]
    return max(readings, key=lambda r: r[0]) if readings else None


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


def _read_temperatures(
    m: Matched, context: set[int], anchored: set[int]
) -> list[tuple[tuple[float, float | None], int]]:
    toks, clause_of, sentence_of = m.toks, m.clause_of, m.sentence_of
    found: list[tuple[tuple[float, float | None], int]] = []
    for i, tok in enumerate(toks):
        if not tok[0].isdecimal() or (i + 1 < len(toks) and toks[i + 1] in _NOT_TEMPERATURE):
            continue
        value = float(tok)
        unit = _unit(toks, i, sentence_of)
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
