"""How the embedded server feels like a cloud service, and what it counts.

`CloudProfile` says how a service feels (time to first byte, generation
speed, generations at once); the `Pacer` runs the engine in threads, so
the event loop never blocks, and makes each generation take as long as the
profile says; `Stats` counts what was generated, for `narrator serve`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, field
from typing import TypeVar

from narrator.server.engine.render import Rendered

_T = TypeVar("_T")


@dataclass(frozen=True)
class CloudProfile:
    """How a cloud service feels: 0 means "as fast as the engine goes"."""

    ttfb_ms: int = 0
    speed: float = 0.0  # audio seconds generated per wall second
    capacity: int = 0  # generations at once; others wait
    refuse: bool = False  # over capacity, refuse with "too many concurrent requests" instead of waiting


@dataclass
class Stats:
    connections: int = 0
    characters: int = 0
    audio_seconds: float = 0.0
    generating_seconds: float = 0.0
    refused: int = 0  # generations refused over capacity
    faults: dict[str, int] = field(default_factory=dict)
    # The texts generated, in order, and the voice that spoke each: what tests listen to (the last
    # 100,000, so a server that runs for weeks does not grow).
    heard: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=100_000))

    def line(self) -> str:
        data = {name: value for name, value in asdict(self).items() if name != "heard"}
        data["audio_seconds"] = round(self.audio_seconds, 3)
        data["generating_seconds"] = round(self.generating_seconds, 3)
        return json.dumps(data)


class Pacer:
    """The engine's threads, at most the profile's capacity generating at
    once, each generation as slow as the profile's service."""

    def __init__(self, profile: CloudProfile, stats: Stats) -> None:
        self._profile = profile
        self._stats = stats
        self._capacity = asyncio.Semaphore(profile.capacity) if profile.capacity else None
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="narrator-synth")

    async def in_thread(self, work: Callable[[str], _T], text: str) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, text)

    async def render(
        self,
        work: Callable[[str], list[Rendered]],
        text: str,
        *,
        characters: int,
        first: bool,
        send: Callable[[Rendered], Awaitable[None]],
        voice: str = "",
        holding: Callable[[], AbstractAsyncContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        """`work(text)` in a thread, once capacity allows; each of its audio
        frames is sent when the profile's service would have generated it
        (a generation takes at least as long as the profile says), and
        `holding()` is held while capacity is. `characters` are what the
        request is counted for."""
        async with self._capacity or contextlib.nullcontext(), holding():
            started = time.monotonic()
            parts = await self.in_thread(work, text)
            self._stats.heard.append((voice, text))
            self._stats.characters += characters
            self._stats.audio_seconds += sum(part.audio_seconds for part in parts)
            generated = 0.0
            try:
                for part in parts:
                    generated += part.audio_seconds
                    await self._pretend(started, generated, first)
                    await send(part)
            finally:
                self._stats.generating_seconds += time.monotonic() - started

    def over_capacity(self) -> bool:
        """Whether a generation is refused now, as a service refuses one
        too many at once (only when the profile says to refuse)."""
        if not (self._profile.refuse and self._capacity and self._capacity.locked()):
            return False
        self._stats.refused += 1
        return True

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _pretend(self, started: float, audio_seconds: float, first: bool) -> None:
        profile = self._profile
        ttfb = profile.ttfb_ms / 1000 if first else 0.0
        target = ttfb + (audio_seconds / profile.speed if profile.speed else 0.0)
        remaining = target - (time.monotonic() - started)
        if remaining > 0:
            await asyncio.sleep(remaining)
