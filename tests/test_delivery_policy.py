"""The one delivery policy: each Telegram outcome, for each kind of message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.delivery import (
    Delivered,
    DeliveryPolicy,
    Failed,
    Kind,
    Outcome,
    Retry,
    Unreachable,
)

NOW = datetime(2026, 11, 3, 9, tzinfo=UTC)
POLICY = DeliveryPolicy(retry_base=timedelta(seconds=30), max_attempts=3)


def decide(kind: Kind, outcome: Outcome, attempts: int = 1, **kw: object) -> object:
    return POLICY.decide(kind, outcome, attempts=attempts, now=NOW, error="boom", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", list(Kind))
def test_a_429_waits_as_told_and_never_counts_as_an_attempt(kind: Kind) -> None:
    decision = decide(kind, Outcome.RATE_LIMITED, attempts=3, retry_after=7.0)
    assert decision == Retry(NOW + timedelta(seconds=7), "boom", counted=False)


def test_a_check_in_that_timed_out_is_not_resent_but_a_page_is() -> None:
    assert isinstance(decide(Kind.CHECKIN, Outcome.MAYBE_DELIVERED), Delivered)
    assert isinstance(decide(Kind.SUMMARY, Outcome.MAYBE_DELIVERED), Delivered)
    page = decide(Kind.PAGE, Outcome.MAYBE_DELIVERED)
    assert page == Retry(NOW + timedelta(seconds=15), "timed out; resending")


def test_server_errors_back_off_then_give_up() -> None:
    assert decide(Kind.CHECKIN, Outcome.TRANSIENT, 1) == Retry(NOW + timedelta(seconds=30),
                                                               "retrying: boom")
    assert decide(Kind.CHECKIN, Outcome.TRANSIENT, 2) == Retry(NOW + timedelta(seconds=60),
                                                               "retrying: boom")
    assert decide(Kind.CHECKIN, Outcome.TRANSIENT, 3) == Failed("gave up after retries: boom")
    assert decide(Kind.PAGE, Outcome.TRANSIENT, 1) == Retry(NOW + timedelta(seconds=30), "boom")
    assert decide(Kind.PAGE, Outcome.TRANSIENT, 3) == Failed("gave up: boom")


def test_a_blocked_patient_stops_their_schedule_and_permanent_errors_fail_at_once() -> None:
    assert decide(Kind.CHECKIN, Outcome.BLOCKED) == Unreachable()
    for outcome in (Outcome.GONE, Outcome.REJECTED):
        assert decide(Kind.CHECKIN, outcome) == Failed("not delivered: boom")
        assert decide(Kind.PAGE, outcome) == Failed("boom")
    assert decide(Kind.PAGE, Outcome.BLOCKED) == Failed("boom")


@pytest.mark.parametrize("kind", list(Kind))
def test_sent_is_delivered(kind: Kind) -> None:
    assert decide(kind, Outcome.SENT) == Delivered()
