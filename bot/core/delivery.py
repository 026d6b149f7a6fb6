"""The delivery policy: what each Telegram outcome means for each kind of message.

One table for every sender: the dispatcher's check-ins, pages and summaries. The reply column
is the policy replies will follow once they are outbox rows (issue 12); today a reply is sent
once, in the handler.

| outcome          | check-in                    | page                 | summary    | reply      |
|------------------|-----------------------------|----------------------|------------|------------|
| sent             | delivered                   | delivered            | delivered  | delivered  |
| 429              | retry after `retry_after`, not counted as an attempt, for every kind        |
| timed out        | delivered, not resent       | resent (counted)     | delivered  | delivered  |
| 5xx / network    | retry, backoff from the base, doubling; failed after `max_attempts`         |
| 403 blocked      | unreachable: stop schedule  | failed               | failed     | failed     |
| 400 / not found  | failed, the clinic told     | failed               | failed     | failed     |

A page's backoff starts from half the base (the same delays as a check-in's, one step
earlier), and a page that timed out is resent after half the base: pages are urgent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Kind(StrEnum):
    """What is being delivered."""

    CHECKIN = "check-in"
    PAGE = "page"
    SUMMARY = "summary"
    REPLY = "reply"


class Outcome(StrEnum):
    """What Telegram answered (the messenger's error tree, as plain values)."""

    SENT = "sent"
    RATE_LIMITED = "rate limited"
    MAYBE_DELIVERED = "timed out"
    BLOCKED = "blocked"
    GONE = "chat not found"
    REJECTED = "rejected"
    TRANSIENT = "transient"


@dataclass(frozen=True, slots=True)
class Delivered:
    """Record as sent (`note` says when it may not have arrived)."""

    note: str | None = None


@dataclass(frozen=True, slots=True)
class Retry:
    """Send again at `at`; `counted` says whether this try counts against the attempts."""

    at: datetime
    reason: str
    counted: bool = True


@dataclass(frozen=True, slots=True)
class Failed:
    """Will not be delivered; `reason` is recorded."""

    reason: str


@dataclass(frozen=True, slots=True)
class Unreachable:
    """The person blocked the bot: stop writing to them and tell the clinic."""


Decision = Delivered | Retry | Failed | Unreachable

_PERMANENT = frozenset({Outcome.GONE, Outcome.REJECTED})
PERMANENT = _PERMANENT | {Outcome.BLOCKED}  # never worth retrying, whatever the kind


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """The table above, with the clinic's retry settings."""

    retry_base: timedelta = timedelta(seconds=30)
    max_attempts: int = 5

    def decide(
        self,
        kind: Kind,
        outcome: Outcome,
        *,
        attempts: int,
        now: datetime,
        retry_after: float = 0.0,
        error: str = "",
    ) -> Decision:
        """The decision for one try; `attempts` counts this one."""
        if outcome is Outcome.SENT:
            return Delivered()
        if outcome is Outcome.RATE_LIMITED:  # Telegram's pacing is not the message's fault
            return Retry(now + timedelta(seconds=retry_after), error, counted=False)
        if kind is Kind.CHECKIN:
            return self._checkin(outcome, attempts, now, error)
        return self._other(kind, outcome, attempts, now, error)

    def _checkin(self, outcome: Outcome, attempts: int, now: datetime, error: str) -> Decision:
        if outcome is Outcome.MAYBE_DELIVERED:  # a duplicate check-in is not worth it
            return Delivered("timed out: may not have been delivered; not resent")
        if outcome is Outcome.BLOCKED:
            return Unreachable()
        if outcome in _PERMANENT:
            return Failed(f"not delivered: {error}")
        if attempts < self.max_attempts:
            delay = self.retry_base * 2 ** (attempts - 1)
            return Retry(now + delay, f"retrying: {error}")
        return Failed(f"gave up after retries: {error}")

    def _other(
        self, kind: Kind, outcome: Outcome, attempts: int, now: datetime, error: str
    ) -> Decision:
        base = self.retry_base / 2
        if outcome is Outcome.BLOCKED or outcome in _PERMANENT:
            return Failed(error)
        if outcome is Outcome.MAYBE_DELIVERED:
            if kind is not Kind.PAGE:
                return Delivered("timed out")
            delay, reason = base, "timed out; resending"  # a page must arrive
        else:
            delay, reason = base * 2**attempts, error
        if attempts >= self.max_attempts:
            return Failed(f"gave up: {reason}")
        return Retry(now + delay, reason)
