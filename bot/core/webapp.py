"""Telegram Mini App init data: who opened the app, if Telegram signed it with our token.

Telegram's algorithm (core.telegram.org/bots/webapps, "Validating data received via the
Mini App"): the fields but `hash`, sorted, joined as `key=value` lines, HMAC-SHA256 under
HMAC-SHA256("WebAppData", bot token).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

SKEW = timedelta(minutes=-5)  # Telegram's clock a little ahead of ours


def init_data_user(init_data: str, bot_token: str, now: datetime,
                   max_age: timedelta = timedelta(minutes=5)) -> tuple[int, str] | None:
    """The Telegram user id in signed, fresh init data, and its signature (for single use);
    None for anything else."""
    if not bot_token:
        return None  # nothing can be checked: nobody signs in
    try:
        fields = dict(parse_qsl(init_data, keep_blank_values=True, strict_parsing=True))
    except ValueError:
        return None
    given = fields.pop("hash", "")
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    key = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, check.encode(), hashlib.sha256).hexdigest()
    if not given or not hmac.compare_digest(expected.encode(), given.encode()):
        return None
    try:
        signed_at = datetime.fromtimestamp(int(fields.get("auth_date", "")), now.tzinfo)
        user = json.loads(fields.get("user", ""))
        user_id = int(user["id"])
    except (ValueError, TypeError, KeyError, OverflowError):
        return None
    return (user_id, given) if SKEW <= now - signed_at <= max_age else None
