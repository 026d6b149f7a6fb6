"""Every command the README shows runs as written (issue 17, point 7): its CLI block, in
order, against a fresh database; and the demo of its Quick start."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.procs import free_port

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


def test_the_quick_start_demo_runs_to_its_end_with_its_console(tmp_path: Path) -> None:
    """`make demo`'s rehearsal, then its console for a while: the printed link signs Dr
    Martin in and the worklist answers."""
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"} | {
        "PYTHONPATH": str(ROOT), "CONSOLE_LISTEN": f"127.0.0.1:{free_port()}"}
    demo = subprocess.Popen([sys.executable, "-m", "bot", "demo", "--console-for", "10"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert demo.stdout is not None
    lines = []
    for line in demo.stdout:
        lines.append(line)
        found = re.search(r"open (http://\S+/login/\S+) to sign in", line)
        if found:
            worklist = sign_in(found.group(1))
            assert "Open escalations" in worklist
            break
    rest, errors = demo.communicate(timeout=300)
    out = "".join(lines) + rest
    assert demo.returncode == 0, errors[-2000:]
    assert found, out[-2000:]
    assert "0 violations" in out
    assert "…" not in out.replace("(…", "")  # whole messages, never cut


def sign_in(link: str) -> str:
    """Press the link's Sign in button as a browser would; the page it leads to."""
    jar = urllib.request.HTTPCookieProcessor()
    opener = urllib.request.build_opener(jar)
    with opener.open(link, timeout=10) as page:
        assert b"Sign in" in page.read()
    with opener.open(urllib.request.Request(link, data=b"", method="POST"), timeout=10) as home:
        return home.read().decode()
