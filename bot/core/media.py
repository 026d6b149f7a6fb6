"""What a file is, from its first bytes (the `filetype` library's signatures): a name or a
claimed MIME type says nothing about the bytes behind it."""

from __future__ import annotations

import filetype  # type: ignore[import-untyped]

# filetype names a few types differently from what Telegram and browsers use.
ALIASES = {"audio/x-wav": "audio/wav", "audio/x-flac": "audio/flac", "audio/m4a": "audio/mp4"}


def sniff(data: bytes) -> str | None:
    """The MIME type the bytes carry; None when they match no known signature."""
    kind = filetype.guess_mime(data[:8192])
    return ALIASES.get(kind, kind) if isinstance(kind, str) else None
