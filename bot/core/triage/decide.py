"""Phase 5, decide: what is present and denied, combinations of words that mean more together
("red and warm swelling" adds infection), then the observations, the contact request and the
rules' level. Red flags are found like any symptom but nothing in the message lowers them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.core.content import Content
from bot.core.lexicon_model import Combination
from bot.core.model import Assessment, Level, Observation, Report, Trend
from bot.core.rules import evaluate, with_trends
from bot.core.triage.match import Matched
from bot.core.triage.measure import TREND_RANK, Measures
from bot.core.triage.scope import Mention, Scope

_DURATION = re.compile(
    r"\b(?:for|since|about|over|past|last)\s+(?:the\s+)?(?:last\s+|past\s+)?"
    r"(\d+|a|an|one|two|three|four|five|six|seven|few|couple of)\s+(hours?|days?|weeks?)\b"
    r"|\bsince\s+(yesterday|last night|this morning|monday|tuesday|wednesday|thursday|friday"
    r"|saturday|sunday|the weekend|my (?:treatment|session|appointment))\b"
)


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
    # The red-flag question is asked: a red-flag topic the reading could not place.
    screen: bool = False
    topics: tuple[str, ...] = ()  # the red-flag topics touched (set aside or unplaced)

    @property
    def symptoms(self) -> list[str]:
        return sorted({o.symptom for o in self.report.present})

    def explain(self) -> str:
        """A clinician-readable account of the reading."""
        parts = [_describe(o) for o in self.report.observations]
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
        if self.screen:
            parts.append("red-flag question: " + ", ".join(self.topics))
        rules = "; ".join(
            dict.fromkeys(f"{f.rule_id} -> {f.level.label}" for f in self.assessment.fired)
        )
        found = " | ".join(parts) or "nothing clinical found"
        return f"{found}. Level {self.assessment.level.label}" + (f" ({rules})" if rules else "")


def _describe(o: Observation) -> str:
    bits = [o.symptom]
    if o.red_flag:
        bits.append(f"red flag {o.red_flag}")
    if o.severity is not None:
        bits.append(f"severity {o.severity}")
    if o.trend is not Trend.UNKNOWN:
        bits.append(o.trend.value)
    if o.temperature_c is not None:
        bits.append(f"{o.temperature_c:.1f} °C")
    return ("" if o.present else "denied: ") + ", ".join(bits)


@dataclass(slots=True)
class _Findings:
    """What the decision works on: symptoms present and denied, red flags, word groups."""

    present: set[str]
    denied: set[str]
    flags: list[str]
    groups_by_clause: dict[int, set[str]]
    everywhere: set[str]
    groups_by_sentence: dict[int, set[str]] = field(default_factory=dict)
    sentence_of_clause: dict[int, int] = field(default_factory=dict)
    unsure_clauses: set[int] = field(default_factory=set)
    asked_clauses: set[int] = field(default_factory=set)  # general questions: flags asked
    # The words of combinations that raise a red flag (and of their twins that add a sign).
    flagging: frozenset[frozenset[str]] = frozenset()
    # Red flags said only in unsure clauses or beside an object or a photo: asked about.
    doubted: list[str] = field(default_factory=list)


def decide(
    content: Content,
    m: Matched,
    scope: Scope,
    mentions: list[Mention],
    measures: Measures,
    *,
    day: int,
    previous: Sequence[Observation] | None,
) -> Triage:
    """The reading's observations and level."""
    found = _findings(content, m, scope, mentions, measures)
    fired = [
        c.id
        for c in content.reads.combinations
        # The cheap test inline: most combinations stop here, for every message.
        if found.everywhere.issuperset(c.all) and _combine(c, found, measures, day)
    ]
    # "saw a video of lips blowing up, mine are fine": asked; not "I'm good. My tongue is
    # swollen" nor "my husband says I'm slurring, I feel fine" (the writer's own sign, or one
    # seen by someone else, outweighs a general all-clear)
    mine = scope.observed | scope.own
    if scope.all_clear and found.flags and not any(
        x.flag and x.present and x.clause in mine for x in mentions
    ):
        _doubt_all(found, mentions, measures,
                   [c for c in content.reads.combinations if c.id in fired])
    contact = any((h.has("contact") or h.has("worry")) and not scope.absent(h) for h in m.hits)
    report = with_trends(
        Report(_observations(content, found, measures), contact_request=contact), previous
    )
    assessment = evaluate(report, day=day, previous=previous, content=content)
    reported_before = {o.symptom for o in previous or () if o.present}
    unclear = tuple(
        o.symptom
        for o in report.present
        if o.trend is Trend.UNKNOWN and o.symptom in reported_before and not o.red_flag
    )
    off_topic = None
    if not report.present and not contact:
        off_topic = next(
            (k for k in ("admin", "well", "thanks") if any(h.has(k) for h in m.hits)), None
        )
    durations = tuple(x.group(0) for x in _DURATION.finditer(" ".join(m.toks)))
    topics = _topics(content, m, scope, mentions, found)
    asking = content.reads.screen
    settled = {*(asking.placed_by_temperature if measures.temperature is not None else ()),
               *(asking.placed_by_heart_rate if measures.heart_rate_beside else ())}
    topics = tuple(t for t in topics if t not in settled)
    return Triage(
        report=report, assessment=assessment, mentions=tuple(mentions), durations=durations,
        off_topic=off_topic, unclear_trend=unclear, combinations=tuple(fired),
        screen=bool(topics) and assessment.level < Level.EMERGENCY, topics=topics,
    )


