"""Phase 4, measure: severity and trend words attached to the symptom they qualify, scores
("7 out of 10", "was 3/10, now 6/10"), self-reference ("mine is still here"), and body
temperatures (°C or °F, written or spelled out)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.core.model import Trend
from bot.core.triage.match import Hit, Matched
from bot.core.triage.scope import MODIFIER_SPAN, Mention, Scope

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


def measure(m: Matched, scope: Scope, mentions: list[Mention]) -> Measures:
    """Severity, trend, self-reference, score trend and temperature of one message."""
    out = Measures([x for x in mentions if not x.flag])
    _attach(m, scope, out)
    _self_reference(m, out)
    scored = _score_trend(m)
    if scored is not None:
        position, direction = scored
        near = [x for x in out.symptom_mentions if x.present and x.start <= position]
        if near and near[-1].name not in out.trend:
            out.trend[near[-1].name] = direction
    reading = _temperature(m, scope)
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
    """"my friend had a bruise like that, mine is still here": the patient has it too."""
    mentions = out.symptom_mentions
    for h in m.hits:
        if h.has("self") and not any(
            x.present and x.start > h.start and m.sentence_of[x.start] == m.sentence_of[h.start]
            for x in mentions
        ):
            theirs = [x for x in mentions if x.why_absent == "someone else" and x.start < h.start]
            if theirs:
                x = theirs[-1]
                mentions.append(Mention(x.name, h.start, m.clause(h), True))


def _score_trend(m: Matched) -> tuple[int, Trend] | None:
    """Two 'N/10' scores, one said of now and one of before: their difference."""
    toks = m.toks
    scores = [
        (i, int(toks[i]))
        for i in range(len(toks) - 2)
        if toks[i].isdigit() and toks[i + 1] == "/" and toks[i + 2] == "10"
    ]
    if len(scores) != 2:
        return None
    anchors = [(h.start, g) for h in m.hits for g in h.values("group")
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


def _temperature(m: Matched, scope: Scope) -> tuple[float, float | None] | None:
    """The highest body temperature written, in °C, and the °F reading if given in °F.

    A number counts when it has a unit, sits near 'temp'/'fever', or has a decimal in body
    range; not in a clause that is hypothetical, in the past or negated.
    """
    silenced = {
        m.clause(h) for h in scope.modifiers
        if h.has("hypothetical") or h.has("historical") or h.has("neg_before")
    }
    context = {
        m.clause_of[h.start]
        for h in m.hits
        if "fever_context" in h.values("group") or "fever" in h.values("symptom")
    }
    anchored: set[int] = set()
    for _ in range(2):  # second pass: "from 37.6 this morning to 39 now"
        raw = _read_temperatures(m, context, anchored)
    readings = [reading for reading, i in raw if m.clause_of[i] not in silenced]
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
        if not tok[0].isdigit() or (i + 1 < len(toks) and toks[i + 1] in _NOT_TEMPERATURE):
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
