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


def test_a_check_in_that_timed_out_is_not_resent_but_a_page_or_an_instruction_is() -> None:
    assert isinstance(decide(Kind.CHECKIN, Outcome.MAYBE_DELIVERED), Delivered)
    assert isinstance(decide(Kind.SUMMARY, Outcome.MAYBE_DELIVERED), Delivered)
    assert isinstance(decide(Kind.REPLY, Outcome.MAYBE_DELIVERED), Delivered)
    for kind in (Kind.PAGE, Kind.INSTRUCTION):
        again = decide(kind, Outcome.MAYBE_DELIVERED)
        assert again == Retry(NOW + timedelta(seconds=15), "timed out; resending")
    # Resends are bounded: a page then fails (the ladder moves on); an instruction that timed
    # out every time may well be on the phone.
    assert isinstance(decide(Kind.PAGE, Outcome.MAYBE_DELIVERED, 3), Failed)
    assert isinstance(decide(Kind.INSTRUCTION, Outcome.MAYBE_DELIVERED, 3), Delivered)


def test_server_errors_back_off_and_never_fail_a_row() -> None:
    assert decide(Kind.CHECKIN, Outcome.TRANSIENT, 1) == Retry(NOW + timedelta(seconds=30),
                                                               "retrying: boom")
    assert decide(Kind.CHECKIN, Outcome.TRANSIENT, 2) == Retry(NOW + timedelta(seconds=60),
                                                               "retrying: boom")
    # What someone waits for backs off from a second; every wait is capped (five minutes).
    for kind in (Kind.PAGE, Kind.REPLY, Kind.INSTRUCTION):
        assert decide(kind, Outcome.TRANSIENT, 1) == Retry(NOW + timedelta(seconds=1),
                                                           "retrying: boom")
        assert decide(kind, Outcome.TRANSIENT, 3) == Retry(NOW + timedelta(seconds=4),
                                                           "retrying: boom")
    for kind in Kind:
        late = decide(kind, Outcome.TRANSIENT, 40)
        assert late == Retry(NOW + timedelta(minutes=5), "retrying: boom")


def test_a_blocked_patient_stops_their_schedule_and_permanent_errors_fail_at_once() -> None:
    assert decide(Kind.CHECKIN, Outcome.BLOCKED) == Unreachable()
    for outcome in (Outcome.GONE, Outcome.REJECTED):
        assert decide(Kind.CHECKIN, outcome) == Failed("not delivered: boom")
        assert decide(Kind.PAGE, outcome) == Failed("boom")
    assert decide(Kind.PAGE, Outcome.BLOCKED) == Failed("boom")


@pytest.mark.parametrize("kind", list(Kind))
def test_sent_is_delivered(kind: Kind) -> None:
    assert decide(kind, Outcome.SENT) == Delivered()
