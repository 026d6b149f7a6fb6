"""Phase 1, normalise: lowercase, apostrophes dropped, decimal commas, spelled-out numbers,
hyphens as spaces; then tokens (words, numbers, single symbols)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

from bot.core.lexicon_model import Words

_TOKEN = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+|[^\s\w]")
SENTENCE_END = frozenset({".", "!", "?", ";", ":", "\n"})
_UNITS_WORDS = {w: n for n, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
)}
_TENS_WORDS = {"thirty": 30, "forty": 40}
_SPELLED = re.compile(
    r"\b(thirty|forty|a hundred and|one hundred and|hundred and)(?:[ -](one|two|three|four|five"
    r"|six|seven|eight|nine))?(?: point (zero|one|two|three|four|five|six|seven|eight|nine))?\b"
)


# "wheezing? no." / "throat? fine," -- only when the answer ends its clause ("swelling???
# no!!! help" is panic, not a checklist). With a dash or a colon ("fever - no."), only a
# one-word label that starts its item, and an answer that ends it or is followed by the next
# item: "I can't breathe properly - no, it's not a panic attack" is no checklist.
_QUESTION = r"\b([^\W\d_]+(?: [^\W\d_]+)?) ?\?+ ?"
_DASHED = r"(?:^|(?<=[.,;:\n]))( ?[^\W\d_]+) ?[-\u2013\u2014:] ?"
_ENDS = r"\b(?= ?(?:[.,;\n]|$))"
_ENDS_ITEM = r"\b(?= ?(?:[.;\n]|$|, ?[^\W\d_]+ ?[-\u2013\u2014:]))"
_CHECKLIST_NO = re.compile(
    _QUESTION + r"(?:no|nope|nah|none)" + _ENDS + "|" + _DASHED + r"(?:no|nope|nah|none)"
    + _ENDS_ITEM)
_CHECKLIST_FINE = re.compile(
    _QUESTION + r"(fine|normal|ok|okay|good|clear)" + _ENDS + "|" + _DASHED
    + r"(fine|normal|ok|okay|good|clear)" + _ENDS_ITEM)
# A checklist's other answers describe their label: "Throat: bit tight" is "throat bit tight"
# (a colon inside a sentence, as in "watch for: fever", opens a list and stays; "No:" stays).
_LABEL = re.compile(
    r"(^|[.!?\n] *)(?!(?:no|nope|nah|not|never|without)\b)([^\W\d_]+) ?: ?(?=[^\W\d_])")


def _denied(m: re.Match[str]) -> str:
    return f"no {(m.group(1) or m.group(2)).strip()}"


def _fine(m: re.Match[str]) -> str:
    label, answer = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    return f"{label.strip()} {answer}"


def patient_words(text: str) -> str:
    """A message's words as the patient wrote them: a command's name dropped ("/report my
    lips are swelling"), and a deep link's payload ("/start <token>": random letters the
    clinic made, which can spell "pale" or "web") is no words at all."""
    if not text.startswith("/"):
        return text
    command, *rest = text.split(maxsplit=1)
    return "" if command.split("@")[0].lower() == "/start" or not rest else rest[0]


def ends_sentence(token: str, known: frozenset[str] = frozenset()) -> bool:
    """Punctuation that ends a sentence, and emoji, which patients use the same way
    (unless the lexicon gives the emoji a meaning: "lips 👄 double size")."""
    return token in SENTENCE_END or (
        len(token) == 1
        and unicodedata.category(token) == "So"
        and token != "°"
        and token not in known
    )


_SCORE_WORDS = re.compile(
    r"\b(zero|one|two|three|four|five|six|seven|eight|nine|ten)(?= (?:out of|of|/) (?:10|ten)\b)"
)
_TEN = {w: str(n) for n, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
)}


def _spelled(match: re.Match[str]) -> str:
    """'thirty nine point five' -> '39.5', 'a hundred and two' -> '102'."""
    head, unit, decimal = match.groups()
    value = _TENS_WORDS.get(head, 100) + (_UNITS_WORDS[unit] if unit else 0)
    return f"{value}.{_UNITS_WORDS[decimal]}" if decimal else str(value)


# In patients' messages "<word>'s" is "is" or "has" far more often than a possessive
# ("throat's tight", "lip's twice the size"), and a possessive read as "is" loses nothing
# ("my husband's lips" -> "husband is lips"); a pronoun's ("she's", "it's", "that's")
# stays one word, as the lexicon spells it without the apostrophe.
_NOUN_IS = re.compile(r"\b([a-z]{3,})'s\b")
_PRONOUNS_S = frozenset((
    "she", "he", "it", "that", "what", "there", "here", "who", "where", "how", "let",
    "everything", "nothing", "something", "someone", "everyone", "anyone", "one", "this",
))


def _noun_is(match: re.Match[str]) -> str:
    word = match.group(1)
    return match.group(0) if word in _PRONOUNS_S else f"{word} is"


def normalise(text: str) -> str:
    """Lowercase text with apostrophes dropped ("can't" -> "cant") and decimals with points."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _SPELLED.sub(_spelled, text)
    text = _SCORE_WORDS.sub(lambda m: _TEN[m.group(1)], text)  # "nine out of 10"
    text = re.sub(r"[\u200d\ufe0f\U0001F3FB-\U0001F3FF]", "", text)  # emoji joiners, skin tones
    text = text.replace("’", "'").replace("‘", "'").replace("`", "'")
    text = _NOUN_IS.sub(_noun_is, text)  # "her tongue's swelling": "tongue is", not "tongues"
    text = text.replace("'", "")
    text = re.sub(r"(\d),(\d)", r"\1.\2", text)
    text = text.replace("\n", " . ")
    # An ellipsis is a pause, not the end of a sentence ("my face is BLUE... in the photo").
    text = re.sub(r"\.{2,}|…", " , ", text)
    # A checklist's "wheezing? no. throat? fine": the answer belongs to its question.
    text = _CHECKLIST_FINE.sub(_fine, _CHECKLIST_NO.sub(_denied, text))
    text = _LABEL.sub(r"\1\2 ", text)
    return re.sub(r"[-_/]", lambda m: " / " if m.group() == "/" else " ", text)


