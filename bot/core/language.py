"""Which language a message is read in, and which messages are in one the engine does not
read: a guess (from a language identifier) counts only when it is confident and the message
long enough to judge, so "ok", "ciao" or "lol 😂" are never taken for another language."""

from __future__ import annotations

import re
from collections.abc import Callable

from babel import Locale, UnknownLocaleError

CONFIDENT = 0.80  # the identifier's score below which its guess is not used
MIN_WORDS = 3  # shorter messages are too short to tell a language by
_WORD = re.compile(r"[^\W\d_]{2,}")


KNOWN_SHARE = 1 / 3  # of a message's words in a read lexicon: it may be read in it
OVERRIDE_SHARE = 0.6  # ... and read in it against a confident guess of another language


def reading_order(
    text: str, *, guess: tuple[str, float] | None, read: frozenset[str],
    knows: Callable[[str, str], bool], own: str, clinic: str,
) -> tuple[list[str], str | None]:
    """The languages to read `text` in, the likeliest first, and the language it is written
    in when the engine reads none (None when it reads it). `own` is the patient's language,
    `knows(language, word)` whether a lexicon has the word. A confident guess (long enough
    and sure) decides, unless most words are the lexicon of the patient's or the clinic's
    language ("im in pain" is English whatever an identifier trained on prose says).
    Otherwise the patient's own language, else the lexicon that knows a third of the words
    or more, else the clinic's. The others named (their language, the guess, the lexicon
    that knows a third) are read too: they may raise, never reassure."""
    words = [w.lower() for w in _WORD.findall(text)]
    share = {code: sum(knows(code, w) for w in words) / len(words)
             for code in sorted(read)} if words else {}
    best = max(share, key=lambda code: share[code], default=None)
    known = best if best is not None and share[best] >= KNOWN_SHARE else None
    guessed = guess[0].lower().split("-")[0] if guess is not None else None
    confident = guess is not None and len(words) >= MIN_WORDS and guess[1] >= CONFIDENT
    extras = [code for code in (own, guessed, known) if code in read]
    # Against a confident guess of a language not read, only a lexicon of the patient's (or
    # the clinic's) language that knows most words stands: neighbours share small words
    # ("la", "va" are Spanish and French too), and the unread path is the safer one.
    overrides = known in (own or clinic, clinic) and share[known or ""] >= OVERRIDE_SHARE
    if confident and guessed not in read and not overrides:
        return sorted(read, key=lambda code: code not in extras), guessed
    if confident and guessed in read:
        first = guessed
    elif known is not None and (confident or own not in read):
        first = known
    elif own in read:
        first = own
    elif own and not confident:  # spoken to them, not read: too short to tell otherwise
        return sorted(read, key=lambda code: code not in extras), own
    else:
        first = clinic
    return list(dict.fromkeys([first, *extras])), None


def language_name(code: str, reader: str = "en") -> str:
    """'French' for 'fr' read in English, 'francés' in Spanish (CLDR); the code itself when
    CLDR has none."""
    try:
        return str(Locale.parse(code).get_display_name(reader) or code)
    except (UnknownLocaleError, ValueError):
        return code


def native_name(code: str) -> str:
    """A language's name in that language ("Français", "Русский"), from CLDR."""
    name = language_name(code, code)
    return name[:1].upper() + name[1:]