def _topics(
    content: Content, m: Matched, scope: Scope, mentions: list[Mention], found: _Findings
) -> tuple[str, ...]:
    """The red-flag topics a message touches without a present red flag in them: red-flag
    phrases set aside (denied, past, hypothetical, unsure), red flags of combinations said
    only in unsure clauses, and topic words neither denied ("no fever") nor explained by a
    word group of their clause ("a blue bruise", "lips fine")."""
    topics = [
        content.red_flags[x.name].symptom for x in mentions
        if x.flag and not x.present and x.name in content.red_flags
    ]
    topics += [content.red_flags[f].symptom for f in found.doubted if f in content.red_flags]
    placing = set(content.reads.screen.placed_by)
    for h in m.hits:
        names = h.values("topic")
        if not names or placing & found.groups_by_clause.get(m.clause(h), set()):
            continue
        why = scope.absent(h)
        if why != "negated" or m.clause(h) in scope.unsure_clauses:
            topics.extend(names)
    return tuple(dict.fromkeys(topics))


def _findings(
    content: Content, m: Matched, scope: Scope, mentions: list[Mention], measures: Measures
) -> _Findings:
    symptoms = measures.symptom_mentions
    present = {x.name for x in symptoms if x.present}
    denied = {x.name for x in symptoms if not x.present and x.why_absent == "negated"}
    # A red-flag phrase in a clause about an object, a photo or a figure of speech ("my
    # wallet is turning black and blue") is asked about, unless said elsewhere too.
    doubting = set(content.reads.screen.doubted_by)
    doubted: set[str] = set()
    flags: list[str] = []
    for x in mentions:
        if x.flag and x.present:
            if doubting & _clause_groups(m, scope, x.clause):
                doubted.add(x.name)
            else:
                flags.append(x.name)
    # Word groups present (not negated), per clause, for the combinations.
    groups_by_clause: dict[int, set[str]] = {}
    for h in m.hits:
        names = h.values("group")
        if names and scope.absent(h) in {"", "someone else"}:
            groups_by_clause.setdefault(m.clause(h), set()).update(names)
    everywhere = set().union(*groups_by_clause.values()) if groups_by_clause else set()
    sentence_of_clause = dict(zip(m.clause_of, m.sentence_of, strict=True))
    groups_by_sentence: dict[int, set[str]] = {}
    for c, found_here in groups_by_clause.items():
        groups_by_sentence.setdefault(sentence_of_clause[c], set()).update(found_here)
    temperature, fahrenheit = measures.temperature, measures.fahrenheit
    if temperature is not None:
        if temperature >= 38.0 or (fahrenheit is not None and fahrenheit >= 100.4):
            present.add("fever")
        else:  # measured and normal: whatever "feverish" said, there is no fever
            present.discard("fever")
            denied.add("fever")
    found = _Findings(present, denied, flags, groups_by_clause, everywhere, groups_by_sentence,
                      sentence_of_clause, set(scope.unsure_clauses), scope.asked_clauses,
                      _flagging(content.reads.combinations) if scope.asked_clauses
                      else frozenset())
    racing = content.reads.measures.racing_heart
    rate = measures.heart_rate
    if racing is not None and rate is not None and rate >= racing.at_least:
        flags.append(racing.red_flag)  # "pulse 130": a racing heart (RF-SEPSIS)
    found.flags[:] = list(dict.fromkeys(flags))
    found.doubted.extend(d for d in doubted if d not in flags)
    return found