def tokens(text: str) -> list[str]:
    """Words, numbers and single symbols of the normalised text."""
    return _TOKEN.findall(normalise(text))


def one_edit_apart(a: str, b: str) -> bool:
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


# Latin letters without their accents ("gonflée" -> "gonflee", "hinchazón" -> "hinchazon"),
# and "ё" as "е": patients type either way.
_FOLD = {cp: unicodedata.normalize("NFD", chr(cp))[0] for cp in range(0xC0, 0x250)
         if unicodedata.normalize("NFD", chr(cp))[0].isascii()
         and unicodedata.normalize("NFD", chr(cp))[0].isalpha()}
_FOLD.update({ord("œ"): "oe", ord("æ"): "ae", ord("ß"): "ss", ord("ё"): "е"})
_APOSTROPHES = re.compile(r"['’‘`]")


def fold(word: str) -> str:
    """A word without its Latin accents."""
    return word.translate(_FOLD)


class WordForms:
    """How one language's words become the keys its lexicon is looked up by: as written
    (English), or their Snowball stems, numbers in words read as figures."""

    def __init__(self, words: Words | None = None) -> None:
        words = words or Words()
        self._stemmer = snowballstemmer.stemmer(words.stemmer) if words.stemmer else None
        self._apostrophe_space = words.apostrophe == "space"
        # "un", "una", "один" are articles far more often than counts: not read as 1.
        self.numbers = {fold(w.lower()): n for w, n in words.numbers.items() if n != 1}
        self._accented = frozenset(w.lower() for w in words.accented)
        self.units = {fold(w.lower()): n for w, n in words.numbers.items() if 0 <= n <= 9}
        self._and = {fold(w.lower()) for w in words.number_and}
        self._decimal = {fold(w.lower()) for w in words.decimal}
        # Decimal words that are also "and"/"with" ("и", "y", "con"): after figures they join
        # counts ("мне 40 и 3 дня", "39 con 2 hijos"), so only numbers in words take them.
        self._and_like = {fold(w.lower()) for w in words.decimal_and}
        self._half = {fold(w.lower()) for w in words.half}
        self.form = lru_cache(maxsize=16384)(self._form)

    @property
    def plain(self) -> bool:
        return self._stemmer is None and not self.numbers

    def tokens(self, text: str) -> list[str]:
        """The message's tokens as lexicon keys."""
        toks = tokens(self._apostrophes(text))
        if self.plain:
            return toks
        return [self.form(t) for t in self._numbers(toks)]

    def keys(self, phrase: str) -> set[tuple[str, ...]]:
        """A lexicon phrase's keys: as written, and without accents (its stems differ)."""
        keys = {tuple(self.tokens(phrase))}
        if self._stemmer is not None:
            keys.add(tuple(self.tokens(fold(phrase))))
        return {k for k in keys if k}

    def _apostrophes(self, text: str) -> str:
        return _APOSTROPHES.sub(" ", text) if self._apostrophe_space else text

    def _form(self, token: str) -> str:
        if token.isdecimal() or not token[:1].isalpha():
            return token
        if token in self._accented:  # "sí" (yes) is not "si" (if)
            return token
        folded = fold(token)
        if folded in self.numbers:
            return str(self.numbers[folded])
        return fold(self._stemmer.stemWord(token)) if self._stemmer is not None else token

    def _numbers(self, toks: list[str]) -> list[str]:
        """Numbers in words as figures: "trente neuf" and "treinta y nueve" as 39, a
        temperature's decimals ("39 virgule 2", "38 и 5", "39 et demi", "trente-neuf deux")."""
        out: list[str] = []
        folded = [fold(t) for t in toks]
        i = 0
        while i < len(toks):
            value = self.numbers.get(folded[i])
            if value is None and toks[i].isdecimal():
                value = int(toks[i])
            if value is None:
                out.append(toks[i])
                i += 1
                continue
            taken, value_text = self._after(folded, i, value)
            out.append(value_text)
            i += taken
        return out

    def _after(self, toks: list[str], i: int, value: int) -> tuple[int, str]:
        """How many tokens the number at i takes, and its figure."""
        nxt, far = toks[i + 1] if i + 1 < len(toks) else "", toks[i + 2] if i + 2 < len(
            toks) else ""
        taken = 1
        if 20 <= value <= 90 and value % 10 == 0 and toks[i] in self.numbers:
            if nxt in self.units:  # "trente neuf"
                value, taken = value + self.units[nxt], 2
            elif nxt in self._and and far in self.units:  # "treinta y nueve"
                value, taken = value + self.units[far], 3
        if not 34 <= value <= 43:  # decimals are read for temperatures only
            return taken, str(value)
        nxt = toks[i + taken] if i + taken < len(toks) else ""
        far = toks[i + taken + 1] if i + taken + 1 < len(toks) else ""
        unit = self.units.get(far, int(far) if far.isdecimal() and len(far) == 1 else None)
        spelled = toks[i] in self.numbers  # "trente-neuf", not "39"
        if nxt in self._decimal and unit is not None and (spelled or nxt not in self._and_like):
            return taken + 2, f"{value}.{unit}"  # "39 virgule 2", "тридцать восемь и пять"
        if (nxt in self._and and far in self._half) or nxt in self._half:  # "39 et demi"
            return taken + (2 if nxt in self._and else 1), f"{value}.5"
        if spelled and nxt in self.units:  # "trente-neuf deux"
            return taken + 1, f"{value}.{self.units[nxt]}"
        return taken, str(value)
