"""The photo store: patients' originals in a folder (STORAGE_DIR), one sub-folder each."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

_SAFE = re.compile(r"[^A-Za-z0-9_-]")


class PhotoStore:
    """Files under one root; names are built here, never taken from users."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError("path outside the photo store")
        return path

    async def save(self, patient_id: int, name: str, data: bytes, extension: str) -> str:
        """Write a photo; returns its path relative to the store."""
        relative = media_path(patient_id, name, extension)
        path = self._path(relative)
        await asyncio.to_thread(_write, path, data)
        return relative

    async def read(self, relative: str) -> bytes:
        return await asyncio.to_thread(self._path(relative).read_bytes)

    async def delete_patient(self, patient_id: int) -> None:
        folder = self._path(f"patient-{patient_id}")
        await asyncio.to_thread(_remove_tree, folder)


def media_path(patient_id: int, name: str, extension: str) -> str:
    """Where a patient's photo or note is kept, built from ids and cleaned names only."""
    return f"patient-{patient_id}/{_SAFE.sub('_', name)}.{_SAFE.sub('', extension)}"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)  # a crash never leaves half a photo under the real name


def _remove_tree(folder: Path) -> None:
    if folder.is_dir():
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()
