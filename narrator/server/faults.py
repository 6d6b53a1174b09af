"""Misbehaviour on purpose, reproducibly: `narrator serve --faults SPEC`.

SPEC is `name=probability` pairs and an optional `seed=N`, e.g.
`drop=0.1,close1011=0.05,http429=0.2,stall=0.05,garbage=0.05,seed=7`.
`http429` is decided at each handshake; the others before each generation,
at most one per generation.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from narrator.errors import ConfigError

GENERATION_FAULTS = ("drop", "close1011", "stall", "garbage")
HANDSHAKE_FAULTS = ("http429",)
KNOWN = GENERATION_FAULTS + HANDSHAKE_FAULTS


@dataclass
class FaultPlan:
    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    injected: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def at_handshake(self) -> str | None:
        return self._pick(HANDSHAKE_FAULTS)

    def at_generation(self) -> str | None:
        return self._pick(GENERATION_FAULTS)

    def _pick(self, names) -> str | None:
        roll = self._random.random()
        for name in names:
            rate = self.rates.get(name, 0.0)
            if roll < rate:
                self.injected[name] += 1
                return name
            roll -= rate
        return None


def parse_faults(spec: str | None) -> FaultPlan:
    plan = FaultPlan()
    if not spec:
        return plan
    rates, seed = {}, 0
    for item in spec.split(","):
        name, _, value = item.strip().partition("=")
        try:
            if name == "seed":
                seed = int(value)
                continue
            if name not in KNOWN:
                raise ValueError
            rates[name] = float(value)
            if not 0.0 <= rates[name] <= 1.0:
                raise ValueError
        except ValueError:
            raise ConfigError(
                f"--faults: bad item {item!r}; use name=probability (0..1) with names {', '.join(KNOWN)}, and seed=N"
            ) from None
    if sum(rates.get(n, 0) for n in GENERATION_FAULTS) > 1.0:
        raise ConfigError("--faults: generation fault probabilities add up to more than 1")
    return FaultPlan(rates, seed)
