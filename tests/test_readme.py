"""Every command the README shows runs as written (issue 17, point 7): its CLI block, in
order, against a fresh database; and the demo of its Quick start."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def cli_block() -> list[str]:
    """The README's block of `aftercare` commands, continuation lines joined, comments cut."""
    block = next(b for b in re.findall(r"```sh\n(.*?)```", README, re.S)
                 if ".venv/bin/aftercare" in b)
    joined = re.sub(r"\\\n\s*", " ", block)
    commands = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            commands.append(words)
    assert all(words[0] == ".venv/bin/aftercare" for words in commands)
    return [" ".join(shlex.quote(w) for w in words[1:]) for words in commands]


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_the_readme_s_commands_run_as_written(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"} | {
        "PYTHONPATH": str(ROOT), "BOT_USERNAME": "aftercare_readme_bot",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'readme.db'}", "CLINIC_TIMEZONE": "Europe/Paris",
        "CONTENT_DIR": str(ROOT / "content"),
    }
    (tmp_path / "content").symlink_to(ROOT / "content")
    (tmp_path / "patients.csv").write_text(  # the columns its comment names
        "name,session_at,timezone,areas,phone,language,country\n"
        "Bea Roy,2026-11-20T11:30,Europe/Paris,face,,fr,FR\n", encoding="utf-8")
    assert run(["db", "upgrade"], tmp_path, env).returncode == 0
    commands = cli_block()
    assert len(commands) >= 10
    for command in commands:
        done = run(shlex.split(command), tmp_path, env)
        assert done.returncode == 0, (command, done.stdout[-500:], done.stderr[-500:])
    assert (tmp_path / "ana.png").read_bytes()[:4] == b"\x89PNG"


def test_the_quick_start_demo_runs_to_its_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"} | {
        "PYTHONPATH": str(ROOT)}
    done = run(["demo"], tmp_path, env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "0 violations" in done.stdout
    assert "…" not in done.stdout.replace("(…", "")  # whole messages, never cut
