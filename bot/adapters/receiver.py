"""Long polling that confirms nothing it has not stored.

python-telegram-bot's updater moves the `getUpdates` offset past a batch as soon as it has
fetched it, so a process that dies holds the rest of the batch in memory only. Here the
offset moves past an update only once the inbox has stored it. While the database cannot
store them, updates stay unconfirmed (Telegram keeps them and sends them again), and red
flags among them are answered on receipt regardless (`bot.services.lifeline`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from telegram import Bot, Update
from telegram.error import Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter

from bot.services.inbox import Inbox

log = logging.getLogger(__name__)
LONG_POLL = 10  # seconds Telegram may hold a getUpdates open
OUTAGE_POLL = 1  # while the database is away: look again often, for new red flags
STORE_WITHIN = 5.0  # seconds a batch may take to store before it counts as an outage


class Poller:
    """Fetches updates, stores them, and only then confirms them."""

    def __init__(self, bot: Bot, inbox: Inbox, is_outage: Callable[[BaseException], bool]) -> None:
        self.bot = bot
        self.inbox = inbox
        self.is_outage = is_outage
        self.offset: int | None = None
        self._database_down = False

    async def run(self, stop: asyncio.Event) -> None:
        await self.bot.delete_webhook()
        while not stop.is_set():
            batch = await self._fetch()
            if batch:
                await self._store(batch)

    async def _fetch(self) -> list[dict[str, Any]]:
        timeout = OUTAGE_POLL if self._database_down else LONG_POLL
        try:
            updates = await self.bot.get_updates(
                offset=self.offset, timeout=timeout, allowed_updates=Update.ALL_TYPES
            )
        except RetryAfter as exc:
            await asyncio.sleep(_seconds(exc.retry_after))
            return []
        except Conflict:
            log.error("another process is polling this bot (409); retrying in 5 s")  # noqa: TRY400
            await asyncio.sleep(5)
            return []
        except (InvalidToken, Forbidden):
            raise  # the token is wrong or revoked: nothing to wait for
        except NetworkError as exc:
            log.debug("getUpdates failed: %s", exc)
            await asyncio.sleep(1)
            return []
        return [u.to_dict() for u in updates]

    async def _store(self, batch: list[dict[str, Any]]) -> None:
        try:  # bounded: while the database is slow, keep fetching (and answering red flags)
            await asyncio.wait_for(self.inbox.receive(batch), STORE_WITHIN)
        except Exception as exc:
            if not isinstance(exc, TimeoutError) and not self.is_outage(exc):
                raise
            if not self._database_down:  # one line per outage, not a traceback per poll
                log.error(  # noqa: TRY400
                    "database unreachable (%s): updates are not confirmed to Telegram until "
                    "stored; red flags are answered from memory", type(exc).__name__,
                )
                self._database_down = True
            await asyncio.sleep(0.5)  # red flags were answered on receipt (Inbox.receive)
            return
        if self._database_down:
            log.warning("database reachable again: the updates held meanwhile are stored")
            self._database_down = False
        self.offset = batch[-1]["update_id"] + 1  # confirms them at the next getUpdates


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]
