"""Phase 2, match: the lexicon compiled once into a phrase table; a message's tokens matched
against it, longest phrase first, each hit with its kinds (symptom, red flag, severity, trend,
negation, hypothetical, other person, clause break, contact, off-topic, word group); then
each token's sentence and clause."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from bot.core.content import Content
from bot.core.triage.text import WordForms, ends_sentence, one_edit_apart

Table = dict[tuple[str, ...], list[tuple[str, str]]]
Kinds = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Hit:
    """A matched phrase: tokens [start, end) and what it means."""

    start: int
    end: int
    kinds: tuple[tuple[str, str], ...]
    # The values by kind, read once: `has` and `values` are asked for every hit many times.
    by_kind: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        grouped: dict[str, list[str]] = {}
        for kind, value in self.kinds:
            grouped.setdefault(kind, []).append(value)
        object.__setattr__(self, "by_kind", {k: tuple(v) for k, v in grouped.items()})

    def has(self, kind: str) -> bool:
        return kind in self.by_kind

    def values(self, kind: str) -> tuple[str, ...]:
        return self.by_kind.get(kind, ())


@dataclass(frozen=True, slots=True)
class ScopeWords:
    """A language's small words the scope phase reads, as lexicon keys (`Words`)."""

    first_person: frozenset[str] = frozenset()
    causes: frozenset[str] = frozenset()
    closing: frozenset[str] = frozenset()
    negators: frozenset[str] = frozenset()
    answers_no: frozenset[str] = frozenset()
    joining: frozenset[str] = frozenset()


@dataclass(slots=True)
class Matched:
    """A message after matching: its tokens, its hits, and each token's clause and sentence."""

    toks: list[str]
    hits: list[Hit]
    clause_of: list[int]
    sentence_of: list[int]
    words: ScopeWords = ScopeWords()
    # Spans of the writer's all-clear, and of the words that limit one (see `Screen`).
    clears: tuple[tuple[int, int], ...] = ()
    buts: tuple[tuple[int, int], ...] = ()
    afters: tuple[tuple[int, int], ...] = ()
    asks: tuple[tuple[int, int], ...] = ()  # question openers
    asides: tuple[tuple[int, int], ...] = ()
    laters: tuple[tuple[int, int], ...] = ()

    def clause(self, h: Hit) -> int:
        return self.clause_of[h.start]  # a hit starts at one of the message's tokens


def _entries(content: Content) -> Iterator[tuple[str, str, str]]:
    """Every (phrase, kind, value) the lexicon and the red flags define."""
    lex = content.reads
    for name, phrases in lex.symptoms.items():
        yield from ((p, "symptom", name) for p in phrases)
    for flag_id, flag in content.red_flags.items():
        yield from ((p, "flag", flag_id) for p in flag.phrases)
    for name, phrases in lex.groups.items():
        for phrase in phrases:
            if phrase.startswith("@"):  # every phrase of a symptom: "@swelling"
                yield from ((t, "group", name) for t in lex.symptoms.get(phrase[1:], []))
            else:
                yield phrase, "group", name
    for grade, phrases in lex.severity.items():
        yield from ((p, "severity", str(grade)) for p in phrases)
    for trend, phrases in (
        ("worse", lex.trend.worse), ("better", lex.trend.better), ("same", lex.trend.same),
    ):
        yield from ((p, "trend", trend) for p in phrases)
    simple = {
        "neg_before": lex.negation.before, "neg_after": lex.negation.after,
        "pseudo": lex.negation.pseudo, "hypothetical": lex.hypothetical,
        "other_person": lex.other_person, "break": lex.clause_breaks,
        "contact": lex.contact.request, "worry": lex.contact.worry,
        "admin": lex.off_topic.admin, "thanks": lex.off_topic.thanks,
        "well": lex.off_topic.well, "self": lex.self_reference, "historical": lex.historical,
    }
    for kind, phrases in simple.items():
        yield from ((p, kind, "") for p in phrases)
    for topic, phrases in lex.screen.topics.items():
        yield from ((p, "topic", topic) for p in phrases)
    yield from ((p, "unsure", "") for p in lex.screen.unsure)
    yield from ((p, "not_me", "") for p in lex.screen.not_me)
    yield from ((p, "list_opener", "") for p in lex.screen.list_openers)
    # "my sister's bruise" once apostrophes go
    yield from ((p + "s", "other_person", "") for p in lex.other_person)


_NOT_INHERITING = frozenset({"symptom", "pseudo", "hypothetical", "historical"})


