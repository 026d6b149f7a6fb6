"""The `aftercare` command line, run as a user would."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.adapters.content_files import BUNDLED

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setenv("BOT_USERNAME", "aftercare_test_bot")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CLINIC_TIMEZONE", "Europe/Paris")
    assert main(["db", "upgrade"]) == 0
    return tmp_path


def test_run_without_a_token_says_how_to_get_one(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=clean | {"PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "TELEGRAM_BOT_TOKEN" in lines[0]
    assert "BotFather" in lines[0]


def test_enrol_prints_the_deep_link_as_json_and_a_qr_code(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qr = env / "link.png"
    code = main(["enrol", "--name", "Ana Lopez", "--session-at", "2026-11-20T10:00",
                 "--areas", "face", "neck", "--json", "--qr", str(qr)])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"patient_id", "token", "link"}
    assert out["link"] == f"https://t.me/aftercare_test_bot?start={out['token']}"
    assert qr.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_enrol_a_csv_list_one_json_line_each(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = env / "patients.csv"
    sheet.write_text(
        "name,session_at,timezone,areas,phone\n"
        "Ana Lopez,2026-11-20T10:00,Europe/Madrid,face,+34600000000\n"
        "Bea Roy,2026-11-20T11:30+01:00,,neck,\n"
        ",2026-11-20T11:30,,,\n",
        encoding="utf-8",
    )
    code = main(["enrol", "--csv", str(sheet)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1  # one row was refused
    assert [("link" in line, "error" in line) for line in lines] == [
        (True, False), (True, False), (False, True)
    ]
    assert lines[0]["patient_id"] != lines[1]["patient_id"]


def test_enrol_refuses_an_unknown_time_zone(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["enrol", "--name", "Ana", "--session-at", "2026-11-20T10:00",
                 "--timezone", "Mars/Olympus"])
    assert code == 2
    assert "unknown time zone" in capsys.readouterr().err


def test_enrol_shares_the_desk_s_checks_and_stats_tell_enrolled_from_consented(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["enrol", "--name", "Ana", "--session-at", "2026-11-20T10:00",
                 "--areas", "lips"]) == 2
    said = capsys.readouterr().err
    assert "unknown treated area(s): lips" in said
    assert "face, neck" in said  # the areas the clinic offers, listed
    assert main(["enrol", "--name", "Ana", "--session-at", "2999-01-01T10:00"]) == 2
    assert "more than 30 days ahead" in capsys.readouterr().err
    assert main(["enrol", "--name", "Ana", "--session-at", "2026-11-20T10:00", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    # The README's later session of a known patient, as written there.
    assert main(["enrol", "--patient-id", str(first["patient_id"]),
                 "--session-at", "2026-12-04T10:00", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["patient_id"] == first["patient_id"]
    assert main(["enrol", "--name", "Bea", "--session-at", "2026-11-20T10:00"]) == 0
    capsys.readouterr()
    assert main(["stats", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert (figures["enrolled"], figures["consented"]) == (2, 0)  # nobody opened a link


def test_clinician_invite(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clinician", "invite", "--name", "Dr Martin", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["link"].startswith("https://t.me/aftercare_test_bot?start=")


def test_check_content_accepts_the_bundled_content(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-content"]) == 0
    assert "content OK" in capsys.readouterr().out
    # One language's folder is checked with the others, not as a clinic of its own.
    assert main(["check-content", str(BUNDLED / "fr")]) == 0
    out = capsys.readouterr().out
    assert "is one language of" in out
    assert "languages: en, es, fr, ru" in out


def test_check_content_names_file_line_and_field(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = env / "content"
    shutil.copytree(BUNDLED, broken)
    rules = broken / "en" / "rules.yaml"
    text = rules.read_text(encoding="utf-8")
    rules.write_text(text.replace("level: urgent", "level: soon", 1), encoding="utf-8")
    tips = broken / "en" / "symptoms.yaml"
    tips.write_text(
        tips.read_text(encoding="utf-8").replace("[no_scratch,", "[no_scrach,"), encoding="utf-8"
    )
    assert main(["check-content", str(broken)]) == 1
    err = capsys.readouterr().err
    line = 1 + text[: text.index("level: urgent")].count("\n")
    assert f"rules.yaml:{line}: [" in err
    assert "].level: Value error, level must be none, routine, urgent or emergency" in err
    assert main(["check-content", str(broken)]) == 1


def test_clinician_list_rota_deactivate_and_stats(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("Dr Martin", "Nurse Joy"):
        assert main(["clinician", "invite", "--name", name, "--json"]) == 0
    assert main(["clinician", "invite", "--name", "Boss", "--admin", "--json"]) == 0
    capsys.readouterr()
    assert main(["clinician", "rota", "2", "1"]) == 0
    assert capsys.readouterr().out.strip() == "On-call rota: Nurse Joy → Dr Martin"
    assert main(["clinician", "rota", "9"]) == 1
    assert "Unknown clinician id(s): 9" in capsys.readouterr().out
    assert main(["clinician", "deactivate", "2"]) == 0
    capsys.readouterr()
    assert main(["clinician", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0] == "#1 Dr Martin · active, rota #2, link not opened yet"
    assert listing[1] == "#2 Nurse Joy · inactive, link not opened yet"
    assert listing[2] == "#3 Boss · active, admin, link not opened yet"
    assert main(["stats", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["enrolled"] == 0
    assert figures["escalations_by_level"] == {}


def _fail(token: str) -> None:
    raise RuntimeError(f"failed calling /bot{token}/getMe")


def test_the_token_never_reaches_a_log_line_or_traceback() -> None:
    import logging
    import sys

    from bot.adapters.logs import Redact

    token = "123456:SECRET-token-value"
    record = logging.LogRecord(
        "telegram", logging.ERROR, __file__, 1, "POST https://api.telegram.org/bot%s/x",
        (token,), None,
    )
    try:
        _fail(token)
    except RuntimeError:
        record.exc_info = sys.exc_info()
    Redact([token]).filter(record)
    assert token not in record.getMessage()
    assert token not in (record.exc_text or "")
    assert "[redacted]" in record.getMessage()


def test_enrol_writes_the_qr_code_in_the_format_its_file_name_asks_for(env: Path) -> None:
    qr = env / "link.svg"
    assert main(["enrol", "--name", "Ana", "--session-at", "2026-11-20T10:00", "--qr",
                 str(qr)]) == 0
    assert qr.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_triage_says_when_the_bot_would_ask_the_red_flag_question(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [{"id": "q", "day": 2, "text": "I fainted as a kid, could that happen again?"},
             {"id": "e", "day": 2, "text": "my lips are swelling and I can't breathe"},
             {"id": "n", "day": 2, "text": "all good, bruise fading"}]
    monkeypatch.setattr(sys, "stdin", io.StringIO(
        "\n".join(json.dumps(line) for line in lines)))
    assert main(["triage"]) == 0
    out = {o["id"]: o for o in map(json.loads, capsys.readouterr().out.splitlines())}
    assert out["q"]["screen"] is True
    assert out["q"]["level"] != "emergency"
    assert out["e"]["screen"] is False  # an emergency is not a question
    assert out["e"]["level"] == "emergency"
    assert out["n"]["screen"] is False


def test_triage_identifies_each_line_s_language_unless_told(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [{"id": "fr", "day": 1, "text": "j'ai les lèvres qui gonflent et du mal à respirer"},
             {"id": "en", "day": 1, "text": "my lips are swelling and I can't breathe"},
             {"id": "it", "day": 1,
              "text": "mi si gonfiano le labbra e faccio fatica a respirare"}]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(json.dumps(x) for x in lines)))
    assert main(["triage"]) == 0
    out = {o["id"]: o for o in map(json.loads, capsys.readouterr().out.splitlines())}
    assert (out["fr"]["language"], out["fr"]["level"]) == ("fr", "emergency")  # read in French
    assert (out["en"]["language"], out["en"]["level"]) == ("en", "emergency")
    assert out["it"] == {"id": "it", "language": "it", "level": "routine", "screen": True,
                         "unread": True}  # not read: asked, and sent to the clinic
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(lines[1])))
    assert main(["triage", "--language", "de"]) == 0
    assert json.loads(capsys.readouterr().out)["unread"] is True
