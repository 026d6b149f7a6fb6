"""Domain vocabulary shared by every layer: levels, trends, observations, assessments."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum


class Level(IntEnum):
    """Escalation levels, ordered so that max() picks the most serious."""

    NONE = 0
    ROUTINE = 1
    URGENT = 2
    EMERGENCY = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Level:
        return cls[value.upper()]


class Trend(StrEnum):
    """A symptom compared with the patient's previous check-in."""

    BETTER = "better"
    SAME = "same"
    WORSE = "worse"
    NEW = "new"  # not reported at the previous check-in
    UNKNOWN = "unknown"


SEVERITY_WORDS = {1: "mild", 2: "moderate", 3: "severe", 4: "very severe"}


@dataclass(frozen=True, slots=True)
class Observation:
    """One symptom as the patient reported it (present unless denied or resolved)."""

    symptom: str
    severity: int | None = None  # PRO-CTCAE style grade 0..4
    trend: Trend = Trend.UNKNOWN
    red_flag: str | None = None  # id of a red flag this observation is evidence of
    temperature_c: float | None = None
    present: bool = True
    temperature_f: float | None = None  # the reading itself, when it was given in °F

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"symptom": self.symptom, "trend": self.trend.value}
        if self.severity is not None:
            data["severity"] = self.severity
        if self.red_flag:
            data["red_flag"] = self.red_flag
        if self.temperature_c is not None:
            data["temperature_c"] = self.temperature_c
        if self.temperature_f is not None:
            data["temperature_f"] = self.temperature_f
        if not self.present:
            data["present"] = False
        return data

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Observation:
        severity = data.get("severity")
        temperature = data.get("temperature_c")
        fahrenheit = data.get("temperature_f")
        red_flag = data.get("red_flag")
        return cls(
            symptom=str(data["symptom"]),
            severity=int(severity) if isinstance(severity, int | float) else None,
            trend=Trend(str(data.get("trend", Trend.UNKNOWN.value))),
            red_flag=str(red_flag) if red_flag else None,
            temperature_c=float(temperature) if isinstance(temperature, int | float) else None,
            present=bool(data.get("present", True)),
            temperature_f=float(fahrenheit) if isinstance(fahrenheit, int | float) else None,
        )


@dataclass(frozen=True, slots=True)
class Report:
    """Everything one answer says: observations plus message-level signals."""

    observations: tuple[Observation, ...] = ()
    contact_request: bool = False

    @property
    def present(self) -> tuple[Observation, ...]:
        return tuple(o for o in self.observations if o.present)


@dataclass(frozen=True, slots=True)
class Fired:
    """A rule that fired, on which symptom (None for message-level rules)."""

    rule_id: str
    level: Level
    symptom: str | None
    explain: str
    index: int = -1  # the rule's place in the content's rules (the same in every language)


@dataclass(frozen=True, slots=True)
class Assessment:
    """The core's verdict on one answer."""

    level: Level
    fired: tuple[Fired, ...] = ()
    tips: tuple[str, ...] = ()
    red_flags: tuple[str, ...] = field(default=())
    contact_request: bool = False  # the patient asked to be called

    @property
    def rule_ids(self) -> list[str]:
        return list(dict.fromkeys(f.rule_id for f in self.fired))