def _inherit(table: Table) -> None:
    """A longer phrase that contains a symptom word also names the symptom ("very painful" is
    severe soreness, "more swollen" is worse swelling); so with word groups and red-flag
    topics ("dark spot in my vision" is about sight)."""
    inner = {
        k: [(t, v) for t, v in kinds if t in {"symptom", "group", "topic"}]
        for k, kinds in table.items()
    }
    for key, kinds in table.items():
        # Pseudo phrases ("warm compress", "red wine") are there to mean nothing, and a
        # modifier ("can swell": hypothetical) is not the sign it qualifies.
        if any(kind in _NOT_INHERITING for kind, _ in kinds) or len(key) < 2:
            continue
        for size in range(1, len(key)):
            for i in range(len(key) - size + 1):
                for kind, value in inner.get(key[i : i + size], []):
                    if (kind, value) not in kinds:
                        kinds.append((kind, value))


_LONG_RUN = re.compile(r"(\w)\1{2,}")
_STRETCHABLE = frozenset({"symptom", "group", "flag", "severity", "trend", "topic"})


class PhraseTable:
    """The lexicon as a table of token tuples, with one-letter slip correction."""

    MIN_CORRECTABLE = 6  # one-letter slips are corrected only in words this long

    def __init__(self, content: Content) -> None:
        self.forms = WordForms(content.reads.words)
        table: Table = {}
        for phrase, kind, value in _entries(content):
            for key in self.forms.keys(phrase):
                if (kind, value) not in table.setdefault(key, []):
                    table[key].append((kind, value))
        _inherit(table)
        self.table = {k: tuple(v) for k, v in table.items()}
        self.longest = max(len(k) for k in self.table)
        known = {t for key in self.table for t in key}
        never = {t for w in content.reads.never_correct for t in self.forms.tokens(w)}
        self.known = frozenset(known | never)
        self.targets = tuple(sorted({
            key[0]
            for key, kinds in self.table.items()
            if len(key) == 1
            and len(key[0]) >= self.MIN_CORRECTABLE - 1
            and key[0].isalpha()
            and any(kind == "symptom" for kind, _ in kinds)
        }))
        # Words a held-down letter may shorten to: signs and word groups, never modifiers.
        self.stretchable = frozenset(
            key[0] for key, kinds in self.table.items()
            if len(key) == 1 and all(kind in _STRETCHABLE for kind, _ in kinds)
        )
        self.correct = lru_cache(maxsize=8192)(self._correct_uncached)
        words = content.reads.words
        self.inserts = frozenset(tuple(self.forms.tokens(w)) for w in words.inserts)
        self.insert_heads = frozenset(k[0] for k in self.inserts if k)
        screen = content.reads.screen
        self.spans = {  # Matched's field: the screen list it finds
            "clears": _Spans(self.forms, screen.all_clear),
            "buts": _Spans(self.forms, screen.all_clear_but),
            "afters": _Spans(self.forms, screen.all_clear_after),
            "asks": _Spans(self.forms, screen.question_openers),
            "asides": _Spans(self.forms, screen.all_clear_asides),
            "laters": _Spans(self.forms, screen.all_clear_later),
        }
        self.scope_words = ScopeWords(*(
            frozenset(t for w in listed for t in self.forms.tokens(w))
            for listed in (words.first_person, words.causes, words.closing, words.negators,
                           words.answers_no, words.joining)))

    def match(self, text: str) -> Matched:
        """Phases 1 and 2 for one message."""
        toks = [self.correct(t) for t in self.forms.tokens(text)]
        hits = self._hits(toks)
        return Matched(toks, hits, self._clauses(toks, hits), self._sentences(toks),
                       self.scope_words,
                       **{name: find(toks) for name, find in self.spans.items()})

    def _correct_uncached(self, token: str) -> str:
        if token in self.known or not token.isalpha():
            return token
        if token.endswith("in") and token + "g" in self.known:
            return token + "g"  # "swellin", "fadin": the dropped g of speech
        if _LONG_RUN.search(token):  # "itchyyyy", "lmaooo": letters held down
            for shorter in (_LONG_RUN.sub(r"\1\1", token), _LONG_RUN.sub(r"\1", token)):
                if shorter in self.stretchable:  # never "noooo" -> "no": a cry, not a denial
                    return shorter
        if len(token) < self.MIN_CORRECTABLE:
            return token
        for target in self.targets:
            if target[0] == token[0] and one_edit_apart(token, target):
                return target
        return token

    def _hits(self, toks: list[str]) -> list[Hit]:
        hits: list[Hit] = []
        i = 0
        while i < len(toks):
            # Only where an intensifier follows within a phrase's reach (most tokens: none)
            through = (self._through_inserts(toks, i)
                       if any(t in self.insert_heads for t in toks[i + 1:i + self.longest])
                       else None)
            for size in range(min(self.longest, len(toks) - i), 0, -1):
                end, kinds = i + size, self.table.get(tuple(toks[i : i + size]))
                if through is not None and through[0] > end:
                    end, kinds = through
                if kinds:
                    hits.append(Hit(i, end, kinds))
                    i = end
                    break
            else:
                score = _out_of_ten(toks, i)
                if score is not None:
                    hits.append(Hit(i, i + 4, (("severity", str(score)),)))
                    i += 4
                    continue
                i += 1
        return hits

    def _through_inserts(self, toks: list[str], i: int) -> tuple[int, Kinds] | None:
        """The longest phrase starting at `i` once intensifiers inside it are left out
        ("feel really hot" is "feel hot"): where it ends, and its kinds."""
        kept, j, skipped, best = [toks[i]], i + 1, 0, None
        grades: list[tuple[str, str]] = []  # what the words left out say ("very": severe)
        while j < len(toks) and len(kept) < self.longest:
            insert = next((k for k in (2, 1) if tuple(toks[j:j + k]) in self.inserts), 0)
            # "can't really see it" is "barely", not "can't see": no insert after a negation
            if (insert and skipped < 2 and toks[j - 1] not in self.scope_words.negators
                    and not self._starts_phrase(toks, j, insert + 1)):
                grades += [kv for kv in self.table.get(tuple(toks[j:j + insert]), ())
                           if kv[0] in ("severity", "trend") and kv not in grades]
                j, skipped = j + insert, skipped + 1
                continue
            kept.append(toks[j])
            j += 1
            kinds = self.table.get(tuple(kept)) if skipped else None
            if kinds:
                best = j, _graded(kinds, grades)
        return best

    def _starts_phrase(self, toks: list[str], j: int, shortest: int) -> bool:
        """Whether a phrase of `shortest` tokens or more starts at `j` ("très mal")."""
        return any(tuple(toks[j:j + size]) in self.table
                   for size in range(shortest, min(self.longest, len(toks) - j) + 1))

    def _joins(
        self, toks: list[str], hit: Hit, by_start: dict[int, Hit], by_end: dict[int, Hit]
    ) -> bool:
        """'lips numb and puffy': an "and" right between a sign and a sign's word."""
        return (hit.end - hit.start == 1 and toks[hit.start] in self.scope_words.joining
                and _sign(by_end.get(hit.start), ("symptom",))
                and _sign(by_start.get(hit.end), ("symptom", "group", "severity")))

    def _sentences(self, toks: list[str]) -> list[int]:
        out, sentence = [], 0
        for tok in toks:
            if ends_sentence(tok, self.known):
                sentence += 1
            out.append(sentence)
        return out

    def _clauses(self, toks: list[str], hits: list[Hit]) -> list[int]:
        """Clause number of each token. A comma continues a list of symptoms."""
        by_start = {h.start: h for h in hits}
        by_end = {h.end: h for h in hits}
        clause, out = 0, []
        for i, tok in enumerate(toks):
            hit = by_start.get(i)
            if ends_sentence(tok, self.known) or (
                hit is not None and hit.has("break")
                and not self._joins(toks, hit, by_start, by_end)
            ):
                clause += 1
            elif tok == ",":
                nxt = next((h for h in hits if h.start > i), None)
                if not (nxt is not None and nxt.start == i + 1 and nxt.has("symptom")):
                    clause += 1
            out.append(clause)
        return out


