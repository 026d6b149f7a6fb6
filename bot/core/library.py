"""The clinic's content in every language it ships, and the proof that they say the same.

Each language is a whole `Content` (`content/<language>/`). Only wording may differ between
them: the plan's days and times, tips per symptom, red flags, rules and thresholds, clinic
settings and message placeholders must be the same, or the library is refused. A language
without a lexicon is spoken (patients read it) but not read: the triage engine does not
understand it, so its messages take the unread-language path (the red-flag question).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core.content import Content, placeholders

# Clinic settings a language may word its own way; every other one must be the same.
CLINIC_WORDING = frozenset({"routine_response", "urgent_response", "treated_areas"})

Found = tuple[str, tuple[str | int, ...], str]  # file key, location, problem


@dataclass(frozen=True, slots=True)
class Library:
    """Content by language (ISO 639-1); `clinic` is the language clinicians read."""

    contents: Mapping[str, Content]
    clinic: str
    _local: dict[tuple[str, str], Content] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.clinic not in self.contents:
            raise ValueError(f"the clinic's language {self.clinic!r} is not shipped")
        if not self.read:
            raise ValueError("no language ships a lexicon: the triage engine could read none")

    def speaks(self, language: str | None, country: str = "") -> Content:
        """The content for a patient's language (the clinic's when it is not shipped), with
        the emergency number of their country when the clinic lists it."""
        content = self.contents[self.ships(language) or self.clinic]
        return in_country(content, country, self._local)

    @property
    def spoken(self) -> frozenset[str]:
        return frozenset(self.contents)

    @property
    def read(self) -> frozenset[str]:
        """The languages the triage engine reads: those that ship a lexicon."""
        return frozenset(code for code, c in self.contents.items() if c.lexicon is not None)

    def ships(self, language: str | None) -> str | None:
        """`language` ("fr", "fr-CA", "FR") when the clinic ships it, else None."""
        code = (language or "").lower().replace("_", "-").split("-")[0]
        return code if code in self.contents else None


def in_country(
    content: Content, country: str, cache: dict[tuple[str, str], Content] | None = None
) -> Content:
    """`content` telling the emergency number of `country` (as it is when not listed)."""
    number = content.clinic.emergency_numbers.get(country.upper()) if country else None
    if number is None or number == content.clinic.emergency_number:
        return content
    key = (content.language, country.upper())
    found = cache.get(key) if cache is not None else None
    if found is None:
        clinic = content.clinic.model_copy(update={"emergency_number": number})
        found = content.model_copy(update={"clinic": clinic})
        if cache is not None:
            cache[key] = found
    return found


def parity(base: Content, other: Content, *, lexicon_from: Content | None = None) -> list[Found]:
    """Where `other` does not say the same as `base` apart from wording; its lexicon is held
    to `lexicon_from`'s (default `base`), the one the others were written from."""
    found: list[Found] = []
    found += _clinic(base, other)
    found += _plan(base, other)
    found += _same_keys("tips", base.tips, other.tips)
    found += _same_keys("symptoms", base.symptoms, other.symptoms)
    for name in base.symptoms.keys() & other.symptoms.keys():
        found += _fields("symptoms", (name,), base.symptoms[name].model_dump(exclude={"label"}),
                         other.symptoms[name].model_dump(exclude={"label"}))
    found += _same_keys("red_flags", base.red_flags, other.red_flags)
    for name in base.red_flags.keys() & other.red_flags.keys():
        if base.red_flags[name].symptom != other.red_flags[name].symptom:
            found.append(("red_flags", (name, "symptom"),
                          f"is {other.red_flags[name].symptom!r}, "
                          f"{base.language} says {base.red_flags[name].symptom!r}"))
    found += _rules(base, other)
    found += _placeholders(base, other)
    found += _lexicon(lexicon_from or base, other)
    return found


