"""What operations read (issue 18): /healthz, /readyz and /metrics on the console's port."""

from __future__ import annotations

import re

from bot.rehearsal import Rehearsal
from bot.sandbox import Fault
from tests.conftest import paris
from tests.console_helpers import person, web


def value(scraped: str, name: str) -> float:
    """One sample's value in Prometheus' text format."""
    found = re.search(rf"^{re.escape(name)} (\S+)$", scraped, re.M)
    assert found, f"{name} not in:\n{scraped}"
    return float(found.group(1))


async def test_metrics_show_sends_429s_waiting_pages_and_triage(clinic: Rehearsal) -> None:
    r = clinic
    ana = r.server.user("Ana")
    r.clock.set(paris(2026, 11, 5, 10, 0))
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    r.server.inject("sendMessage", Fault.retry_after(1), chat_id=person(r, "Nurse").id)
    await r.say(ana, "my lips are swelling and my throat feels tight")
    await r.services.outbox.idle()
    r.clock.advance(minutes=3)
    async with web(r) as client:
        scraped = (await client.get("/metrics")).text
    # The patient's instruction went out; the nurse's page met a 429 and waits its turn.
    assert value(scraped, 'aftercare_sends_total{lane="instruction",outcome="ok"}') == 1
    assert value(scraped, 'aftercare_sends_total{lane="emergency",outcome="RateLimited"}') == 1
    assert value(scraped, "aftercare_telegram_429_total") == 1
    assert value(scraped, 'aftercare_due_rows{kind="ping"}') == 1
    assert value(scraped, 'aftercare_overdue_rows{kind="ping"}') == 1
    assert value(scraped, 'aftercare_unacknowledged_escalations{level="emergency"}') == 1
    assert value(scraped, 'aftercare_oldest_unacknowledged_seconds{level="emergency"}') == 180
    assert value(scraped, 'aftercare_unacknowledged_escalations{level="urgent"}') == 0
    assert value(scraped, "aftercare_triage_seconds_count") >= 1
    assert "aftercare_inbox_lag_seconds 0.0" in scraped
