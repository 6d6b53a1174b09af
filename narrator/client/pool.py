"""A pool of N long-lived sessions running segments.

Each worker owns one session and takes the next segment in book order. A
failure of a retryable kind (decided by `errors.is_retryable`, nowhere else)
drops that session with whatever partial audio it held and sends the same
segment again on a fresh one, with exponential backoff and jitter. Idle
sessions send a keep-alive before the service's inactivity limit; a session
the service closed is replaced before it is used.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from narrator.client.session import Session
from narrator.errors import ServiceError, is_retryable
from narrator.model import Segment
from narrator.protocol.events import Dialect

log = logging.getLogger("narrator.pool")


@dataclass(frozen=True)
class PoolConfig:
    dialect: Dialect
    concurrency: int = 4
    stall_timeout: float = 30.0
    attempts: int = 10
    backoff_max: float = 20.0


OnDone = Callable[[Segment, list], Awaitable[None]]


@dataclass
class PoolStats:
    connections: int = 0
    retries: int = 0
    characters_sent: int = 0


class SessionPool:
    def __init__(self, config: PoolConfig):
        self._config = config
        self.stats = PoolStats()

    async def run(self, segments: list[Segment], on_done: OnDone) -> None:
        """Run every segment; the first error that is not retried (or that
        ran out of attempts) cancels the others and is raised."""
        queue: asyncio.Queue[Segment] = asyncio.Queue()
        for segment in segments:
            queue.put_nowait(segment)
        workers = [
            asyncio.create_task(self._worker(queue, on_done), name=f"session-{i}")
            for i in range(min(self._config.concurrency, len(segments)) or 1)
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _worker(self, queue: asyncio.Queue, on_done: OnDone) -> None:
        session: Session | None = None
        try:
            while not queue.empty():
                segment = queue.get_nowait()
                session, chunks = await self._run_segment(session, segment)
                await on_done(segment, chunks)
        finally:
            if session is not None:
                await session.close()

    async def _run_segment(self, session: Session | None, segment: Segment):
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            wait=wait_random_exponential(multiplier=0.25, max=self._config.backoff_max),
            stop=stop_after_attempt(self._config.attempts),
            before_sleep=self._note_retry(segment),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if session is None or not session.is_open:
                    session = await self._open()
                try:
                    self.stats.characters_sent += len(segment.text)
                    return session, await session.synthesize(segment.text)
                except ServiceError:
                    session.abort()
                    session = None
                    raise
        raise AssertionError("unreachable: tenacity reraises")

    async def _open(self) -> Session:
        config = self._config
        self.stats.connections += 1
        return await Session.open(config.dialect, stall_timeout=config.stall_timeout)

    def _note_retry(self, segment: Segment):
        def note(state) -> None:
            self.stats.retries += 1
            log.info("segment %d: %s; retrying (attempt %d)", segment.index + 1, state.outcome.exception(), state.attempt_number + 1)

        return note
