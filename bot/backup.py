"""`aftercare backup FILE` and `aftercare restore FILE`: the database and the media in one
archive. A backup is consistent while the bot runs (SQLite's online backup API, or
`pg_dump`'s snapshot); a restore wants the workers stopped."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.store.migrate import head

MANIFEST = "manifest.json"
SQLITE = "database.sqlite3"
PGDUMP = "database.pgdump"
MEDIA = "media"


class BackupError(Exception):
    """What went wrong, in words a person can act on."""


def _sqlite_path(settings: Settings) -> Path | None:
    url = make_url(settings.database_url)
    if not url.drivername.startswith("sqlite"):
        return None
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(url.database)


def _pg_url(settings: Settings) -> str:
    """The URL as libpq's tools read it (no SQLAlchemy driver name)."""
    url = make_url(settings.database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"PostgreSQL backups need {name}, which is not installed here "
                          "(Debian: apt-get install postgresql-client, the server's version)")
    return found


def _media_dir(settings: Settings) -> Path:
    return Path(settings.storage_dir) / "photos"


def backup(settings: Settings, target: Path) -> dict[str, object]:
    """Write the archive; what it holds."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sqlite_path = _sqlite_path(settings)
        if sqlite_path is not None:
            if not sqlite_path.exists():
                raise BackupError(f"no database at {sqlite_path}")
            source = sqlite3.connect(sqlite_path)
            copy = sqlite3.connect(work / SQLITE)
            try:
                source.backup(copy)  # a consistent copy, writers carry on meanwhile
            finally:
                copy.close()
                source.close()
            dump, dialect = work / SQLITE, "sqlite"
        else:
            dump, dialect = work / PGDUMP, "postgresql"
            done = subprocess.run([_tool("pg_dump"), "--format=custom", "--no-owner",
                                   f"--file={dump}", f"--dbname={_pg_url(settings)}"],
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {done.stderr.strip()[-500:]}")
        media = _media_dir(settings)
        files = sorted(p for p in media.rglob("*") if p.is_file()) if media.is_dir() else []
        manifest = {"created_at": datetime.now(UTC).isoformat(), "dialect": dialect,
                    "schema": head(), "media_files": len(files)}
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        with tarfile.open(partial, "w:gz") as archive:
            data = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
            archive.add(dump, arcname=dump.name)
            for path in files:
                archive.add(path, arcname=f"{MEDIA}/{path.relative_to(media)}")
        partial.replace(target)  # a crash never leaves half an archive under its name
    return manifest


def restore(settings: Settings, source: Path) -> dict[str, object]:
    """Put the archive's database and media back (the workers stopped); its manifest."""
    if not source.is_file():
        raise BackupError(f"no archive at {source}")
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(source, "r:gz") as archive:
        work = Path(tmp)
        archive.extractall(work, filter="data")  # no absolute paths, links or devices
        manifest = json.loads((work / MANIFEST).read_text(encoding="utf-8"))
        sqlite_path = _sqlite_path(settings)
        if (manifest["dialect"] == "sqlite") != (sqlite_path is not None):
            raise BackupError(f"the archive holds a {manifest['dialect']} database; "
                              "DATABASE_URL names another kind")
        if sqlite_path is not None:
            sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            copy = sqlite3.connect(work / SQLITE)
            into = sqlite3.connect(sqlite_path)
            try:
                copy.backup(into)  # replaces every page of the live file, in place
            finally:
                into.close()
                copy.close()
        else:
            done = subprocess.run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner",
                                   "--single-transaction", f"--dbname={_pg_url(settings)}",
                                   str(work / PGDUMP)], capture_output=True, text=True,
                                  check=False)
            if done.returncode != 0:
                raise BackupError(f"pg_restore failed: {done.stderr.strip()[-500:]}")
        media = _media_dir(settings)
        if (work / MEDIA).is_dir():
            if media.exists():
                shutil.rmtree(media)
            shutil.copytree(work / MEDIA, media)
    return dict(manifest)
