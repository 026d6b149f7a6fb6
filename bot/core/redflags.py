"""A safety net over anything a patient writes: find red-flag phrases from content.

Deliberately simple and biased towards alarm: a phrase counts unless one of the three words
just before it negates it ("no trouble breathing"). Full triage of free text builds on this.
"""

from __future__ import annotations

import re

from bot.core.content import Content
from bot.core.model import Observation

NEGATORS = frozenset(
    {"no", "not", "without", "never", "dont", "doesnt", "isnt", "nor", "denies", "arent"}
)
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9']+")


def normalise(text: str) -> str:
    """Lowercase, straight apostrophes, single spaces."""
    text = text.lower().replace("’", "'").replace("`", "'")
    return _SPACE.sub(" ", text).strip()


def _negated(before: str) -> bool:
    words = [w.replace("'", "") for w in _WORD.findall(before)][-3:]
    return any(w in NEGATORS for w in words)


def scan(text: str, content: Content) -> list[Observation]:
    """One observation per red flag whose phrase appears, un-negated, in `text`."""
    norm = normalise(text)
    found: list[Observation] = []
    for flag_id, flag in content.red_flags.items():
        for phrase in flag.phrases:
            start = norm.find(normalise(phrase))
            while start != -1:
                if not _negated(norm[:start]):
                    found.append(Observation(flag.symptom, 4, red_flag=flag_id))
                    break
                start = norm.find(normalise(phrase), start + 1)
            if found and found[-1].red_flag == flag_id:
                break
    return found
