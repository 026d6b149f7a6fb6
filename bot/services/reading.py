"""The triage readers of the running content, and which languages to read words in."""

from __future__ import annotations

import logging

from bot.core.language import reading_order
from bot.core.model import Level
from bot.core.triage import Readers
from bot.core.triage.text import patient_words
from bot.services.common import Deps

log = logging.getLogger(__name__)
MAX_TRIAGE_CHARS = 4096  # Telegram's longest message


class Reading:
    """Readers compiled from the content, compiled again when an upload changes it."""

    def __init__(self, deps: Deps) -> None:
        self.d = deps
        self._readers = Readers(deps.lexicons, deps.content.language)
        self._of = deps.library  # the content they were compiled from

    @property
    def readers(self) -> Readers:
        if self._of is not self.d.library:
            self._readers = Readers(self.d.lexicons, self.d.content.language)
            self._of = self.d.library
        return self._readers

    def order(self, text: str, own: str) -> tuple[list[str], str | None]:
        """The languages to read words in, and theirs when the engine reads none."""
        readers = self.readers
        if self.d.languages is None or not text.strip():
            return [own], None
        try:
            return reading_order(text, guess=self.d.languages.guess(text),
                                 read=readers.read, knows=readers.knows, own=own,
                                 clinic=self.d.content.language)
        except Exception:  # odd input met by new code must not stop a message being read
            log.exception("language of a message of %d characters not found", len(text))
            return sorted(readers.read, key=lambda code: code != own), None

    def is_red_flag(self, words: str, own: str = "") -> bool:
        """Whether a message reads as an emergency (the flood gate lets those through)."""
        text = patient_words(words)[:MAX_TRIAGE_CHARS]
        order, _ = self.order(text, own)
        return self.readers.read_in(order, text, day=1).assessment.level is Level.EMERGENCY
