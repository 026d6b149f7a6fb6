"""The import contracts bite: a probe that breaks a layer makes `lint-imports` fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True,
        check=False, timeout=120,
    )


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    for name in ("bot", "scheduler"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def probe(tree: Path, module: str, line: str) -> tuple[Path, str]:
    path = tree / module
    original = path.read_text()
    path.write_text(original + f"\n{line}  # probe\n")
    return path, original


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("bot/services/stats.py", "import bot.adapters.telegram_io"),
        ("bot/core/rules.py", "import bot.adapters.content_files"),
        ("bot/services/stats.py", "import bot.store.db"),
        ("bot/handlers/patient.py", "import bot.store.uow"),
        ("bot/store/models.py", "import bot.services.stats"),
    ],
)
def test_a_probe_across_a_layer_breaks_the_build(copy: Path, module: str, line: str) -> None:
    assert lint(copy).returncode == 0, "the contracts must hold on the tree as it is"
    path, original = probe(copy, module, line)
    try:
        result = lint(copy)
    finally:
        path.write_text(original)
    assert result.returncode != 0, f"{line!r} in {module} passed every contract"
    assert "BROKEN" in result.stdout
