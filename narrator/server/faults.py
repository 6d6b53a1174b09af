"""Misbehaviour on purpose, reproducibly: `narrator serve --faults SPEC`.

SPEC is comma-separated `name=value` items, e.g.
`drop=0.1,close1011=0.05,http429=0.2,stall=0.05,garbage=0.05,nullalign=0.2,quota=20000,seed=7`.

- `http429=P`: refuse a handshake with HTTP 429.
- Per request (the generations one message asks for: a whole segment when
  it ends with a flush), at most one of these (each `name=P`, a probability;
  together at most 1):
  `drop` (the connection is cut), `close1011` (closed with 1011), `stall`
  (nothing more is sent), `garbage` (a frame that is not the protocol's),
  `busy` (the service's "too many concurrent requests" error, then a close),
  all striking the request's last generation; `nullalign` (audio without
  alignment) and `truncate` (audio for only the first third of the text, as
  services sometimes do silently), striking its first.
- `skipchars=P`: per request, rolled on its own (so it combines with any of
  the above; `skipchars=1` strikes every request): the alignment of every
  generation of the request leaves out what a real service's may leave out:
  format characters (soft hyphen, zero-width spaces and joiners, word
  joiner, BOM), symbols (©, ™, arrows, currency, emoji and their variation
  selectors), private-use characters and surrogates. The audio is unchanged.
- `coalesce=P`: per Sarvam connection, rolled when it opens: the completion
  event is sent once for all the flushes that arrived while the connection
  was still generating, not once per flush (the documentation promises an
  event "when speech generation ends"). A client that waits for each event
  before its next flush still gets one per flush.
- `split=N`: not a fault but a wire shape: every generation's audio goes out
  as N frames (cut at MP3 frame boundaries; each frame's alignment holds the
  characters that start in it, timed from its own start), as a real service
  streams a generation in pieces. Generations running at once on one
  connection (two contexts of a multi-context connection) send their frames
  in turn, so with N > 1 their audio alternates on the wire, frame by frame.
  Under a CloudProfile `speed` each frame goes out when it is "generated".
- `quota=N`: after N characters in all, every generation is refused with
  the service's quota error.
- `poison=TEXT`: every request whose first generation holds TEXT is taken,
  and then closed with 1011 before its audio is complete: a segment the
  service fails the same way every time, whatever is retried.
- `seed=N`: the dice. A request's faults depend only on the seed, the text
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
REQUEST_FAULTS = ENDING_FAULTS + ("nullalign", "truncate")  # one roll per request picks at most one
EVERY_GENERATION_FAULTS = ("skipchars",)  # rolled per request on its own; strikes all its generations
CONNECTION_FAULTS = ("coalesce",)  # rolled once per connection
# It arrives, but not as it should: every fault that does not end a request.
SHAPING_FAULTS = ("nullalign", "truncate") + EVERY_GENERATION_FAULTS + CONNECTION_FAULTS
HANDSHAKE_FAULTS = ("http429",)
KNOWN = REQUEST_FAULTS + EVERY_GENERATION_FAULTS + CONNECTION_FAULTS + HANDSHAKE_FAULTS
NO_FAULTS: frozenset[str] = frozenset()


@dataclass
class FaultPlan:
    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    quota: int | None = None  # characters in all before every generation is refused
    poison: str | None = None  # requests holding this text always end with close 1011
    split: int = 1  # audio frames per generation
    injected: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._seen: Counter = Counter()
        self.charged = 0

    def at_handshake(self) -> str | None:
        return self._pick(HANDSHAKE_FAULTS, self._random.random())

    def at_connection(self, name: str) -> bool:
        """Whether a connection-wide fault (`coalesce`) holds for a connection
        opening now. Rolled only when asked for, so the handshake's dice
        fall as they did without it."""
        return bool(self.rates.get(name)) and self._pick((name,), self._random.random()) is not None

    def at_request(self, text: str = "") -> frozenset[str]:
        """The faults of one request, by its first generation's text: at
        most one of REQUEST_FAULTS, and each of EVERY_GENERATION_FAULTS on
        a roll of its own."""
        if self.poison and self.poison in text:
            self.injected["poison"] += 1
            return frozenset({"close1011"})
        digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
        occurrence = self._seen[digest]
        self._seen[digest] += 1

        def roll(salt: str) -> float:
            dice = hashlib.blake2b(f"{self.seed}:{occurrence}:{salt}".encode() + digest, digest_size=8)
            return int.from_bytes(dice.digest(), "big") / 2**64

        # The one roll keeps its salt of old, so a seed strikes the same requests as before.
        picked = [self._pick(REQUEST_FAULTS, roll(""))]
        picked += [self._pick((name,), roll(name + ":")) for name in EVERY_GENERATION_FAULTS]
        return frozenset(name for name in picked if name)

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
    rates, seed, quota, poison, split = {}, 0, None, None, 1
    for item in spec.split(","):
        name, _, value = item.strip().partition("=")
        try:
            if name == "poison" and value:
                poison = value
            elif name == "seed":
                seed = int(value)
            elif name == "quota":
                quota = _at_least(0, value)
            elif name == "split":
                split = _at_least(1, value)
            elif name in KNOWN:
                rates[name] = float(value)
                if not 0.0 <= rates[name] <= 1.0:
                    raise ValueError
            else:
                raise ValueError
        except ValueError:
            raise ConfigError(
                f"--faults: bad item {item!r}; use name=probability (0..1) with names {', '.join(KNOWN)}, "
                "quota=CHARACTERS, split=FRAMES, poison=TEXT and seed=N"
            ) from None
    if sum(rates.get(n, 0) for n in REQUEST_FAULTS) > 1.0:
        raise ConfigError("--faults: generation fault probabilities add up to more than 1")
    return FaultPlan(rates, seed, quota, poison, split)


def _at_least(least: int, value: str) -> int:
    number = int(value)
    if number < least:
        raise ValueError(value)
    return number
