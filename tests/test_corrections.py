"""One-letter slips are corrected into symptom words ("sweling" is "swelling"), but a common
word of the language never is: "leaving" is not "leaking", "называется" not "нарыва"."""

from __future__ import annotations

import pytest
from wordfreq import top_n_list

from bot.adapters.content_files import load_library
from bot.core.triage import Readers

COMMON = 30_000  # the most frequent words of each language (wordfreq's lists)
READERS = Readers(load_library().contents.values(), "en")

# Common words whose correction is meant: another form of the same sign.
MEANT = {
    "en": {"infections", "headaches", "discharged", "discharges", "painfully", "migraines",
           "ulcers", "pigments", "fatigued", "inflate", "stingy", "goin", "doin", "lookin",
           "talkin", "nothin", "comin", "somethin", "freakin", "makin", "workin", "feelin",
           "bein", "runnin", "havin", "tellin", "movin", "mornin", "waitin"},
    "fr": {"infectieuses"},
    "es": set(),
    "ru": set(),
}


def corrected(language: str) -> dict[str, str]:
    """Common words of `language` the engine would correct into a lexicon phrase's word,
    and into what."""
    table = READERS.by[language].phrases
    out = {}
    for word in top_n_list(language, COMMON):
        toks = table.forms.tokens(word)
        key = table.correct(toks[0]) if len(toks) == 1 else ""
        if key and key != toks[0] and (key,) in table.table:
            out[word] = key
    return out


@pytest.mark.parametrize("language", sorted(MEANT))
def test_no_common_word_is_corrected_into_a_symptom(language: str) -> None:
    wrong = {w: k for w, k in corrected(language).items() if w not in MEANT[language]}
    assert not wrong, (
        f"content/{language}/lexicon.yaml: add these to never_correct (or to MEANT here "
        f"if the correction is meant): {sorted(wrong)} (corrected into {wrong})")


def test_slips_are_still_corrected() -> None:
    table = READERS.by["en"].phrases
    assert [table.correct(t) for t in ("swellling", "infecton", "numbnes", "itchyyyy")] == [
        "swelling", "infection", "numbness", "itchy"]
