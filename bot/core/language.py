"""Which messages are in a language the clinic does not ship: a guess (from a language
identifier) counts only when it is confident and the message long enough to judge, so
"ok", "ciao" or "lol 😂" are never taken for another language."""

from __future__ import annotations

import re

CONFIDENT = 0.80  # the identifier's score below which its guess is not used
MIN_WORDS = 3  # shorter messages are too short to tell a language by
_WORD = re.compile(r"[^\W\d_]{2,}")


KNOWN_SHARE = 1 / 3  # of a message's words in the shipped lexicon: it is read as shipped


def unread_language(
    text: str, guess: tuple[str, float] | None, shipped: frozenset[str],
    known: frozenset[str] = frozenset(),
) -> str | None:
    """The language `text` is written in when the clinic does not ship it; None when it is
    shipped, or when the guess cannot be trusted (then the message is read as usual). A
    message whose words are largely the shipped lexicon's is read ("im in pain" is English,
    whatever an identifier trained on prose says)."""
    words = [w.lower().replace("'", "").replace("’", "") for w in _WORD.findall(text)]
    if guess is None or len(words) < MIN_WORDS:
        return None
    if sum(w in known for w in words) >= KNOWN_SHARE * len(words):
        return None
    language, score = guess
    language = language.lower().split("-")[0]
    if score < CONFIDENT or language in shipped:
        return None
    return language


def unread_for(
    text: str, guess: tuple[str, float] | None, read: frozenset[str],
    known: frozenset[str], own: str,
) -> str | None:
    """As `unread_language`, for a patient who reads `own`. When the engine does not read
    their language, a message is read only if it is confidently in a language it does read
    ("me ahogo" is too short to tell, and an English reading would find nothing in it):
    otherwise it is taken as written in theirs, and the red-flag question is asked."""
    found = unread_language(text, guess, read, known)
    if found is not None or not own or own in read:
        return found
    words = _WORD.findall(text)
    if guess is not None and len(words) >= MIN_WORDS and guess[1] >= CONFIDENT and (
        guess[0].lower().split("-")[0] in read
    ):
        return None
    return own
