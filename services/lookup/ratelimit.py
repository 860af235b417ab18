"""Lookups per jurisdiction, limited by a token bucket: ``burst`` at once, refilled at ``rate_per_minute``.

A limit per requesting state (the bearer token decides which) bounds how fast a state with lookup rights can
probe the index for guessed identities; the audit log shows every lookup made within it. The buckets live in
the memory of one service instance: with several instances each applies the limit on its own, so the
effective limit is the instance count times the setting (size it for that, or keep one instance).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    """One token bucket per key (a jurisdiction). Thread-safe."""

    def __init__(self, rate_per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = max(rate_per_minute, 0.0) / 60.0  # tokens per second
        self._burst = float(max(burst, 1))
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)
        self._lock = threading.Lock()

    def take(self, key: str) -> int | None:
        """Take one token for ``key``: None when there was one, else the whole seconds until there is
        (at least 1; the Retry-After of a refusal)."""
        with self._lock:
            now = self._clock()
            tokens, then = self._buckets.get(key, (self._burst, now))
            tokens = min(self._burst, tokens + (now - then) * self._rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
            if self._rate <= 0:
                return 3600
            return max(1, math.ceil((1.0 - tokens) / self._rate))
