"""The clinic's content as typed data: care plan, tips, symptoms, red flags, rules, wording
(the lexicon's shape is `bot.core.lexicon_model`).

Files in `content/<language>/` are parsed into these models by `bot.adapters.content_files`;
this module only defines their shape and the cross-checks between files, so the core stays
free of I/O.
"""

from __future__ import annotations

import re
import string
from datetime import time
from typing import Any, Literal

import phonenumbers
from babel import Locale
from pydantic import Field, PrivateAttr, field_validator, model_validator

from bot.core.content_base import Ident, Strict
from bot.core.lexicon_model import Lexicon
from bot.core.message_keys import MESSAGE_KEYS
from bot.core.model import Level, Trend

PLURAL_BY = "by"  # in a template with plural forms: the number that chooses the form
CATEGORIES = frozenset({"zero", "one", "two", "few", "many", "other"})  # CLDR's
Template = str | dict[str, str]


def placeholders(template: Template) -> set[str]:
    """The {names} a template fills in (in any of its plural forms)."""
    forms = [v for k, v in template.items() if k != PLURAL_BY] if isinstance(
        template, dict) else [template]
    return {f for form in forms for _, f, _, _ in string.Formatter().parse(form) if f}


def _parse_hhmm(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int):  # YAML reads 10:00 as sexagesimal 600; accept it as minutes
        return time(value // 60, value % 60)
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise ValueError(f"expected a time as HH:MM, got {value!r}") from exc


class AfterHours(Strict):
    """How an urgent (not emergency) escalation pages while the clinic is closed: the
    on-call clinician only, again at a slower pace, everyone once the clinic opens."""

    urgent_on_call_only: bool = True
    urgent_repage_minutes: int = Field(default=120, ge=5, le=24 * 60)


class QuietHours(Strict):
    """Local hours when nothing routine is sent (wraps midnight when start > end)."""

    start: time
    end: time

    _hhmm = field_validator("start", "end", mode="before")(_parse_hhmm)

    def contains(self, t: time) -> bool:
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


class Clinic(Strict):
    """Clinic-wide settings that patients see."""

    name: str = Field(min_length=1)
    emergency_number: str = Field(min_length=2, max_length=20)  # where no country's is known
    # The number to call by the patient's country (ISO 3166 alpha-2: given at enrolment, or
    # read from their phone number); others are told `emergency_number`.
    emergency_numbers: dict[str, str] = {}
    clinic_phone: str | None = None
    quiet_hours: QuietHours
    routine_response: str = Field(min_length=1)
    urgent_response: str = Field(min_length=1)
    late_send_days: int = Field(default=2, ge=0, le=14)
    # Courses older than this (from the last session) are erased automatically.
    retention_days: int = Field(default=730, ge=30, le=36500)
    # What /forget keeps as the clinic's medical record: each escalation with the words that
    # raised it, its level, who acknowledged it and the outcome (until retention ends).
    keep_escalation_records: bool = True
    # How many of the plan step's tips a check-in carries (the first ones, in its order).
    tips_per_checkin: int = Field(default=2, ge=0, le=6)
    after_hours: AfterHours = AfterHours()
    # How far ahead a session may be enrolled (the CLI, a CSV, /enrol): a session booked
    # for next week is fine, a year ahead is a typo.
    session_days_ahead: int = Field(default=30, ge=0, le=365)
    # The areas `/enrol` offers as buttons.
    treated_areas: list[str] = Field(
        default=["face", "neck", "décolleté", "scalp", "body", "hands"], min_length=1,
        max_length=12,
    )
    # The red-flag question (asked when the engine is unsure): unanswered this long, it
    # becomes an escalation at this level.
    question_unanswered_minutes: int = Field(default=15, ge=1, le=24 * 60)
    question_unanswered_level: Literal["routine", "urgent", "emergency"] = "urgent"
    # A message in a language the clinic does not ship: what the patient is told, in that
    # language (ISO 639-1 code: line with {emergency_number}).
    unread_language_lines: dict[str, str] = {}

    @field_validator("emergency_numbers")
    @classmethod
    def _countries(cls, value: dict[str, str]) -> dict[str, str]:
        for country, number in value.items():
            if country not in phonenumbers.SUPPORTED_REGIONS:  # "UK" is GB
                raise ValueError(f"{country!r}: a country is a two-letter ISO 3166 code (FR, "
                                 "GB), as libphonenumber knows it")
            if not 2 <= len(number) <= 20:
                raise ValueError(f"{country}: a number of 2 to 20 characters")
        return value

    @field_validator("unread_language_lines")
    @classmethod
    def _lines(cls, value: dict[str, str]) -> dict[str, str]:
        for code, line in value.items():
            if not re.fullmatch(r"[a-z]{2}", code):
                raise ValueError(f"{code!r}: a language is a two-letter ISO 639-1 code")
            used = placeholders(line)
            if used != {"emergency_number"}:
                raise ValueError(f"{code}: the line must give {{emergency_number}} and nothing "
                                 f"else (has {sorted(used)})")
        return value


class Step(Strict):
    """One day of the care plan."""

    id: Ident
    day: int = Field(ge=0, le=365)
    at: time
    message: str = Field(min_length=1, max_length=1500)
    tips: list[Ident] = []
    ask: bool = True
    invite_photo: bool = False

    _hhmm = field_validator("at", mode="before")(_parse_hhmm)


class CarePlan(Strict):
    """The day-by-day follow-up after one session."""

    name: str
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered_unique(self) -> CarePlan:
        days = [s.day for s in self.steps]
        if len(set(days)) != len(days):
            raise ValueError("two steps fall on the same day; a patient gets one check-in a day")
        if days != sorted(days):
            raise ValueError("steps must be listed in day order")
        ids = [s.id for s in self.steps]
        if len(set(ids)) != len(ids):
            raise ValueError("step ids must be unique")
        return self


class Tip(Strict):
    """One piece of aftercare advice, with where it comes from."""

    title: str = Field(min_length=1, max_length=80)
    text: str = Field(min_length=1, max_length=600)
    source: str = Field(min_length=1)


class Symptom(Strict):
    """A side effect the bot can ask about and evaluate."""

    label: str = Field(min_length=1, max_length=48)
    button: bool = False  # offered on the check-in keyboard
    normal_days: tuple[int, int] | None = None  # None: never part of the normal course
    tips: list[Ident] = []
    ask_trend: bool = True

    @field_validator("normal_days")
    @classmethod
    def _window(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and value[0] > value[1]:
            raise ValueError("normal_days is [first day, last day]; first must not exceed last")
        return value


class RedFlag(Strict):
    """A sign that needs emergency services now, whatever else is said."""

    label: str = Field(min_length=1, max_length=48)  # button label
    symptom: Ident
    description: str = Field(min_length=1)
    phrases: list[str] = Field(min_length=1)


class Condition(Strict):
    """What must hold for a rule to fire on one observation; every given field must match."""

    symptoms: list[Ident] | None = None  # any of these; None means any symptom
    not_symptoms: list[Ident] = []
    day_min: int | None = None
    day_max: int | None = None
    severity_min: int | None = Field(default=None, ge=0, le=4)
    severity_max: int | None = Field(default=None, ge=0, le=4)
    trend: list[Trend] | None = None
    outside_normal_window: bool | None = None
    red_flag: list[Ident] | None = None
    measured: bool | None = None  # a temperature was given
    temperature_min_c: float | None = None
    temperature_min_f: float | None = None  # the same threshold as written in °F
    contact_request: bool | None = None  # message-level: the patient asks to be contacted

    @property
    def message_level(self) -> bool:
        return self.contact_request is not None


class Rule(Strict):
    """An escalation threshold: when the condition holds, the level applies."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", max_length=40)
    level: Level
    when: Condition
    explain: str = Field(min_length=1)
    source: str = Field(min_length=1)

    @field_validator("level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Level:
        if isinstance(value, Level):
            return value
        try:
            return Level.parse(str(value))
        except KeyError as exc:
            raise ValueError("level must be none, routine, urgent or emergency") from exc




class Messages(Strict):
    """The bot's wording, one template per key (str.format placeholders). A template with
    plural forms maps CLDR's categories of the language (one, few, many, other...) to texts,
    and `by` names the number that chooses one ("{count} items")."""

    messages: dict[str, Template]
    _language: str = PrivateAttr(default="en")

    @field_validator("messages")
    @classmethod
    def _complete(cls, value: dict[str, Template]) -> dict[str, Template]:
        missing = sorted(set(MESSAGE_KEYS) - set(value))
        if missing:
            raise ValueError(f"missing message keys: {', '.join(missing)}")
        unknown = sorted(set(value) - set(MESSAGE_KEYS))
        if unknown:
            raise ValueError(f"unknown message keys: {', '.join(unknown)}")
        for key, template in value.items():
            if isinstance(template, dict):
                _plural_forms(key, template)
            elif not template.strip():
                raise ValueError(f"{key}: empty text")
            used = placeholders(template)
            extra = used - MESSAGE_KEYS[key]
            if extra:
                allowed = ", ".join(sorted(MESSAGE_KEYS[key])) or "none"
                raise ValueError(
                    f"{key}: unknown placeholder {sorted(extra)} (allowed: {allowed})"
                )
        return value

    def __getitem__(self, key: str) -> str:
        template = self.messages[key]
        return template["other"] if isinstance(template, dict) else template

    def format(self, key: str, **values: object) -> str:
        template = self.messages[key]
        if isinstance(template, dict):  # the form for this number, by CLDR's rules
            number = values.get(template[PLURAL_BY])
            category = (Locale.parse(self._language).plural_form(number)
                        if isinstance(number, int | float) else "other")
            template = template.get(category, template["other"])
        return template.format(**values)

    def missing_forms(self, language: str) -> list[tuple[str, str]]:
        """(key, category) of plural forms `language` needs that a template lacks."""
        needed = Locale.parse(language).plural_form.tags | {"other"}
        return [(key, category) for key, template in self.messages.items()
                if isinstance(template, dict)
                for category in sorted(needed - set(template))]


def _plural_forms(key: str, template: dict[str, str]) -> None:
    """A template with plural forms names its number and has only CLDR's categories."""
    by = template.get(PLURAL_BY)
    if by not in MESSAGE_KEYS.get(key, set()):
        raise ValueError(f"{key}: `{PLURAL_BY}` must name one of its placeholders (has {by!r})")
    unknown = sorted(set(template) - CATEGORIES - {PLURAL_BY})
    if unknown:
        raise ValueError(f"{key}: unknown plural forms {unknown} (CLDR's: "
                         f"{', '.join(sorted(CATEGORIES))})")
    if "other" not in template:
        raise ValueError(f"{key}: the plural form `other` is required")


class Content(Strict):
    """Everything a clinic edits, for one language, checked as a whole."""

    language: str
    clinic: Clinic
    plan: CarePlan
    tips: dict[Ident, Tip]
    symptoms: dict[Ident, Symptom]
    red_flags: dict[Ident, RedFlag]
    rules: list[Rule]
    messages: Messages
    lexicon: Lexicon | None = None  # None: spoken to patients, not read by the triage engine

    @model_validator(mode="after")
    def _speaks_its_language(self) -> Content:
        self.messages._language = self.language  # plural forms follow the language's rules
        return self

    @property
    def reads(self) -> Lexicon:
        """The lexicon the triage engine reads this language with."""
        if self.lexicon is None:
            raise ValueError(f"no lexicon for {self.language!r}: the engine cannot read it")
        return self.lexicon

    def cross_check(self) -> list[tuple[str, tuple[str | int, ...], str]]:
        """References between files that do not resolve: (file key, location, problem)."""
        problems: list[tuple[str, tuple[str | int, ...], str]] = []
        for key, category in self.messages.missing_forms(self.language):
            problems.append(("messages", (key,), f"no plural form {category!r} ("
                             f"{self.language} needs it)"))
        for i, step in enumerate(self.plan.steps):
            if self.clinic.quiet_hours.contains(step.at):
                problems.append(("plan", ("steps", i, "at"), "falls inside quiet hours"))
            for j, tip in enumerate(step.tips):
                if tip not in self.tips:
                    problems.append(("plan", ("steps", i, "tips", j), f"unknown tip {tip!r}"))
        for name, symptom in self.symptoms.items():
            for j, tip in enumerate(symptom.tips):
                if tip not in self.tips:
                    problems.append(("symptoms", (name, "tips", j), f"unknown tip {tip!r}"))
        for name, flag in self.red_flags.items():
            if flag.symptom not in self.symptoms:
                problems.append(
                    ("red_flags", (name, "symptom"), f"unknown symptom {flag.symptom!r}")
                )
        # Several rows may share an id: they are the levels of one clinical rule (G3, fever...).
        for i, rule in enumerate(self.rules):
            cond = rule.when
            for key in ("symptoms", "not_symptoms"):
                for j, name in enumerate(getattr(cond, key) or []):
                    if name not in self.symptoms:
                        problems.append(
                            ("rules", (i, "when", key, j), f"unknown symptom {name!r}")
                        )
            for j, flag_id in enumerate(cond.red_flag or []):
                if flag_id not in self.red_flags:
                    problems.append(
                        ("rules", (i, "when", "red_flag", j), f"unknown red flag {flag_id!r}")
                    )
        for name in self.red_flags:
            if not any(name in (r.when.red_flag or []) for r in self.rules):
                problems.append(("red_flags", (name,), "no rule fires on this red flag"))
        problems += self._check_lexicon()
        return problems

    def _check_lexicon(self) -> list[tuple[str, tuple[str | int, ...], str]]:
        problems: list[tuple[str, tuple[str | int, ...], str]] = []
        if self.lexicon is None:
            return problems
        lex = self.lexicon
        for name in lex.symptoms:
            if name not in self.symptoms:
                problems.append(("lexicon", ("symptoms", name), f"unknown symptom {name!r}"))
        for i, combo in enumerate(lex.combinations):
            where: tuple[str | int, ...] = ("combinations", i)
            for key in ("symptoms", "without"):
                for name in getattr(combo, key) or []:
                    if name not in self.symptoms:
                        problems.append(("lexicon", (*where, key), f"unknown symptom {name!r}"))
            for key in ("all", "any", "unless"):
                for name in getattr(combo, key):
                    if name not in lex.groups:
                        problems.append(("lexicon", (*where, key), f"unknown group {name!r}"))
            if combo.adds is not None and combo.adds not in self.symptoms:
                problems.append(("lexicon", (*where, "adds"), f"unknown symptom {combo.adds!r}"))
            if combo.red_flag is not None and combo.red_flag not in self.red_flags:
                problems.append(
                    ("lexicon", (*where, "red_flag"), f"unknown red flag {combo.red_flag!r}")
                )
        for name in (*lex.screen.placed_by, *lex.screen.doubted_by):
            if name not in lex.groups:
                problems.append(("lexicon", ("screen", "placed_by"), f"unknown group {name!r}"))
        racing = lex.measures.racing_heart
        if racing is not None and racing.red_flag not in self.red_flags:
            problems.append(("lexicon", ("measures", "racing_heart", "red_flag"),
                             f"unknown red flag {racing.red_flag!r}"))
        for name in racing.unless if racing is not None else ():
            if name not in lex.groups:
                problems.append(("lexicon", ("measures", "racing_heart", "unless"),
                                 f"unknown group {name!r}"))
        for name in (*lex.screen.placed_by_temperature, *lex.screen.placed_by_heart_rate):
            if name not in lex.screen.topics:
                problems.append(("lexicon", ("screen", "placed_by"),
                                 f"unknown topic {name!r}"))
        return problems

    @property
    def button_symptoms(self) -> list[tuple[str, Symptom]]:
        return [(name, s) for name, s in self.symptoms.items() if s.button]
