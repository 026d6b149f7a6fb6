"""Content is data: the bundled files cover the seeds, and mistakes are reported precisely."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.adapters.content_files import BUNDLED, ContentError, load_content
from bot.core.content import Content


def test_plan_has_the_default_days_at_sensible_hours(content: Content) -> None:
    steps = content.plan.steps
    assert [s.day for s in steps] == [0, 1, 2, 3, 5, 7, 10, 14, 21, 28]
    assert steps[0].at.hour >= 17  # day 0 in the evening
    assert all(not content.clinic.quiet_hours.contains(s.at) for s in steps)


@pytest.mark.parametrize(
    ("symptom", "tip"),
    [
        ("bruising", "cold_compress"),
        ("bruising", "arnica_aloe"),
        ("swelling", "cold_compress"),
        ("itching", "no_scratch"),
        ("soreness", "pain_relief"),
        ("discoloration", "sun_protection"),
        ("bumps", "no_picking"),
        ("burning", "cold_compress"),
        ("numbness", "numb_skin"),
        ("hematoma", "see_clinic"),
        ("scarring", "see_clinic"),
    ],
)
def test_every_seed_side_effect_has_its_tip(content: Content, symptom: str, tip: str) -> None:
    assert tip in content.symptoms[symptom].tips
    assert content.tips[tip].source


def test_quiet_hours_and_emergency_number_are_content(content: Content) -> None:
    assert content.clinic.quiet_hours.start.hour == 21
    assert content.clinic.quiet_hours.end.hour == 8
    assert content.clinic.emergency_number == "112"


def _broken(tmp_path: Path, name: str, old: str, new: str) -> Path:
    folder = tmp_path / "content"
    shutil.copytree(BUNDLED, folder)
    path = folder / "en" / name
    path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    return folder


def test_unknown_tip_in_the_plan_is_reported_with_its_line(tmp_path: Path) -> None:
    folder = _broken(tmp_path, "careplan.yaml", "tips: [pain_relief", "tips: [pain_relif")
    with pytest.raises(ContentError) as caught:
        load_content(folder)
    (problem,) = caught.value.problems
    assert problem.file.name == "careplan.yaml"
    assert problem.field == "steps[2].tips[0]"
    assert problem.message == "unknown tip 'pain_relif'"
    lines = (folder / "en" / "careplan.yaml").read_text(encoding="utf-8").splitlines()
    assert problem.line is not None
    assert "pain_relif" in lines[problem.line - 1]


def test_placeholder_typo_in_a_message_is_reported(tmp_path: Path) -> None:
    folder = _broken(tmp_path, "messages.yaml", "call {emergency_number} now",
                     "call {emergency_numbr} now")
    with pytest.raises(ContentError) as caught:
        load_content(folder)
    assert "ask_warning: unknown placeholder ['emergency_numbr']" in str(caught.value)
    assert "messages.yaml:" in str(caught.value)


def test_a_checkin_inside_quiet_hours_is_refused(tmp_path: Path) -> None:
    folder = _broken(tmp_path, "careplan.yaml", 'at: "19:00"', 'at: "22:30"')
    with pytest.raises(ContentError, match=r"careplan.yaml:\d+: steps\[0\].at: falls inside"):
        load_content(folder)


def test_invalid_yaml_and_duplicate_keys(tmp_path: Path) -> None:
    folder = _broken(tmp_path, "tips.yaml", "cold_compress:", "cold_compress: [")
    with pytest.raises(ContentError, match=r"tips.yaml:.*not valid YAML"):
        load_content(folder)
    folder2 = _broken(tmp_path / "b", "clinic.yaml", 'emergency_number: "112"',
                      'emergency_number: "112"\nemergency_number: "999"')
    with pytest.raises(ContentError, match=r"clinic.yaml:\d+: emergency_number: duplicate key"):
        load_content(folder2)


def test_the_red_flag_question_and_its_timings_are_content(content: Content) -> None:
    assert content.clinic.question_unanswered_minutes == 15
    assert content.clinic.question_unanswered_level == "urgent"
    assert "breathing" in content.lexicon.screen.topics
    assert content.lexicon.measures.racing_heart is not None


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("  placed_by: [bruise_words,", "  placed_by: [bruise_wordz,",
         r"lexicon.yaml:\d+: screen.placed_by: unknown group 'bruise_wordz'"),
        ("    red_flag: rf-sepsis\n    words:", "    red_flag: rf-sepsys\n    words:",
         r"lexicon.yaml:\d+: measures.racing_heart.red_flag: unknown red flag 'rf-sepsys'"),
        ("  score_grades: {1: 3, 2: 6, 3: 10}", "  score_grades: {1: 3, 2: 6, 3: 9}",
         r"lexicon.yaml:\d+: measures.score_grades: .*up to 10"),
    ],
)
def test_mistakes_in_the_screen_and_measures_are_reported(
    tmp_path: Path, old: str, new: str, problem: str
) -> None:
    folder = _broken(tmp_path, "lexicon.yaml", old, new)
    with pytest.raises(ContentError, match=problem):
        load_content(folder)


def test_word_lists_read_word_by_word_refuse_phrases() -> None:
    """A phrase in `words.negators` would make each of its words a negator on its own."""
    import pydantic

    from bot.core.lexicon_model import Words

    with pytest.raises(pydantic.ValidationError, match="one word per entry"):
        Words(negators=["pas", "toujours pas"])
    assert Words(negators=["pas", "jamais"]).negators == ["pas", "jamais"]
