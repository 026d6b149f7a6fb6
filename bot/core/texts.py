"""Turn decisions into the words and buttons people see. Pure: content in, text out."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bot.core import callbacks as cb
from bot.core.callbacks import Button, Keyboard
from bot.core.checkin_flow import TRENDS, Draft
from bot.core.content import Content
from bot.core.model import SEVERITY_WORDS, Assessment, Fired, Level, Observation, Trend

TREND_WORDS = {
    Trend.BETTER: "better than last time",
    Trend.SAME: "same as last time",
    Trend.WORSE: "worse than last time",
    Trend.NEW: "new since last time",
}
MAX_WORDS = 600  # patient's words quoted in a ping; the whole ping stays far below 4096


_CONTROL = {c: None for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if chr(c) not in "\n\t"}


def plain(text: str) -> str:
    """What people write, safe to store: control characters removed (PostgreSQL refuses NUL
    in text, and terminals and logs misread the others); newlines and tabs kept."""
    return text.translate(_CONTROL)


def clip(text: str, limit: int) -> str:
    """Shorten to `limit` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def describe(o: Observation, content: Content) -> str:
    """'Bruising (moderate, worse than last time)'."""
    if o.red_flag and o.red_flag in content.red_flags:
        return f"⚠️ {content.red_flags[o.red_flag].label}"
    symptom = content.symptoms.get(o.symptom)
    label = symptom.label if symptom else o.symptom
    details = []
    if o.severity in SEVERITY_WORDS:
        details.append(SEVERITY_WORDS[o.severity])
    if o.temperature_c is not None:
        details.append(f"{o.temperature_c:.1f} °C")
    if o.trend in TREND_WORDS:
        details.append(TREND_WORDS[o.trend])
    return f"{label} ({', '.join(details)})" if details else label


def day_tips(
    content: Content, step_tips: Sequence[str], recent: Iterable[str], limit: int
) -> list[str]:
    """The check-in's tips: the day's (the plan step's), those for what the patient reported
    last first, at most `limit` (the same whatever order `recent` comes in)."""
    relevant = {t for name in recent if name in content.symptoms
                for t in content.symptoms[name].tips}
    ranked = sorted(step_tips, key=lambda t: t not in relevant)  # stable: plan order kept
    return ranked[:limit]


def tips_block(content: Content, tip_ids: Sequence[str]) -> str:
    """The tips as a short list under a header; empty when there are none."""
    tips = [content.tips[t] for t in dict.fromkeys(tip_ids) if t in content.tips]
    if not tips:
        return ""
    lines = [content.messages["tips_header"]]
    lines += [f"• {tip.title}: {tip.text}" for tip in tips]
    return "\n".join(lines)


def join(*parts: str) -> str:
    """Paragraphs, skipping empty ones."""
    return "\n\n".join(p for p in parts if p)


def yes_no(content: Content, key: str, data: Callable[[bool], str]) -> Keyboard:
    """A confirmation: the `<key>_yes` button above the `<key>_no` one."""
    m = content.messages
    return (
        (Button(m[f"{key}_yes"], data(True)),),
        (Button(m[f"{key}_no"], data(False)),),
    )


def trend_buttons(content: Content, data: Callable[[str], str]) -> tuple[Button, ...]:
    """Better / Same / Worse, each sending `data(code)` with code b, s or w."""
    return tuple(
        Button(content.messages[f"trend_{trend.value}"], data(code))
        for code, trend in TRENDS.items()
    )


