"""The compact codes carried in inline-button `callback_data` (at most 64 bytes).

A code only names what was pressed; services check every press against what was actually
sent to that chat, so a forged or replayed code changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

MAX_BYTES = 64


class Button(NamedTuple):
    """An inline button: what the patient reads, and the code it sends back."""

    label: str
    data: str


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class Consent:
    """A tap on Yes or No under the consent message."""

    token_id: int
    yes: bool
    language: str = ""  # the language the consent was shown in


@dataclass(frozen=True, slots=True)
class CheckinPress:
    """A tap on a check-in screen."""

    checkin_id: int
    op: str  # ok, s (symptom), v (severity), t (trend), w (warning menu), f (flag), d, b
    arg: str = ""


@dataclass(frozen=True, slots=True)
class StopPress:
    """A tap confirming or cancelling /stop."""

    yes: bool


@dataclass(frozen=True, slots=True)
class ForgetPress:
    """A tap confirming or cancelling /forget."""

    yes: bool


@dataclass(frozen=True, slots=True)
class EscalationPress:
    """A clinician's button on a ping or summary: acknowledge, resolve, call, timeline."""

    escalation_id: int
    action: str  # a, r, c, t, s


@dataclass(frozen=True, slots=True)
class TrendPress:
    """The answer to "better, the same, or worse?" about a written message."""

    answer_id: int
    code: str  # b, s, w


@dataclass(frozen=True, slots=True)
class ReportPress:
    """Start a report outside the schedule."""


@dataclass(frozen=True, slots=True)
class EnrolPress:
    """A clinician's button during `/enrol`: now, a(rea) with its index, l(anguage) with its
    code, done."""

    op: str
    arg: str = ""


@dataclass(frozen=True, slots=True)
class LanguagePress:
    """A patient's choice of language (ISO 639-1) under /language."""

    code: str


Callback = (
    Consent | CheckinPress | StopPress | ForgetPress | EscalationPress | TrendPress | ReportPress
    | EnrolPress | LanguagePress
)

CHECKIN_OPS = frozenset({"ok", "s", "v", "t", "w", "f", "n", "d", "b"})
_ARG = re.compile(r"^[a-z0-9_-]{0,40}$")


def _fit(data: str) -> str:
    if not 1 <= len(data.encode()) <= MAX_BYTES:
        raise ValueError(f"callback data must be 1-{MAX_BYTES} bytes: {data!r}")
    return data


def consent(token_id: int, *, yes: bool, language: str = "") -> str:
    """Code for a consent button (with the language the consent was worded in)."""
    if language and not re.fullmatch(r"[a-z]{2}", language):
        raise ValueError(f"bad language {language!r}")
    suffix = f":{language}" if language else ""
    return _fit(f"k:{token_id}:{'y' if yes else 'n'}{suffix}")


def checkin(checkin_id: int, op: str, arg: str = "") -> str:
    """Code for a check-in button."""
    if op not in CHECKIN_OPS or not _ARG.match(arg):
        raise ValueError(f"bad check-in button {op!r} {arg!r}")
    return _fit(f"c:{checkin_id}:{op}:{arg}" if arg else f"c:{checkin_id}:{op}")


def for_checkin(template: Keyboard, checkin_id: int) -> Keyboard:
    """A check-in keyboard built for check-in 0, addressed to `checkin_id` instead: the
    dispatcher sends the same opening screen to hundreds of check-ins a tick."""
    prefix = f"c:{checkin_id}:"
    return tuple(
        tuple(
            Button(b.label, _fit(prefix + b.data[4:]) if b.data.startswith("c:0:") else b.data)
            for b in row
        )
        for row in template
    )


def stop(*, yes: bool) -> str:
    """Code for a /stop confirmation button."""
    return _fit(f"x:{'y' if yes else 'n'}")


def forget(*, yes: bool) -> str:
    """Code for a /forget confirmation button."""
    return _fit(f"f:{'y' if yes else 'n'}")


ESCALATION_ACTIONS = frozenset({"a", "r", "c", "t", "s"})


def escalation(escalation_id: int, action: str) -> str:
    """Code for a clinician's button: a(cknowledge), r(esolve), c(all patient), t(imeline),
    s(hare the outcome note with the patient)."""
    if action not in ESCALATION_ACTIONS:
        raise ValueError(f"bad escalation action {action!r}")
    return _fit(f"e:{escalation_id}:{action}")


def trend(answer_id: int, code: str) -> str:
    """Code for a Better / Same / Worse button under a written message."""
    if code not in {"b", "s", "w"}:
        raise ValueError(f"bad trend code {code!r}")
    return _fit(f"t:{answer_id}:{code}")


REPORT = "r"
ENROL_OPS = frozenset({"now", "a", "l", "done"})


def enrol(op: str, arg: str = "") -> str:
    """Code for a button of the `/enrol` conversation."""
    if op not in ENROL_OPS or not _ARG.match(arg):
        raise ValueError(f"bad enrolment button {op!r} {arg!r}")
    return _fit(f"n:{op}:{arg}" if arg else f"n:{op}")


def language(code: str) -> str:
    """Code for a /language button."""
    if not re.fullmatch(r"[a-z]{2}", code):
        raise ValueError(f"bad language {code!r}")
    return _fit(f"l:{code}")


def _int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None


def parse(data: str | None) -> Callback | None:
    """Decode a press; None for anything this bot did not produce."""
    if not data or len(data.encode()) > MAX_BYTES:
        return None
    parts = data.split(":")
    kind, rest = parts[0], parts[1:]
    if kind == "k" and len(rest) in {2, 3} and rest[1] in {"y", "n"}:
        token_id = _int(rest[0])
        language = rest[2] if len(rest) == 3 else ""
        if token_id is None or (language and not re.fullmatch(r"[a-z]{2}", language)):
            return None
        return Consent(token_id, rest[1] == "y", language)
    if kind == "c" and len(rest) in {2, 3} and rest[1] in CHECKIN_OPS:
        checkin_id = _int(rest[0])
        arg = rest[2] if len(rest) == 3 else ""
        if checkin_id is None or not _ARG.match(arg):
            return None
        return CheckinPress(checkin_id, rest[1], arg)
    if kind == "x" and rest in (["y"], ["n"]):
        return StopPress(rest[0] == "y")
    if kind == "f" and rest in (["y"], ["n"]):
        return ForgetPress(rest[0] == "y")
    if kind == "e" and len(rest) == 2 and rest[1] in ESCALATION_ACTIONS:
        escalation_id = _int(rest[0])
        return EscalationPress(escalation_id, rest[1]) if escalation_id is not None else None
    if kind == "t" and len(rest) == 2 and rest[1] in {"b", "s", "w"}:
        answer_id = _int(rest[0])
        return TrendPress(answer_id, rest[1]) if answer_id is not None else None
    if data == REPORT:
        return ReportPress()
    if kind == "l" and len(rest) == 1 and re.fullmatch(r"[a-z]{2}", rest[0]):
        return LanguagePress(rest[0])
    if kind == "n" and rest in (["now"], ["done"]):
        return EnrolPress(rest[0])
    if kind == "n" and len(rest) == 2 and rest[0] == "a" and _int(rest[1]) is not None:
        return EnrolPress("a", rest[1])
    if kind == "n" and len(rest) == 2 and rest[0] == "l" and re.fullmatch(r"[a-z]{2}", rest[1]):
        return EnrolPress("l", rest[1])
    return None
