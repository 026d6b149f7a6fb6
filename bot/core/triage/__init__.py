"""Free-text triage: from a patient's own words to observations and an escalation level.

A message is read in five phases, one module each, each testable alone:

1. normalise (`text`): lowercase, apostrophes dropped, decimal commas, spelled-out numbers,
   hyphens as spaces; tokens;
2. match (`match`): the lexicon (content `lexicon.yaml`, red-flag phrases from
   `red_flags.yaml`), compiled once into a phrase table; one-letter slips corrected towards
   symptom words; phrases matched longest first; clauses and sentences;
3. scope (`scope`): ConText-style modifiers within each clause (negation, the past,
   hypotheticals, someone else) decide which mentions count;
4. measure (`measure`): severity and trend words attached to their symptom, scores,
   self-reference, temperatures;
5. decide (`decide`): combinations, observations, contact requests, and the rules' level.
   Nothing in a message can lower a red flag (G1).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from functools import lru_cache

from bot.core.content import Content
from bot.core.model import Assessment, Level, Observation, Report
from bot.core.triage.decide import Triage, decide
from bot.core.triage.match import PhraseTable
from bot.core.triage.measure import Numbers, measure
from bot.core.triage.scope import Scope

__all__ = ["Readers", "Triage", "Triager"]
log = logging.getLogger(__name__)


class Triager:
    """Reads patients' messages with one clinic's content (compile once, read many)."""

    def __init__(self, content: Content) -> None:
        self.content = content
        self.phrases = PhraseTable(content)
        self.numbers = Numbers(content.reads.measures, self.phrases.forms)

    def read(
        self, text: str, *, day: int, previous: Sequence[Observation] | None = None
    ) -> Triage:
        """Triage one message written on `day` (days since the session). A message the
        engine fails on is not guessed at: the red-flag question is asked."""
        try:
            return self._read(text, day=day, previous=previous)
        except Exception:  # a bug met by new wording must not silence a patient
            log.exception("triage failed on a message of %d characters", len(text))
            return Triage(Report(()), Assessment(Level.NONE), screen=True, topics=("unread",))

    def _read(
        self, text: str, *, day: int, previous: Sequence[Observation] | None
    ) -> Triage:
        matched = self.phrases.match(text)  # normalise, match
        scope = Scope(matched)
        mentions = scope.mentions()
        measures = measure(matched, scope, mentions, self.numbers)
        return decide(
            self.content, matched, scope, mentions, measures, day=day, previous=previous
        )


_COMPILED: dict[int, tuple[Content, Triager]] = {}  # by id(content), the content kept alive
_COMPILED_KEPT = 32


def compiled(content: Content) -> Triager:
    """The `Triager` of this content, compiled once (workers and tests build many)."""
    found = _COMPILED.get(id(content))
    if found is None or found[0] is not content:
        if len(_COMPILED) >= _COMPILED_KEPT:
            _COMPILED.pop(next(iter(_COMPILED)))
        found = _COMPILED[id(content)] = (content, Triager(content))
    return found[1]


class Readers:
    """A `Triager` for each language the engine reads (a content with a lexicon)."""

    def __init__(self, contents: Iterable[Content], first: str) -> None:
        self.by = {c.language: compiled(c) for c in contents if c.lexicon is not None}
        if not self.by:
            raise ValueError("no content has a lexicon: the engine could read nothing")
        # The clinic's language when the engine reads it, else any it reads.
        self.first = first if first in self.by else next(iter(self.by))
        # Asked for every word of every message in every language: words repeat.
        self.knows = lru_cache(maxsize=65536)(self._knows)

    @property
    def read(self) -> frozenset[str]:
        return frozenset(self.by)

    def _knows(self, language: str, word: str) -> bool:
        """Whether `word` is in the lexicon of `language`."""
        phrases = self.by[language].phrases
        return any(phrases.correct(t) in phrases.known for t in phrases.forms.tokens(word))

    def read_in(
        self, languages: Sequence[str], text: str, *, day: int,
        previous: Sequence[Observation] | None = None,
    ) -> Triage:
        """The reading in the first of `languages` the engine reads, unless one in another
        is more alarming: a second reading may raise a level, never reassure."""
        chosen = [code for code in dict.fromkeys(languages) if code in self.by] or [self.first]
        readings = [self.by[code].read(text, day=day, previous=previous) for code in chosen]
        return max(readings, key=lambda r: (
            r.assessment.level, r.screen, bool(r.report.observations)))
