"""The check-in keyboard as a small state machine: a press and the draft give the next draft.

The draft lives in the database between presses; nothing in the button itself is trusted
beyond naming which option was tapped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.content import Content
from bot.core.model import Observation, Report, Trend

TRENDS = {"b": Trend.BETTER, "s": Trend.SAME, "w": Trend.WORSE}
SEVERITIES = frozenset({"1", "2", "3"})


@dataclass(frozen=True, slots=True)
class Draft:
    """What the patient has tapped so far on one check-in."""

    observations: tuple[Observation, ...] = ()
    pending_symptom: str | None = None
    pending_severity: int | None = None
    screen: str = "main"  # main | severity | trend | warning

    def to_json(self) -> dict[str, object]:
        return {
            "obs": [o.to_json() for o in self.observations],
            "pending_symptom": self.pending_symptom,
            "pending_severity": self.pending_severity,
            "screen": self.screen,
        }

    @classmethod
    def from_json(cls, data: dict[str, object] | None) -> Draft:
        if not data:
            return cls()
        raw = data.get("obs")
        observations = tuple(
            Observation.from_json(o) for o in (raw if isinstance(raw, list) else [])
        )
        symptom = data.get("pending_symptom")
        severity = data.get("pending_severity")
        return cls(
            observations=observations,
            pending_symptom=str(symptom) if symptom else None,
            pending_severity=int(severity) if isinstance(severity, int) else None,
            screen=str(data.get("screen") or "main"),
        )

    @property
    def symptoms(self) -> list[str]:
        return [o.symptom for o in self.observations]


@dataclass(frozen=True, slots=True)
class Show:
    """Show this draft's screen."""

    draft: Draft


@dataclass(frozen=True, slots=True)
class Submit:
    """The answer is complete: evaluate it."""

    report: Report
    all_good: bool = False


@dataclass(frozen=True, slots=True)
class Invalid:
    """The press does not fit the current screen (stale, replayed or forged)."""

    reason: str = field(default="stale")


@dataclass(frozen=True, slots=True)
class NoSigns:
    """"None of these" on the warning signs: the patient has none of them."""

    draft: Draft


Outcome = Show | Submit | Invalid | NoSigns


def press(
    draft: Draft, op: str, arg: str, *, content: Content, previous: set[str] | None
) -> Outcome:
    """Apply one press. `previous` holds the symptoms of the last answer (None: first answer)."""
    if op == "ok":
        if draft.observations or draft.screen != "main":
            return Invalid()
        return Submit(Report(), all_good=True)
    if op == "b":
        return Show(Draft(draft.observations))
    if op == "s":
        symptom = content.symptoms.get(arg)
        if draft.screen != "main" or symptom is None or not symptom.button:
            return Invalid()
        if arg in draft.symptoms:
            return Invalid()
        return Show(Draft(draft.observations, arg, None, "severity"))
    if op == "v":
        if draft.screen != "severity" or draft.pending_symptom is None or arg not in SEVERITIES:
            return Invalid()
        severity = int(arg)
        name = draft.pending_symptom
        asks_trend = content.symptoms[name].ask_trend
        if previous is not None and name in previous and asks_trend:
            return Show(Draft(draft.observations, name, severity, "trend"))
        trend = Trend.NEW if previous is not None else Trend.UNKNOWN
        return Show(Draft((*draft.observations, Observation(name, severity, trend))))
    if op == "t":
        if draft.screen != "trend" or draft.pending_symptom is None or arg not in TRENDS:
            return Invalid()
        added = Observation(draft.pending_symptom, draft.pending_severity, TRENDS[arg])
        return Show(Draft((*draft.observations, added)))
    if op == "w":
        if draft.screen != "main":
            return Invalid()
        return Show(Draft(draft.observations, screen="warning"))
    if op == "f":
        flag = content.red_flags.get(arg)
        if draft.screen != "warning" or flag is None:
            return Invalid()
        # A red flag is submitted at once: nothing should stand between it and the reply.
        observations = (*draft.observations, Observation(flag.symptom, 4, red_flag=arg))
        return Submit(Report(observations))
    if op == "n":
        if draft.screen != "warning":
            return Invalid()
        return NoSigns(Draft(draft.observations))
    if op == "d":
        if draft.screen != "main" or not draft.observations:
            return Invalid()
        return Submit(Report(draft.observations))
    return Invalid()
