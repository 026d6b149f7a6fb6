"""Which messages are in a language the clinic does not ship: a guess (from a language
identifier) counts only when it is confident and the message long enough to judge, so
"ok", "ciao" or "lol 😂" are never taken for another language."""

from __future__ import annotations

import re

CONFIDENT = 0.80  # the identifier's score below which its guess is not used
MIN_WORDS = 3  # shorter messages are too short to tell a language by
_WORD = re.compile(r"[^\W\d_]{2,}")


def unread_language(
    text: str, guess: tuple[str, float] | None, shipped: frozenset[str]
) -> str | None:
    """The language `text` is written in when the clinic does not ship it; None when it is
    shipped, or when the guess cannot be trusted (then the message is read as usual)."""
    if guess is None or len(_WORD.findall(text)) < MIN_WORDS:
        return None
    language, score = guess
    language = language.lower().split("-")[0]
    if score < CONFIDENT or language in shipped:
        return None
    return language
