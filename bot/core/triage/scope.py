"""Phase 3, scope: which mentions of a symptom or red flag count. ConText-style modifiers act
within their clause: negation before or after ("no swelling", "the itch has gone"), the past
("fainted as a kid"), the hypothetical ("if it swells"), someone else ("my friend had...").
A red flag is never set aside for being about someone else (carers write for patients); one
set aside for another reason is not dropped: the patient is asked the red-flag question."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from bot.core.triage.match import Hit, Matched
from bot.core.triage.text import SENTENCE_END

MODIFIER_SPAN = 6
CLEAR_LIMIT_SPAN = 4  # "I'm fine honestly, just..." keeps something back
NEGATOR_SPAN = 3  # "no se ha ido": a negation this close before a resolution undoes it
_REASONS = ("negated", "in the past", "hypothetical", "someone else")  # strongest first
UNSURE = "unsure"  # a red flag said in a joke, of a video, as a figure of speech
_ANSWER_ENDS = SENTENCE_END | {",", "-", "—", ")"}
_MODIFYING = ("historical", "hypothetical", "other_person", "neg_before", "neg_after")


@dataclass(frozen=True, slots=True)
class Mention:
    """One mention of a symptom or red flag, after its modifiers were applied."""

    name: str  # symptom, or red-flag id when `flag`
    start: int
    clause: int
    present: bool
    flag: bool = False
    why_absent: str = ""


class Scope:
    """The modifiers of one message, and what they do to each hit."""

    def __init__(self, m: Matched) -> None:
        self.m = m
        self.modifiers = [h for h in m.hits if not h.has("pseudo")]
        # Modifiers by clause, and each hit's reason once: `absent` is asked for every hit.
        self._by_clause: dict[int, list[Hit]] = {}
        for mod in self.modifiers:
            if any(mod.has(kind) for kind in _MODIFYING):
                self._by_clause.setdefault(m.clause(mod), []).append(mod)
        self._absent: dict[int, str] = {}  # by hit start: asked for each hit many times
        self._comparing = {m.clause(h) for h in m.hits if ("group", "comparison") in h.kinds}
        # Clauses with a joke or a video in them: a red flag there is uncertain (not absent:
        # the red-flag question is asked).
        self.unsure_clauses = {m.clause(h) for h in m.hits if h.has("unsure")}
        self.unsure_clauses |= _listed_after(m)
        # "can meso cause blindness?": red flags there are asked about (signs stay: "is it
        # normal that the bumps are still there?" is the writer's own bumps)
        self.asked_clauses = _asked_in_general(m)
        # "my pug is the one wheezing, not me": with the writer setting their own case apart, what
        # is said in a clause about someone else is asked about (without it, a carer's
        # report about the patient stays an emergency). Numbers in such a clause are theirs,
        # unless it also says "me" or "my" ("my boyfriend measured 39.8 on me").
        self.theirs: set[int] = set()
        others = [h for h in m.hits if h.has("other_person")]
        inside = {i for h in others for i in range(h.start, h.end)}
        writer = [(i, c) for i, (t, c) in enumerate(zip(m.toks, m.clause_of, strict=True))
                  if t in m.words.first_person and i not in inside]
        mine = {c for _, c in writer}
        # "my husband says I'm slurring": someone else seeing the writer's sign
        self.observed = {m.clause(h) for h in others} & mine
        # Clauses where the writer speaks of themselves ("my tongue is swollen"): their own
        # sign there outweighs a general "I'm fine" elsewhere.
        self.own = {c for i, c in writer if not any(s <= i < e for s, e in m.clears)}
        self.all_clear = any(self._clears(span) for span in m.clears)
        if self.all_clear or any(h.has("not_me") for h in m.hits):
            self.theirs = {m.clause(h) for h in others} - mine
            # ...but "my husband says my lips are blue" may be the writer's own sign
            self.unsure_clauses |= self.theirs
        # "can't breathe... from laughing": a cause given next explains the clause before.
        for c in list(self.unsure_clauses):
            words = [t for t, k in zip(m.toks, m.clause_of, strict=True) if k == c and t.isalpha()]
            if words and words[0] in m.words.causes:
                earlier = [k for t, k in zip(m.toks, m.clause_of, strict=True)
                           if k < c and t.isalpha()]
                if earlier:
                    self.unsure_clauses.add(earlier[-1])

    def _clears(self, span: tuple[int, int]) -> bool:
        """Whether the writer's all-clear at `span` stands: not kept back by what follows
        ("I'm fine but...", "I'm fine, just..."), limited by what precedes ("otherwise
        fine"), asked ("I'm fine right?"), denied, or said of another time ("ayer todo
        bien", "before the session all good")."""
        start, end = span
        m = self.m
        asides = {s for s, _ in m.asides}
        if any(end <= s <= end + CLEAR_LIMIT_SPAN and s not in asides for s, _ in m.buts):
            return False
        if any(start - CLEAR_LIMIT_SPAN <= e <= start for _, e in m.afters):
            return False
        if any(s >= end for s, _ in m.laters):
            return False  # "todo bien... después vi en el espejo..."
        if "?" in m.toks[end:end + 3]:
            return False
        if any(t in m.words.negators for t in m.toks[max(0, start - 3):start]):
            return False
        clause = m.clause_of[start]
        if any(("group", "past_words") in h.kinds and h.end <= start and m.clause(h) == clause
               for h in m.hits):
            return False  # "was all good", "ayer todo bien"
        return not any(mod.has("historical") or mod.has("hypothetical")
                       for mod in self._by_clause.get(clause, ()))

    def absent(self, h: Hit) -> str:
        """Why a mention does not count ('' when it does); the strongest reason wins."""
        known = self._absent.get(h.start)
        if known is None:
            known = self._absent[h.start] = self._reason(h)
        return known

    def _reason(self, h: Hit) -> str:
        c = self.m.clause_of[h.start]
        reasons = set()
        for mod in self._by_clause.get(c, ()):
            if mod is h:
                continue
            before, after = mod.end <= h.start, mod.start >= h.end
            if mod.has("historical") and (before or after):
                reasons.add("in the past")
            if before and mod.has("hypothetical"):
                reasons.add("hypothetical")
            if before and mod.has("other_person") and c in self._comparing:
                reasons.add("someone else")
            if (before and mod.has("neg_before") and h.start - mod.end <= MODIFIER_SPAN
                    and not self.joined(mod.end, h.start)):
                reasons.add("negated")
            if (
                after
                and mod.has("neg_after")
                and mod.start - h.end <= MODIFIER_SPAN
                and self.closes(mod)
                and not self.undone(mod, h)
                and not self.joined(h.end, mod.start)
            ):
                reasons.add("negated")
        if self.answered_no(h):
            reasons.add("negated")
        return next((r for r in _REASONS if r in reasons), "")

    def answered_no(self, h: Hit) -> bool:
        """'lips swelling? no.', 'побелело? нет, ...': a sign asked and answered no."""
        toks, words = self.m.toks, self.m.words
        ask = h.end  # the sign is the question: "lips swelling, normal? no!" is no denial
        if ask + 1 >= len(toks) or toks[ask] != "?" or toks[ask + 1] not in words.answers_no:
            return False
        after = ask + 2  # the answer alone: "no idea what it is" is no answer
        if after >= len(toks) or toks[after] in SENTENCE_END:
            return True
        # "no, nothing is white"; not "нет, не могу" nor "нет, сильно опухла"
        return (toks[after] in _ANSWER_ENDS and after + 1 < len(toks)
                and toks[after + 1] in words.answers_no)

    def compared(self, c: int) -> bool:
        """'my sister had hives after hers' compares; 'my wife's face is burning' reports."""
        return c in self._comparing

    def closes(self, mod: Hit) -> bool:
        """'the itch has gone (now)' resolves; 'the bruise has gone grey' does not."""
        toks, clause_of = self.m.toks, self.m.clause_of
        if mod.end >= len(toks) or clause_of[mod.end] != clause_of[mod.start]:
            return True
        after = toks[mod.end]  # "stopped on day 2"
        return after in self.m.words.closing or after in SENTENCE_END or after.isdecimal()

    def joined(self, start: int, end: int) -> bool:
        """Whether an "and" joining two signs lies between: "no rash and throat tightening"
        denies the rash alone."""
        return any(t in self.m.words.joining for t in self.m.toks[start:end])

    def undone(self, mod: Hit, h: Hit) -> bool:
        """'the bruise still hasn't gone', 'синяк так и не сошёл': a negation just before a
        resolution word (after the sign, in its clause) undoes it."""
        words = self.m.words.negators
        return any(self.m.toks[i] in words
                   for i in range(max(h.end, mod.start - NEGATOR_SPAN), mod.start))

    def mentions(self) -> list[Mention]:
        """Every symptom and red-flag mention, present or set aside (with why)."""
        out: list[Mention] = []
        for h in self.m.hits:
            asked = h.has("flag") and self.m.clause(h) in self.asked_clauses
            for name in h.values("symptom"):
                why = self.absent(h)
                if not why and (asked or self.m.clause(h) in self.unsure_clauses):
                    why = UNSURE  # of a video, a leaflet, a joke: not the patient's sign
                out.append(Mention(name, h.start, self.m.clause(h), not why, why_absent=why))
            for flag_id in h.values("flag"):
                # A red flag about "my mum" still gets the emergency advice: carers write for
                # patients, and a needless 112 costs less than a missed one.
                why = self.absent(h)
                why = "" if why == "someone else" else why
                clause = self.m.clause(h)
                if not why and (clause in self.unsure_clauses or clause in self.asked_clauses):
                    why = UNSURE
                out.append(Mention(flag_id, h.start, self.m.clause(h), not why, True, why))
        return out


def _listed_after(m: Matched) -> set[int]:
    """Clauses of a list opened by "watch for:" and the like, up to the end of its sentence
    ("they told me to watch for: fever, pus, skin going pale.")."""
    out: set[int] = set()
    introducing = {m.clause(h) for h in m.hits if h.has("list_opener")}
    for i, tok in enumerate(m.toks):
        if tok != ":" or i == 0 or m.clause_of[i - 1] not in introducing:
            continue
        for j in range(i + 1, len(m.toks)):
            if m.toks[j] in SENTENCE_END:
                break
            out.add(m.clause_of[j])
    return out


def _asked_in_general(m: Matched) -> set[int]:
    """Clauses of questions asked in general ("can meso cause blindness?", "could I get
    blurry vision from this?"): opened by a question word, ended by "?", and with no word
    of the writer's own after the opener and the word right after it, its subject ("could
    my lips swell like this?" is about theirs)."""
    out: set[int] = set()
    opens = dict(m.asks)
    for _, tokens in groupby(range(len(m.toks)), key=m.sentence_of.__getitem__):
        indices = list(tokens)
        end = indices[-1] + 1  # a "?" opens the next sentence
        words = [j for j in indices if m.toks[j].isalnum()]
        if words and words[0] in opens and end < len(m.toks) and m.toks[end] == "?":
            subject = opens[words[0]]
            if not any(m.toks[j] in m.words.first_person for j in words if j > subject):
                out.update(m.clause_of[j] for j in words)
    return out