def lexicon_parity(reference: Content, other: Content) -> list[Found]:
    """Where `other`'s lexicon lacks what the reference lexicon reads (each language may
    add combinations of its own words)."""
    return _lexicon(reference, other)


def _lexicon(base: Content, other: Content) -> list[Found]:
    """Two lexicons name the same symptoms, combinations, red-flag topics and thresholds:
    what a message means must not depend on the language it is written in."""
    if base.lexicon is None or other.lexicon is None:
        return []
    ours, theirs = base.lexicon, other.lexicon
    found: list[Found] = []
    for where, a, b in ((("symptoms",), ours.symptoms, theirs.symptoms),
                        (("screen", "topics"), ours.screen.topics, theirs.screen.topics)):
        found += [("lexicon", (*where[:-1], *loc), problem)
                  for _, loc, problem in _same_keys(where[-1], a, b)]
    combos = {c.id: c.model_dump() for c in theirs.combinations}
    for i, combo in enumerate(ours.combinations):
        if combo.id not in combos:
            found.append(("lexicon", ("combinations", i), f"{combo.id!r} missing"))
        else:
            found += _fields("lexicon", ("combinations", combo.id), combo.model_dump(),
                             combos[combo.id])
    worded: dict[str, Any] = {"out_of": True, "weather": True,
                              "racing_heart": {"words", "not_rates"}}  # per language
    found += _fields("lexicon", ("measures",), ours.measures.model_dump(exclude=worded),
                     theirs.measures.model_dump(exclude=worded))
    return found


def _clinic(base: Content, other: Content) -> list[Found]:
    ours = base.clinic.model_dump(exclude=set(CLINIC_WORDING))
    theirs = other.clinic.model_dump(exclude=set(CLINIC_WORDING))
    found = _fields("clinic", (), ours, theirs)
    if len(base.clinic.treated_areas) != len(other.clinic.treated_areas):
        found.append(("clinic", ("treated_areas",),
                      f"{len(other.clinic.treated_areas)} areas, {base.language} has "
                      f"{len(base.clinic.treated_areas)}"))
    return found


def _plan(base: Content, other: Content) -> list[Found]:
    ours = [s.model_dump(exclude={"message"}) for s in base.plan.steps]
    theirs = [s.model_dump(exclude={"message"}) for s in other.plan.steps]
    if len(ours) != len(theirs):
        return [("plan", ("steps",), f"{len(theirs)} steps, {base.language} has {len(ours)}")]
    found: list[Found] = []
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        found += _fields("plan", ("steps", i), a, b)
    return found


def _rules(base: Content, other: Content) -> list[Found]:
    ours = [r.model_dump(exclude={"explain"}) for r in base.rules]
    theirs = [r.model_dump(exclude={"explain"}) for r in other.rules]
    if len(ours) != len(theirs):
        return [("rules", (), f"{len(theirs)} rules, {base.language} has {len(ours)}")]
    found: list[Found] = []
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        found += _fields("rules", (i,), a, b)
    return found


def _placeholders(base: Content, other: Content) -> list[Found]:
    found: list[Found] = []
    for key, template in base.messages.messages.items():
        theirs = other.messages.messages.get(key)
        if theirs is None:
            continue  # Messages itself requires every key
        if (want := placeholders(template)) != (got := placeholders(theirs)):
            found.append(("messages", (key,), f"placeholders {sorted(got)}, {base.language} "
                                              f"has {sorted(want)}"))
    return found


def _same_keys(key: str, ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> list[Found]:
    found: list[Found] = [(key, (name,), "missing") for name in ours if name not in theirs]
    found += [(key, (name,), "not in the other languages") for name in theirs
              if name not in ours]
    return found


def _fields(
    key: str, where: tuple[str | int, ...], ours: dict[str, Any], theirs: dict[str, Any]
) -> list[Found]:
    return [(key, (*where, name), f"is {theirs.get(name)!r}, must be {value!r} as in every "
                                  "language") for name, value in ours.items()
            if theirs.get(name) != value]