def _combine(combo: Combination, f: _Findings, measures: Measures, day: int) -> bool:
    """Apply one combination whose words (`all`) are in the message; whether it fired."""
    if combo.symptoms is not None and not f.present & set(combo.symptoms):
        return False
    if f.present & set(combo.without):
        return False
    if combo.day_min is not None and day < combo.day_min:
        return False
    scopes = (
        list(f.groups_by_clause.items()) if combo.scope == "clause" else [(-1, f.everywhere)]
    )
    where = {
        c
        for c, found in scopes
        if all(g in found for g in combo.all)
        and (not combo.any or any(g in found for g in combo.any))
        and not any(g in _around(f, c, found, combo.unless_in) for g in combo.unless)
    }
    if combo.scope == "clause" and where & f.unsure_clauses:
        # "in that filter my skin looks blue": asked, not decided, and nothing added to
        # the patient's own signs.
        where -= f.unsure_clauses
        if not where and combo.red_flag:
            f.doubted.append(combo.red_flag)
    elif where and _only_unsure(f, [*combo.all, *combo.any]):
        # "what does 'hives + dizziness' mean on the leaflet?": the same, message-wide.
        where = set()
        if combo.red_flag:
            f.doubted.append(combo.red_flag)
    if where and frozenset(combo.all) in f.flagging and _only_asked(f, where, combo):
        if combo.red_flag:  # "is it normal for lips to swell?": asked, nothing added
            f.doubted.append(combo.red_flag)
        return False
    if not where:
        return False
    for name in combo.replaces:
        mentioned = {x.clause for x in measures.symptom_mentions if x.name == name and x.present}
        if name in f.present and (-1 in where or mentioned <= where):
            f.present.discard(name)
            if combo.adds:  # what was said of it is said of what explains it
                _carry(measures, name, combo.adds)
    if combo.adds:
        f.present.add(combo.adds)
        for name in combo.inherits:
            _carry(measures, name, combo.adds)
        if combo.severity is not None:
            measures.severity[combo.adds] = max(
                measures.severity.get(combo.adds, 0), combo.severity
            )
    if combo.red_flag and combo.red_flag not in f.flags:
        f.flags.append(combo.red_flag)
    return True


def _doubt_all(
    f: _Findings, mentions: list[Mention], measures: Measures, fired: list[Combination]
) -> None:
    """Every red flag asked about instead of decided, and the signs said only in their
    phrases, or added by their combinations, set aside with them."""
    at = {x.start for x in mentions if x.flag and x.present}
    said = [x for x in measures.symptom_mentions if x.present]
    flagged = _flagging(fired)  # and their twins that add a sign
    for name in {x.name for x in said if x.start in at} | {
        c.adds for c in fired if c.adds and frozenset(c.all) in flagged
    }:
        if all(x.start in at for x in said if x.name == name):
            f.present.discard(name)
    f.doubted.extend(flag for flag in f.flags if flag not in f.doubted)
    f.flags.clear()


def _clause_groups(m: Matched, scope: Scope, clause: int) -> set[str]:
    """The word groups said (not denied) in `clause`."""
    return {
        g for h in m.hits if m.clause(h) == clause
        for g in h.values("group") if scope.absent(h) in {"", "someone else"}
    }


def _only_unsure(f: _Findings, groups: list[str]) -> bool:
    """Whether every clause naming one of `groups` is a joke's, a video's or a leaflet's."""
    clauses = {c for c, found in f.groups_by_clause.items() if found & set(groups)}
    return bool(clauses) and clauses <= f.unsure_clauses


def _flagging(combos: Sequence[Combination]) -> frozenset[frozenset[str]]:
    """The words of the combinations that raise a red flag (a twin with the same words
    adds the sign: "airway-swelling" and "airway-swelling-not-local-swelling")."""
    return frozenset(frozenset(c.all) for c in combos if c.red_flag)


def _only_asked(f: _Findings, where: set[int], combo: Combination) -> bool:
    """Whether a combination was found only in questions asked in general."""
    if -1 in where:
        groups = {*combo.all, *combo.any}
        where = {c for c, found in f.groups_by_clause.items() if found & groups}
    return bool(where) and where <= f.asked_clauses


def _around(f: _Findings, clause: int, found: set[str], where: str) -> set[str]:
    """The word groups that can cancel a combination found in `clause`: the clause's, or
    its sentence's ("the black marks are just the pen dots")."""
    if where != "sentence":
        return found
    return f.groups_by_sentence.get(f.sentence_of_clause.get(clause, -1), found) | found


def _carry(measures: Measures, source: str, target: str) -> None:
    """What was said of `source` (severity, trend) is said of `target` too."""
    severity, trend = measures.severity, measures.trend
    if source in severity:
        severity[target] = max(severity.get(target, 0), severity[source])
    stronger = source in trend and (
        TREND_RANK[trend[source]] > TREND_RANK[trend.get(target, Trend.UNKNOWN)]
    )
    if stronger:
        trend[target] = trend[source]


def _observations(content: Content, f: _Findings, measures: Measures) -> tuple[Observation, ...]:
    observations = [
        Observation(
            name,
            measures.severity.get(name),
            measures.trend.get(name, Trend.UNKNOWN),
            temperature_c=measures.temperature if name == "fever" else None,
            temperature_f=measures.fahrenheit if name == "fever" else None,
        )
        for name in sorted(f.present)
        if name in content.symptoms
    ]
    observations += [
        Observation(content.red_flags[flag_id].symptom, 4, red_flag=flag_id) for flag_id in f.flags
    ]
    observations += [
        Observation(name, present=False)
        for name in sorted(f.denied - f.present)
        if name in content.symptoms
    ]
    return tuple(observations)
