"""Logging for operations: level and format from the settings, secrets redacted.

What the code logs is ids and counts (patient 12, update 345), never names or words: health
details stay in the database. The filter below is a second line, for secrets that a library
might put in a message or a traceback (httpx puts the token in URLs).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any


class Redact(logging.Filter):
    """Removes secrets (the bot token, the webhook secret) from messages and tracebacks."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        for secret in self.secrets:
            message = message.replace(secret, "[redacted]")
            if record.exc_text:
                record.exc_text = record.exc_text.replace(secret, "[redacted]")
        record.msg, record.args = message, ()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["traceback"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: str, fmt: str, secrets: list[str]) -> None:
    """Set up the root logger once, for `aftercare run` and the CLI."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(Redact(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs request URLs, which contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # At DEBUG, python-telegram-bot logs whole updates and requests: patients' words.
    logging.getLogger("telegram").setLevel(max(root.level, logging.INFO))
    # At INFO and below, SQLAlchemy's engine logs statements and result rows.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    # APScheduler logs every tick at INFO and every skipped overlapping tick (by design, with
    # max_instances=1) as a warning; its errors still show.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
