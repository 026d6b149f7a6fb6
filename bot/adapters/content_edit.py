"""The content folder, edited from the console: checked on a copy, replaced atomically, the
old file kept in `.history/` beside it."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from bot.adapters.content_files import ContentError, load_library
from bot.core.library import Library

HISTORY = ".history"
MAX_BYTES = 512 * 1024  # a content file is a few KB; a lexicon a few dozen


class ContentFolder:
    """`bot.services.ports.ContentFiles` over a folder on disk (shared by the workers)."""

    def __init__(self, folder: Path, clinic_language: str) -> None:
        self.folder = Path(folder)
        self.clinic_language = clinic_language

    def names(self) -> list[str]:
        return sorted(str(p.relative_to(self.folder)) for p in self.folder.rglob("*.yaml")
                      if HISTORY not in p.parts)

    def _path(self, name: str) -> Path:
        if name not in self.names():  # only a file that is there: no path of the caller's
            raise KeyError(name)
        return self.folder / name

    def read(self, name: str) -> str:
        return self._path(name).read_text(encoding="utf-8")

    def check(self, name: str, text: str) -> list[str]:
        target = self._path(name)
        if len(text.encode()) > MAX_BYTES:
            return [f"{name}: larger than {MAX_BYTES // 1024} KB"]
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "content"
            shutil.copytree(self.folder, copy, ignore=shutil.ignore_patterns(HISTORY))
            (copy / target.relative_to(self.folder)).write_text(text, encoding="utf-8")
            try:
                load_library(copy, self.clinic_language)
            except ContentError as exc:
                return [str(p).replace(str(copy) + os.sep, "") for p in exc.problems]
            except Exception as exc:  # an empty file, a recursive alias: refused, not a crash
                return [f"{name}: cannot be read as content ({type(exc).__name__})"]
        return []

    def apply(self, name: str, text: str, at: datetime) -> Library:
        target = self._path(name)
        kept = self.folder / HISTORY / f"{name}.{at:%Y%m%dT%H%M%S}"
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(target, kept)
        fresh = target.with_suffix(".yaml.new")
        fresh.write_text(text, encoding="utf-8")
        fresh.replace(target)  # atomic: a worker reading it sees the old file or the new
        return self.current()

    def history(self, name: str) -> list[str]:
        self._path(name)
        kept = (self.folder / HISTORY / name).parent
        stem = Path(name).name
        return sorted((p.name.removeprefix(stem + ".") for p in kept.glob(f"{stem}.*")),
                      reverse=True) if kept.exists() else []

    def current(self) -> Library:
        return load_library(self.folder, self.clinic_language)
