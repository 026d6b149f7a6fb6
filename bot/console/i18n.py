"""The console's own words (buttons, headings) in the clinic's language: gettext catalogs in
`locales/<language>.po`, read with Babel. Clinical words come from `content/` as everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

LOCALES = Path(__file__).parent / "locales"
# Words that reach the pages as data (a filter, a status, a level), translated like the rest.
DATA_WORDS = ("all", "active", "invited", "stopped", "unreachable", "open", "erased",
              "emergency", "urgent", "routine", "none")

Gettext = Callable[..., str]


@lru_cache(maxsize=8)
def catalog(language: str) -> dict[str, str]:
    """msgid → translation for a language (empty for English, the source language, or a
    language without a catalog: its pages read in English)."""
    path = LOCALES / f"{language}.po"
    if not path.is_file():
        return {}
    with path.open("rb") as po:
        messages = read_po(po, locale=language)
    return {str(m.id): str(m.string) for m in messages
            if m.id and m.string and not m.fuzzy and isinstance(m.id, str)}


def translator(language: str) -> Gettext:
    """`_("Raised %(when)s", when=...)` in the language's words."""
    table = catalog(language)

    def gettext(msgid: str, **values: object) -> str:
        text = table.get(msgid, msgid)
        return text % values if values else text

    return gettext
