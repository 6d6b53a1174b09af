"""Character budgets: how much a run may send before it stops.

A budget is asked before every request, and spent as its text goes on the
wire, retries included, since the service bills each one; a connection the
service refuses spends nothing. Once a request does not fit, the budget closes:
nothing more is sent, not even a smaller segment, so a run stops at one
clear place and the next run starts from there.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Budget:
    limit: int | None  # characters; None: no limit of its own
    parent: Budget | None = None  # a run's budget around a job's
    spent: int = 0
    closed: bool = False

    def fits(self, characters: int) -> bool:
        """Whether `characters` fit here and in every enclosing budget; the
        budget that refuses closes (a job's alone, or the whole run's)."""
        for budget in self._chain():
            if budget.closed or (budget.limit is not None and budget.spent + characters > budget.limit):
                budget.closed = True
                return False
        return True

    def take(self, characters: int) -> bool:
        """Spend `characters`, as they go on the wire, if they fit."""
        if not self.fits(characters):
            return False
        for budget in self._chain():
            budget.spent += characters
        return True

    @property
    def left(self) -> int | None:
        lefts = [b.limit - b.spent for b in self._chain() if b.limit is not None]
        return min(lefts) if lefts else None

    def _chain(self):
        budget: Budget | None = self
        while budget is not None:
            yield budget
            budget = budget.parent
