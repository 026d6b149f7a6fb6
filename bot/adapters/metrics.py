"""Prometheus metrics (prometheus-client): counters and timings as they happen, and what is
waiting read from the database when `/metrics` is scraped."""

from __future__ import annotations

import time
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.core.backlog import Backlog

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class PrometheusMetrics:
    """`bot.services.ports.Metrics` in Prometheus' format, in a registry of its own."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.sends = Counter("aftercare_sends", "Bot API sends by lane and outcome",
                             ["lane", "outcome"], registry=r)
        self.limited = Counter("aftercare_telegram_429", "429 answers from Telegram",
                               registry=r)
        self.pause = Gauge("aftercare_telegram_pause_seconds",
                           "What is left of the pause Telegram last asked for", registry=r)
        self.triage = Histogram("aftercare_triage_seconds", "Triage of one message",
                                buckets=(.0005, .001, .002, .005, .01, .02, .05, .1, .5),
                                registry=r)
        self.transcription = Histogram(
            "aftercare_transcription_seconds", "Transcription of one voice note",
            buckets=(.5, 1, 2, 5, 10, 20, 30, 60), registry=r)
        self.db_errors = Counter("aftercare_database_errors",
                                 "Heartbeats the database did not take", registry=r)
        self.due = Gauge("aftercare_due_rows", "Rows due now, by kind", ["kind"], registry=r)
        self.overdue = Gauge("aftercare_overdue_rows", "Rows due for over a minute, by kind",
                             ["kind"], registry=r)
        self.oldest_due = Gauge("aftercare_oldest_due_seconds",
                                "How late the oldest due row is, by kind", ["kind"], registry=r)
        self.unacked = Gauge("aftercare_unacknowledged_escalations",
                             "Open escalations nobody acknowledged, by level", ["level"],
                             registry=r)
        self.oldest_unacked = Gauge("aftercare_oldest_unacknowledged_seconds",
                                    "Age of the oldest unacknowledged escalation, by level",
                                    ["level"], registry=r)
        self.inbox_waiting = Gauge("aftercare_inbox_waiting", "Updates stored, not yet handled",
                                   registry=r)
        self.inbox_lag = Gauge("aftercare_inbox_lag_seconds",
                               "Age of the oldest update not yet handled", registry=r)
        self.heartbeat = Gauge("aftercare_worker_heartbeat_age_seconds",
                               "Time since each worker's last heartbeat", ["worker"],
                               registry=r)
        self._paused_until = 0.0

    def sent(self, lane: str, outcome: str) -> None:
        self.sends.labels(lane, outcome).inc()

    def rate_limited(self, retry_after: float) -> None:
        self.limited.inc()
        self._paused_until = max(self._paused_until, time.monotonic() + retry_after)

    def triaged(self, seconds: float) -> None:
        self.triage.observe(seconds)

    def transcribed(self, seconds: float) -> None:
        self.transcription.observe(seconds)

    def database_error(self) -> None:
        self.db_errors.inc()

    def render(self, backlog: Backlog | None, now: datetime) -> bytes:
        """The exposition text; the gauges of what is waiting from `backlog` (None: the
        database did not answer, and they are left out rather than shown stale)."""
        self.pause.set(max(0.0, self._paused_until - time.monotonic()))
        for gauge in (self.due, self.overdue, self.oldest_due, self.unacked,
                      self.oldest_unacked, self.heartbeat):
            gauge.clear()
        if backlog is not None:
            for d in backlog.due:
                self.due.labels(d.kind).set(d.due)
                self.overdue.labels(d.kind).set(d.overdue)
                self.oldest_due.labels(d.kind).set(
                    (now - d.oldest_due_at).total_seconds() if d.oldest_due_at else 0)
            for level in ("emergency", "urgent", "routine"):
                found = next((u for u in backlog.unacknowledged if u.level == level), None)
                self.unacked.labels(level).set(found.count if found else 0)
                self.oldest_unacked.labels(level).set(
                    (now - found.oldest_at).total_seconds() if found and found.oldest_at else 0)
            self.inbox_waiting.set(backlog.inbox_waiting)
            self.inbox_lag.set((now - backlog.inbox_oldest_at).total_seconds()
                               if backlog.inbox_oldest_at else 0)
            for worker, beat in backlog.heartbeats:
                self.heartbeat.labels(worker).set((now - beat).total_seconds())
        return generate_latest(self.registry)