class _Spans:
    """Where phrases of one short list occur in a message (apart from the phrase table:
    they may overlap its hits), the longest at each token."""

    def __init__(self, forms: WordForms, phrases: list[str]) -> None:
        self.keys = frozenset(k for p in phrases for k in forms.keys(p))
        self.heads = frozenset(k[0] for k in self.keys)
        self.longest = max((len(k) for k in self.keys), default=0)

    def __call__(self, toks: list[str]) -> tuple[tuple[int, int], ...]:
        out = []
        for i, tok in enumerate(toks):
            if tok in self.heads:
                end = next((i + n for n in range(self.longest, 0, -1)
                            if tuple(toks[i:i + n]) in self.keys), None)
                if end is not None:
                    out.append((i, end))
        return tuple(out)


def _graded(kinds: Kinds, grades: list[tuple[str, str]]) -> Kinds:
    """A phrase's kinds with what the words left out of it say: the higher severity of the
    two ("fait *très* mal" is severe), the trend of either."""
    severities = [int(v) for k, v in (*kinds, *grades) if k == "severity"]
    out = [kv for kv in (*kinds, *grades) if kv[0] != "severity"]
    if severities:
        out.append(("severity", str(max(severities))))
    return tuple(dict.fromkeys(out))


def _sign(hit: Hit | None, kinds: tuple[str, ...]) -> bool:
    return hit is not None and any(hit.has(kind) for kind in kinds)


def _out_of_ten(toks: list[str], i: int) -> int | None:
    """'7 out of 10' as a severity grade."""
    if toks[i : i + 4][1:] == ["out", "of", "10"] and toks[i].isdecimal() and len(toks[i]) <= 2:
        score = int(toks[i])
        if 0 <= score <= 10:
            return 1 if score <= 3 else 2 if score <= 6 else 3
    return None
