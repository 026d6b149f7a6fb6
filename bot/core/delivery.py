"""The delivery policy: what each Telegram outcome means for each kind of message.

One table for every sender: the dispatcher's check-ins, pages and summaries, and the outbox
(replies, edits and the instruction to call emergency services).

| outcome         | check-in              | page      | summary   | reply     | instruction |
|-----------------|-----------------------|-----------|-----------|-----------|-------------|
| sent            | delivered             | delivered | delivered | delivered | delivered   |
| 429             | retry after `retry_after`, not counted as an attempt, for every kind |
| timed out       | delivered, not resent | resent    | delivered | delivered | resent      |
| 5xx / network   | retry with backoff (base, doubling, capped), never failed            |
| 403 blocked     | unreachable           | failed    | failed    | failed    | failed      |
| 400 / not found | failed, clinic told   | failed    | failed    | failed    | failed      |

Transient failures never fail a row: it waits until Telegram answers or it is no longer
current (each sender knows when that is), and the first successful call after an outage
makes every waiting row due at once (`RETRYING` marks them). What someone is waiting for
(pages, replies, instructions) backs off from one second, not from the base. A resend after
a timeout (pages and instructions, half the base later) is bounded by
`max_attempts`: a page then fails (the ladder moves on), an instruction counts as delivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

RETRYING = "retrying: "  # how the reason of a row waiting out a transient failure begins


class Kind(StrEnum):
    """What is being delivered."""

    CHECKIN = "check-in"
    PAGE = "page"
    SUMMARY = "summary"
    REPLY = "reply"
    INSTRUCTION = "instruction"  # to call emergency services


URGENT = frozenset({Kind.PAGE, Kind.INSTRUCTION})
PEOPLE_WAIT = URGENT | {Kind.REPLY}  # someone is waiting for it: retried within seconds


class Lane(StrEnum):
    """Which queue a message waits in for Telegram's pace: emergencies first, routine last."""

    INSTRUCTION = "instruction"  # to call emergency services: not even the chat's gap waits
    EMERGENCY = "emergency"  # pages
    NORMAL = "normal"  # replies, edits
    ROUTINE = "routine"  # check-ins


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
    max_attempts: int = 5  # resends after a timeout
    retry_cap: timedelta = timedelta(minutes=5)  # the longest wait between transient retries
    reply_base: timedelta = timedelta(seconds=1)  # first retry of what someone waits for

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
        return self._backoff(self.retry_base, attempts, now, error)

    def _other(
        self, kind: Kind, outcome: Outcome, attempts: int, now: datetime, error: str
    ) -> Decision:
        urgent = kind in URGENT
        base = self.reply_base if kind in PEOPLE_WAIT else self.retry_base
        if outcome is Outcome.BLOCKED or outcome in _PERMANENT:
            return Failed(error)
        if outcome is not Outcome.MAYBE_DELIVERED:
            return self._backoff(base, attempts, now, error)
        if not urgent:
            return Delivered("timed out")
        if attempts < self.max_attempts:  # it must arrive: resend
            return Retry(now + self.retry_base / 2, "timed out; resending")
        if kind is Kind.INSTRUCTION:
            return Delivered(f"timed out {attempts} times; may have arrived")
        return Failed("gave up: timed out; resending")

    def _backoff(self, base: timedelta, attempts: int, now: datetime, error: str) -> Retry:
        delay = min(base * 2 ** min(attempts - 1, 16), self.retry_cap)
        return Retry(now + delay, f"{RETRYING}{error}")
