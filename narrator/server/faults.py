"""Misbehaviour on purpose, reproducibly: `narrator serve --faults SPEC`.

SPEC is comma-separated `name=value` items, e.g.
`drop=0.1,close1011=0.05,http429=0.2,stall=0.05,garbage=0.05,nullalign=0.2,quota=20000,seed=7`.

- `http429=P`: refuse a handshake with HTTP 429.
- Per request (the generations one message asks for: a whole segment when
  it ends with a flush), at most one of these, striking its last generation
  (each `name=P`, a probability):
  `drop` (the connection is cut), `close1011` (closed with 1011), `stall`
  (nothing more is sent), `garbage` (a frame that is not the protocol's),
  `busy` (the service's "too many concurrent requests" error, then a close),
  `nullalign` (audio without alignment), `truncate` (audio for only the
  first third of the text, as services sometimes do silently).
- `quota=N`: after N characters in all, every generation is refused with
  the service's quota error.
- `poison=TEXT`: every request whose first generation holds TEXT is taken,
  and then closed with 1011 before its audio is complete: a segment the
  service fails the same way every time, whatever is retried.
- `seed=N`: the dice. A request's fault depends only on the seed, the text
  of its first generation and how many times that text was asked for
  before, so a run is reproducible whatever order concurrent sessions reach
  the server in.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field

from narrator.errors import ConfigError

ENDING_FAULTS = ("drop", "close1011", "stall", "garbage", "busy")  # the generation never arrives
SHAPING_FAULTS = ("nullalign", "truncate")  # it arrives, but not as it should
REQUEST_FAULTS = ENDING_FAULTS + SHAPING_FAULTS
HANDSHAKE_FAULTS = ("http429",)
KNOWN = REQUEST_FAULTS + HANDSHAKE_FAULTS


@dataclass
class FaultPlan:
    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    quota: int | None = None  # characters in all before every generation is refused
    poison: str | None = None  # requests holding this text always end with close 1011
    injected: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._seen: Counter = Counter()
        self.charged = 0

    def at_handshake(self) -> str | None:
        return self._pick(HANDSHAKE_FAULTS, self._random.random())

    def at_request(self, text: str = "") -> str | None:
        if self.poison and self.poison in text:
            self.injected["poison"] += 1
            return "close1011"
        digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
        occurrence = self._seen[digest]
        self._seen[digest] += 1
        roll = hashlib.blake2b(f"{self.seed}:{occurrence}:".encode() + digest, digest_size=8).digest()
        return self._pick(REQUEST_FAULTS, int.from_bytes(roll, "big") / 2**64)

    def charge(self, characters: int) -> int | None:
        """Count a generation against the quota: None when it fits, else the
        characters that were left. Counted without a quota too: the
        subscription endpoint reports what was used."""
        left = None if self.quota is None else self.quota - self.charged
        if left is not None and characters > left:
            self.injected["quota"] += 1
            return max(left, 0)
        self.charged += characters
        return None

    def _pick(self, names, roll: float) -> str | None:
        for name in names:
            rate = self.rates.get(name, 0.0)
            if roll < rate:
                self.injected[name] += 1
                return name
            roll -= rate
        return None


def parse_faults(spec: str | None) -> FaultPlan:
    if not spec:
        return FaultPlan()
    rates, seed, quota, poison = {}, 0, None, None
    for item in spec.split(","):
        name, _, value = item.strip().partition("=")
        try:
            if name == "poison" and value:
                poison = value
            elif name == "seed":
                seed = int(value)
            elif name == "quota":
                quota = int(value)
                if quota < 0:
                    raise ValueError
            elif name in KNOWN:
                rates[name] = float(value)
                if not 0.0 <= rates[name] <= 1.0:
                    raise ValueError
            else:
                raise ValueError
        except ValueError:
            raise ConfigError(
                f"--faults: bad item {item!r}; use name=probability (0..1) with names {', '.join(KNOWN)}, "
                "quota=CHARACTERS, poison=TEXT and seed=N"
            ) from None
    if sum(rates.get(n, 0) for n in REQUEST_FAULTS) > 1.0:
        raise ConfigError("--faults: generation fault probabilities add up to more than 1")
    return FaultPlan(rates, seed, quota, poison)