def checkin_screen(
    content: Content, checkin_id: int, intro: str, draft: Draft
) -> tuple[str, Keyboard]:
    """The check-in message for the draft's current screen."""
    m = content.messages
    selected = ""
    if draft.observations:
        items = "; ".join(describe(o, content) for o in draft.observations)
        selected = m.format("selected", items=items)
    if draft.screen == "severity" and draft.pending_symptom:
        label = content.symptoms[draft.pending_symptom].label
        rows: list[tuple[Button, ...]] = [
            tuple(
                Button(m[f"severity_{v}"], cb.checkin(checkin_id, "v", str(v))) for v in (1, 2, 3)
            ),
            (Button(m["back"], cb.checkin(checkin_id, "b")),),
        ]
        return join(intro, selected, m.format("ask_severity", symptom=label)), tuple(rows)
    if draft.screen == "trend" and draft.pending_symptom:
        label = content.symptoms[draft.pending_symptom].label
        rows = [
            trend_buttons(content, lambda code: cb.checkin(checkin_id, "t", code)),
            (Button(m["back"], cb.checkin(checkin_id, "b")),),
        ]
        return join(intro, selected, m.format("ask_trend", symptom=label)), tuple(rows)
    if draft.screen == "warning":
        rows = [
            (Button(flag.label, cb.checkin(checkin_id, "f", name)),)
            for name, flag in content.red_flags.items()
        ]
        rows.append((Button(m["none_of_these"], cb.checkin(checkin_id, "n")),
                     Button(m["back"], cb.checkin(checkin_id, "b"))))
        ask = m.format("ask_warning", emergency_number=content.clinic.emergency_number)
        return join(intro, selected, ask), tuple(rows)
    # Few rows, to fit a phone without scrolling: the two answers that end or turn the
    # check-in share the first row, the symptoms follow three to a row.
    warning = Button(m["warning_signs"], cb.checkin(checkin_id, "w"))
    first = ((Button(m["done"], cb.checkin(checkin_id, "d")), warning) if draft.observations
             else (Button(m["all_good"], cb.checkin(checkin_id, "ok")), warning))
    choices = [
        Button(s.label, cb.checkin(checkin_id, "s", name))
        for name, s in content.button_symptoms
        if name not in draft.symptoms
    ]
    rows = [first, *(tuple(choices[i : i + 3]) for i in range(0, len(choices), 3))]
    return join(intro, selected, m["checkin_question"]), tuple(rows)


def clarify_question(content: Content, answer_id: int, symptom: str) -> tuple[str, Keyboard]:
    """Better, same or worse? (a symptom also reported last time, its trend not said)."""
    label = content.symptoms[symptom].label
    keyboard = (trend_buttons(content, lambda code: cb.trend(answer_id, code)),)
    return content.messages.format("clarify_trend", symptom=label), keyboard


def acknowledgement(content: Content, off_topic: str | None) -> tuple[str, Keyboard | None]:
    """The answer to words that report no symptom (with a "report" button)."""
    m = content.messages
    if off_topic == "admin":
        phone = content.clinic.clinic_phone
        return m.format(
            "offtopic_admin", clinic=content.clinic.name,
            phone=m.format("offtopic_admin_phone", phone=phone) if phone else "",
        ), None
    if off_topic in {"thanks", "well"}:
        return m[f"offtopic_{off_topic}"], None
    keyboard: Keyboard = ((Button(m["report_button"], cb.REPORT),),)
    return m.format("free_text_ack", emergency_number=content.clinic.emergency_number), keyboard


def emergency_instruction(content: Content) -> str:
    """The instruction to call emergency services: short, and claiming nothing else."""
    return content.messages.format(
        "reply_emergency", emergency_number=content.clinic.emergency_number
    )


def patient_replies(
    content: Content, assessment: Assessment, *, paged: bool | None = None,
    call: str | None = None, after_hours: str | None = None,
) -> tuple[str, ...]:
    """What the patient is told after an answer: the level's wording, whether the clinic was
    alerted (`paged`: pages written for clinicians on call; None: this answer raised nothing
    new) and the right tips; a request to be called, when the clinic will call (`call`).
    `after_hours` (when the clinic opens) says an urgent page reached the on-call clinician
    only. An emergency gets the instruction alone first, then the rest."""
    m, clinic = content.messages, content.clinic
    note = _paging_note(content, assessment.level, paged, after_hours)
    if assessment.level is Level.EMERGENCY:
        # The instruction must not drown in tips, nor wait for the page.
        return (emergency_instruction(content), *([note] if note else []))
    if assessment.level is Level.URGENT:
        head = m.format("reply_urgent", emergency_number=clinic.emergency_number)
    elif assessment.level is Level.ROUTINE and assessment.contact_request and call:
        head = m.format("reply_contact", when=call, emergency_number=clinic.emergency_number)
    elif assessment.level is Level.ROUTINE:
        head = m.format("reply_routine", when=clinic.routine_response)
    else:
        head = m["reply_none"]
    return (join(head, note or "", tips_block(content, assessment.tips)),)


