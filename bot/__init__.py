"""Aftercare: Telegram follow-up for patients after a mesotherapy session."""

import os

# Opt in to python-telegram-bot's timedelta durations (RetryAfter.retry_after and friends);
# without it PTB 22 warns on every 429. The adapter accepts both forms.
os.environ.setdefault("PTB_TIMEDELTA", "1")
