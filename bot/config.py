"""Settings from the environment and `.env` (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.adapters.content_files import BUNDLED
from bot.core.ladder import ClinicHours


class Settings(BaseSettings):
    """Everything configurable; names are the environment variables, case-insensitive."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    bot_username: str | None = None
    database_url: str = "sqlite+aiosqlite:///aftercare.db"
    clinic_timezone: str = "Europe/London"
    content_dir: Path = BUNDLED
    # The language clinicians read (pings, summaries); patients each have their own. (Not
    # LANGUAGE: that is gettext's, often "en_GB:en" on a server.)
    clinic_language: str = Field(default="en", pattern=r"^[a-z]{2}$")
    token_ttl_days: float = Field(default=7, gt=0)
    dispatch_interval_seconds: float = Field(default=1, gt=0)  # bounds how late a send is
    rate_limit: bool = True  # pace sends under Telegram's limits (off only for benchmarks)
    send_per_second: float = Field(default=30, gt=0)
    send_chat_interval_seconds: float = Field(default=1.0, ge=0)
    send_group_per_minute: float = Field(default=20, gt=0)
    global_pace: bool | None = None  # share one pace between workers (default: on PostgreSQL)
    send_concurrency: int = Field(default=16, ge=1, le=256)
    claim_lease_seconds: float = Field(default=120, gt=0)
    heartbeat_stale_seconds: float = Field(default=6, gt=1)  # then a worker counts as dead
    claim_batch: int = Field(default=200, ge=1, le=5000)
    retry_base_seconds: float = Field(default=30, gt=0)  # first retry after a 5xx (pings: half)
    max_attempts: int = Field(default=5, ge=1, le=20)  # resends of a page that timed out
    receive_updates: bool = True  # false: a worker that only dispatches (several workers)
    webhook_url: str | None = None  # public HTTPS URL Telegram posts updates to
    webhook_listen: str = "0.0.0.0:8443"
    webhook_secret: SecretStr | None = None  # checked on every request Telegram makes
    # The clinic console and /healthz (host:port; "off": none). In webhook mode they are
    # served on WEBHOOK_LISTEN beside the webhook. HEALTH_LISTEN is its former name.
    console_listen: str = Field(default="127.0.0.1:8080", pattern=r"^(off|[^:]*:\d+)$",
                                validation_alias=AliasChoices("console_listen",
                                                              "health_listen"))
    console_url: str | None = None  # the public base URL in login links (default: the listen)
    log_level: str = "INFO"
    log_format: str = Field(default="text", pattern="^(text|json)$")  # json for production
    flood_burst: int = Field(default=20, ge=1)  # updates one user may send at once...
    flood_per_minute: float = Field(default=30, gt=0)  # ...then this many a minute
    clinic_hours: str = "Mon-Fri 09:00-18:00"
    ack_timeout_emergency_minutes: float = Field(default=5, gt=0)
    ack_timeout_urgent_minutes: float = Field(default=30, gt=0)
    reask_after_hours: float = Field(default=6, gt=0)
    missed_checkins_alert: int = Field(default=2, ge=1)
    storage_dir: Path = Path("data")
    # Where photos and voice notes are kept: "database" lets every worker read them (the
    # default on PostgreSQL), "files" keeps them under STORAGE_DIR/photos (SQLite's default).
    media_storage: str = Field(default="auto", pattern="^(auto|files|database)$")
    max_photo_mb: float = Field(default=10, gt=0, le=20)  # the Bot API serves files up to 20 MB
    telegram_local_files: bool = False  # read files from disk: a local Bot API server only
    emergency_hold_hours: float = Field(default=12, ge=0)  # no check-in until acknowledged
    voice_transcription: str = Field(default="moonshine", pattern="^(moonshine|off)$")
    voice_max_seconds: float = Field(default=120, gt=0, le=600)  # longer notes: their start
    voice_timeout_seconds: float = Field(default=30, gt=0)  # then the note counts as unheard
    max_voice_mb: float = Field(default=20, gt=0, le=20)  # Telegram's own download limit
    # Rehearsals and process tests only: every process of a run reads the same shifted time,
    # so a test chooses its hour instead of inheriting the machine's.
    clock_offset_seconds: float = 0

    @field_validator("clinic_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        ClinicHours.parse(value)
        return value

    @field_validator("clinic_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def console_base_url(self) -> str | None:
        """Where login links point (None: no console is served)."""
        if self.console_url:
            return self.console_url.rstrip("/")
        listen = self.webhook_listen if self.webhook_url else self.console_listen
        return None if listen == "off" else f"http://{listen}"

    @property
    def base_url(self) -> str:
        return f"{self.telegram_api_url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.telegram_api_url}/file/bot"