def _paging_note(
    content: Content, level: Level, paged: bool | None, after_hours: str | None
) -> str | None:
    if paged is None or level < Level.URGENT:
        return None
    m, clinic = content.messages, content.clinic
    if paged and level is Level.URGENT and after_hours:
        return m.format("paged_urgent_after_hours", opens=after_hours,
                        emergency_number=clinic.emergency_number)
    if paged:
        return m.format(f"paged_{level.label}", when=clinic.urgent_response,
                        emergency_number=clinic.emergency_number)
    phone = m.format("unpaged_phone", phone=clinic.clinic_phone) if clinic.clinic_phone else ""
    return m.format(f"unpaged_{level.label}", clinic=clinic.name, phone=phone,
                    emergency_number=clinic.emergency_number)


@dataclass(frozen=True, slots=True)
class PingView:
    """Everything a clinician needs in one escalation message."""

    patient_id: int
    patient_name: str
    level: Level
    day: int
    session_local: str
    areas: str
    observations: tuple[Observation, ...]
    words: str | None
    fired: tuple[Fired, ...]
    reported_local: str
    language: str = ""  # the patient's, named in the clinic's words, when not the clinic's
    emergency_number: str = ""  # the one the patient was told ("": the clinic's)


def short_name(name: str) -> str:
    """'Ana L.' for 'Ana Lopez': short enough for a button."""
    first, *rest = name.split() or ["?"]
    return f"{first} {rest[-1][0]}." if rest else first


def level_mark(content: Content, level: Level) -> str:
    """How clinicians see a level ("🟠 URGENT"), in the clinic's words."""
    return content.messages[f"level_{level.label}"]


def reasons(content: Content, fired: Sequence[Fired]) -> list[str]:
    """Why an escalation was raised, in words: one reason per rule, at the highest level it
    fired (rows of a rule share its id), the most serious first."""
    strongest: dict[str, Fired] = {}
    for f in fired:
        if f.rule_id not in strongest or f.level > strongest[f.rule_id].level:
            strongest[f.rule_id] = f
    ordered = sorted(strongest.values(), key=lambda f: -f.level)
    return list(dict.fromkeys(_explained(content, f) for f in ordered))


def _explained(content: Content, fired: Fired) -> str:
    """Why a rule fired, in `content`'s words (a message read in the patient's language
    fired their content's rule: the same rule, worded for patients' clinicians there)."""
    rules = content.rules
    if 0 <= fired.index < len(rules) and rules[fired.index].id == fired.rule_id:
        return rules[fired.index].explain
    return fired.explain


def ping_text(content: Content, view: PingView) -> str:
    """The clinician's ping, in the clinic's language; the patient's words as written."""
    m = content.messages
    areas = m.format("ping_areas", areas=view.areas) if view.areas else ""
    lines = [
        f"{level_mark(content, view.level)} · {view.patient_name} (patient #{view.patient_id})",
        m.format("ping_day", day=view.day, session=view.session_local) + areas,
    ]
    if view.observations:
        lines.append(m.format("ping_reported", what="; ".join(
            describe(o, content) for o in view.observations)))
    if view.words:
        words = clip(view.words, MAX_WORDS)
        lines.append(m.format("ping_words_in", words=words, language=view.language)
                     if view.language else m.format("ping_words", words=words))
    if view.fired:
        lines.append(m.format("ping_why", why="; ".join(reasons(content, view.fired))))
    if view.level is Level.EMERGENCY:
        lines.append(m.format("ping_told", emergency_number=view.emergency_number
                              or content.clinic.emergency_number))
    lines.append(m.format("ping_reported_at", when=view.reported_local))
    return clip("\n".join(lines), 4000)


ID_LIMIT = 2**31  # ids are 32-bit integers in the database


def record_id(text: str) -> int | None:
    """A record's id as a person or a URL gives it ("12"); None for anything else, "²" and
    "١٢" included (`str.isdigit` accepts them, `int` does not or means another number)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if 0 < value < ID_LIMIT else None
