"""The deployment files in `deploy/` (issue 18, point 7): the unit passes
`systemd-analyze verify`, and the environment example names only real settings, with
values they accept."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def test_the_environment_example_names_only_settings_and_loads() -> None:
    example = DEPLOY / "aftercare.env.example"
    keys = re.findall(r"^([A-Z_]+)=", example.read_text(encoding="utf-8"), re.M)
    known = {name.upper() for name in Settings.model_fields} | {"HEALTH_LISTEN"}
    assert keys
    assert [k for k in keys if k not in known] == []
    settings = Settings(_env_file=example)  # type: ignore[call-arg]
    assert settings.webhook_url == "https://aftercare.example-clinic.fr/telegram"
    assert settings.console_base_url == "https://aftercare.example-clinic.fr"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    unit = (DEPLOY / "aftercare.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/aftercare/.venv/bin/aftercare run" in unit
    # Verified as installed: the project where the unit expects it (here, this checkout).
    placed = tmp_path / "aftercare.service"
    placed.write_text(unit.replace("/opt/aftercare", str(ROOT)), encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", str(placed)], capture_output=True,
                          text=True, timeout=60, check=False)
    problems = [line for line in (done.stdout + done.stderr).splitlines()
                if "aftercare.service" in line]
    assert problems == []
    assert done.returncode == 0
