"""Per-user token buckets: a flood from one person is slowed without slowing anyone else."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_TRACKED = 100_000  # idle buckets are dropped beyond this many users


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float
    warned: bool = False


@dataclass
class FloodLimit:
    """`burst` updates at once, then `per_minute`; times are seconds on one clock."""

    burst: int
    per_minute: float
    _buckets: dict[int, _Bucket] = field(default_factory=dict)

    def take(self, user_id: int, now: float) -> bool:
        """Count one update from `user_id`; False when they are over the limit."""
        bucket = self._buckets.get(user_id)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED:
                self._forget_idle(now)
            bucket = self._buckets[user_id] = _Bucket(float(self.burst), now)
        # Times may arrive out of order (a backlog's send times beside a press's "now").
        bucket.tokens = min(
            float(self.burst), bucket.tokens + max(0.0, now - bucket.at) * self.per_minute / 60
        )
        bucket.at = max(bucket.at, now)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.warned = False
            return True
        return False

    def first_refusal(self, user_id: int) -> bool:
        """True once per flood: whether to tell this user to slow down."""
        bucket = self._buckets.get(user_id)
        if bucket is None or bucket.warned:
            return False
        bucket.warned = True
        return True

    def _forget_idle(self, now: float) -> None:
        full = self.burst * 60 / self.per_minute  # seconds for an empty bucket to refill
        for user_id in [u for u, b in self._buckets.items() if now - b.at >= full]:
            del self._buckets[user_id]
        if len(self._buckets) >= MAX_TRACKED:  # still full: drop the oldest half
            oldest = sorted(self._buckets, key=lambda u: self._buckets[u].at)
            for user_id in oldest[: len(oldest) // 2]:
                del self._buckets[user_id]
