"""How many sessions may generate at once: additive increase, multiplicative
decrease, as TCP does with its window. Pure arithmetic; the pool holds the
clock and the waiting.

A rate-limit signal halves the limit. Several sessions usually hit the same
limit within moments of each other, so signals closer together than
`cooldown` seconds count as one. After the limit has worked through a full
round of segments without a signal (as many as the limit), it grows by one,
never above the ceiling the user gave.
"""

from __future__ import annotations


class Aimd:
    def __init__(self, ceiling: int, *, cooldown: float = 2.0):
        self.ceiling = ceiling
        self.limit = ceiling
        self.lowest = ceiling
        self.cuts = 0
        self._cooldown = cooldown
        self._last_cut: float | None = None
        self._successes = 0

    def on_success(self) -> None:
        self._successes += 1
        if self._successes >= self.limit and self.limit < self.ceiling:
            self.limit += 1
            self._successes = 0

    def on_rate_limit(self, now: float) -> bool:
        """Returns whether the limit was cut (False inside the cooldown)."""
        if self._last_cut is not None and now - self._last_cut < self._cooldown:
            return False
        self._last_cut = now
        self.limit = max(1, self.limit // 2)
        self.lowest = min(self.lowest, self.limit)
        self.cuts += 1
        self._successes = 0
        return True

    def summary(self) -> str:
        if not self.cuts:
            return f"concurrency {self.limit} throughout"
        return (f"concurrency settled at {self.limit} of {self.ceiling} "
                f"(lowest {self.lowest}, cut {self.cuts} time{'s' if self.cuts != 1 else ''} on rate limits)")
