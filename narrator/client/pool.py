"""A pool of long-lived sessions running segments.

Each worker owns one session and takes the next segment in book order. A
failed attempt drops its session with whatever partial audio it held and
sends the same segment again on a fresh one, with exponential backoff and
jitter; whether to try again is decided by `errors.should_retry`, and what a
failure ends by `errors.is_fatal`, nowhere else:

- auth, quota and input errors stop the run at once;
- failures that cost nothing (a refused handshake, a rate-limit refusal)
  are retried for up to four stall timeouts (two minutes by default), then
  stop the run: the service is not taking work;
- failures after the text was sent, which the service may bill, give the
  segment up after three (protocol errors after two): it fails alone, and
  the others go on;
- sending a segment again after such a failure spends from the retry
  budget; once a retry does not fit, the workers stop (`stats.retries_capped`);
- rate-limit signals halve how many sessions may generate at once (AIMD),
  and a round of successes adds one back.

Audio that looks truncated is requested once more, then kept and reported.
The budget is asked before every request and spent as its text goes on the
wire; once one does not fit, each worker stops after the segment it is on,
and `stats.over_budget` says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from tenacity import AsyncRetrying, stop_never, wait_random_exponential

from narrator.client.aimd import Aimd
from narrator.client.budget import Budget
from narrator.client.session import Session
from narrator.client.short_audio import shortfall
from narrator.errors import (
    BILLED_ATTEMPTS,
    UNBILLED_RETRY_STALLS,
    BudgetError,
    ErrorKind,
    Failure,
    RetryCapError,
    ServiceError,
    is_billed,
    is_fatal,
    should_retry,
)
from narrator.model import Segment
from narrator.protocol.events import Chunks, Dialect

log = logging.getLogger("narrator.pool")


@dataclass(frozen=True)
class PoolConfig:
    dialect: Dialect
    concurrency: int = 4
    stall_timeout: float = 30.0
    backoff_max: float = 20.0
    speed: float = 1.0  # the speaking speed asked for: the short-audio check allows for it
    budget: Budget = field(default_factory=lambda: Budget(None))
    # What sending segments again after billed failures may cost, in all.
    retry_budget: Budget = field(default_factory=lambda: Budget(None))
    billed_attempts: int = BILLED_ATTEMPTS  # tries that may be billed before a segment is given up
    # The dialect of another voice than the narrator's (a segment's `voice`); None: one voice only.
    voiced: Callable[[str], Dialect] | None = None


OnDone = Callable[[Segment, Chunks], Coroutine[Any, Any, None]]


@dataclass
class PoolStats:
    connections: int = 0
    retries: int = 0
    # Kept although still short after a second request.
    short_segments: list[int] = field(default_factory=list)
    failed: list[tuple[Segment, ServiceError]] = field(default_factory=list)
    over_budget: bool = False  # stopped before a request that would cross the budget
    retries_capped: bool = False  # stopped before a retry that would cross the retry budget
    sent_for: Counter[int] = field(default_factory=Counter)  # characters sent per segment index
    concurrency: str = ""

    @property
    def characters_sent(self) -> int:
        return sum(self.sent_for.values())


class SessionPool:
    def __init__(self, config: PoolConfig):
        self._config = config
        self._aimd = Aimd(config.concurrency)
        self._active = 0
        self.stats = PoolStats()

    async def run(self, segments: list[Segment], on_done: OnDone) -> None:
        """Run every segment. A fatal error cancels the others and is raised;
        segments that failed alone are in `stats.failed`."""
        self._gate = asyncio.Condition()
        queue: asyncio.Queue[Segment] = asyncio.Queue()
        # One voice after another, the most spoken first (a session speaks one voice, so
        # a worker changes voice rarely); within a voice, longest first: the last segments
        # to start are the shortest, so the sessions finish close together.
        spoken = Counter(s.voice for s in segments)
        for segment in sorted(segments, key=lambda s: (-spoken[s.voice], s.voice or "", -len(s.sent_text))):
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
            self.stats.concurrency = self._aimd.summary()

    async def _worker(self, queue: asyncio.Queue, on_done: OnDone) -> None:
        session: Session | None = None
        # A finished segment is stored while the next one is generated: the service's
        # slot never waits for the disk. At most one is pending, and its failure stops the worker.
        storing: asyncio.Task[None] | None = None
        try:
            while not queue.empty() and not self.stats.retries_capped:
                segment = queue.get_nowait()
                try:
                    session, chunks = await self._run_segment(session, segment)
                except BudgetError:
                    self.stats.over_budget = True
                    break
                except RetryCapError as capped:
                    self.stats.retries_capped = True
                    self.stats.failed.append((segment, capped.last))
                    break
                except _GivenUp as given_up:
                    log.warning("segment %d failed: %s", segment.index + 1, given_up.error)
                    self.stats.failed.append((segment, given_up.error))
                    continue
                if storing is not None:
                    await asyncio.shield(storing)  # a cancelled worker must not cancel its store
                storing = asyncio.create_task(on_done(segment, chunks))
            if storing is not None:
                await asyncio.shield(storing)
        finally:
            if storing is not None:
                await asyncio.wait([storing])  # finished work is kept, whatever stopped the worker
                if not storing.cancelled():
                    storing.exception()  # raised above where it mattered; retrieved either way
            if session is not None:
                await session.close()

    async def _run_segment(self, session: Session | None, segment: Segment):
        for request in (1, 2):
            session, chunks = await self._attempts(session, segment)
            # A tag the service reads is no speech to wait for.
            reason = await asyncio.to_thread(shortfall, segment.spoken_text, chunks, speed=self._config.speed)
            if reason is None:
                break
            if request == 1:
                # Whatever the service still sends for the short request must not
                # reach the next one: ask again on a fresh connection.
                session.abort()
                session = None
                self.stats.retries += 1
                log.info("segment %d: audio looks truncated (%s); requesting it again",
                         segment.index + 1, reason)
            else:
                self.stats.short_segments.append(segment.index)
                log.warning("segment %d: audio still looks truncated (%s); kept as it is",
                            segment.index + 1, reason)
        return session, chunks

    async def _attempts(self, session: Session | None, segment: Segment):
        tries = _Tries()
        characters = self._config.dialect.sent_characters(segment.sent_text)
        retrying = AsyncRetrying(
            retry=lambda state: state.outcome.failed and should_retry(
                state.outcome.exception(), tries.failures, tries.waited(),
                billed_attempts=self._config.billed_attempts,
                unbilled_seconds=UNBILLED_RETRY_STALLS * self._config.stall_timeout),
            wait=wait_random_exponential(multiplier=0.25, max=self._config.backoff_max),
            stop=stop_never,  # should_retry holds the limits
            before_sleep=self._note_retry(segment),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    async with self._slot():
                        session = await self._connected(session, segment, characters, tries)
                        try:
                            chunks = await session.synthesize(segment.sent_text)
                        except asyncio.CancelledError:
                            session.abort()  # the worker holds only the session it had before
                            raise
                        except ServiceError as error:
                            tries.failed(error, sent=True)
                            self._on_failure(error)
                            session.abort()
                            session = None
                            raise
                        self._aimd.on_success()
                        return session, chunks
        except ServiceError as error:
            if tries.failures and tries.failures[-1].billed and not is_fatal(error):
                raise _GivenUp(error) from error  # this segment's own trouble: the others go on
            raise
        raise AssertionError("unreachable: tenacity reraises")

    async def _connected(self, session: Session | None, segment: Segment, characters: int,
                         tries: _Tries) -> Session:
        """A session ready for the segment's text: the budgets asked first,
        and spent only once the connection is there (a refused handshake
        costs nothing). Sending again after a billed failure also spends
        from the retry budget."""
        again = tries.billed > 0
        self._within_budgets(segment, characters, tries if again else None)
        try:
            wanted = self._dialect(segment)
            if session is not None and session.dialect is not wanted:
                await session.close()  # another voice: its own connection
                session = None
            if session is not None and not session.usable:
                session.abort()  # closed, or late audio of its last segment may still come
                session = None
            if session is None:
                session = await self._open(wanted)
            # Both asked again before either is spent: another session may have taken from them meanwhile.
            self._within_budgets(segment, characters, tries if again else None)
            self._config.budget.take(characters)
            if again:
                self._config.retry_budget.take(characters)
        except (BudgetError, RetryCapError):
            if session is not None:
                await session.close()
            raise
        except ServiceError as error:
            tries.failed(error, sent=False)
            self._on_failure(error)
            raise
        self.stats.sent_for[segment.index] += characters
        return session

    def _within_budgets(self, segment: Segment, characters: int, again: _Tries | None) -> None:
        """The budget, and for a segment sent `again` after billed failures the retry budget too."""
        if not self._config.budget.fits(characters):
            raise BudgetError(f"segment {segment.index + 1} would cross the character budget")
        if again is not None and again.last is not None and not self._config.retry_budget.fits(characters):
            raise RetryCapError(again.last)

    @contextlib.asynccontextmanager
    async def _slot(self):
        """Wait until fewer sessions are generating than the current limit."""
        async with self._gate:
            await self._gate.wait_for(lambda: self._active < self._aimd.limit)
            self._active += 1
        try:
            yield
        finally:
            async with self._gate:
                self._active -= 1
                self._gate.notify_all()

    def _on_failure(self, error: ServiceError) -> None:
        if error.kind is ErrorKind.RATE_LIMIT and self._aimd.on_rate_limit(time.monotonic()):
            log.info("rate limited: at most %d sessions at once now", self._aimd.limit)

    def _dialect(self, segment: Segment) -> Dialect:
        if segment.voice is None or self._config.voiced is None:
            return self._config.dialect
        return self._config.voiced(segment.voice)

    async def _open(self, dialect: Dialect) -> Session:
        self.stats.connections += 1
        return await Session.open(dialect, stall_timeout=self._config.stall_timeout)

    def _note_retry(self, segment: Segment):
        def note(state) -> None:
            self.stats.retries += 1
            log.info("segment %d: %s; retrying (attempt %d)", segment.index + 1, state.outcome.exception(),
                     state.attempt_number + 1)

        return note


@dataclass
class _Tries:
    """One segment's failed attempts so far."""

    failures: list[Failure] = field(default_factory=list)
    last: ServiceError | None = None
    first: float | None = None

    def failed(self, error: ServiceError, *, sent: bool) -> None:
        self.failures.append(Failure(error.kind, is_billed(error.kind, sent)))
        self.last = error
        self.first = self.first or time.monotonic()

    @property
    def billed(self) -> int:
        return sum(f.billed for f in self.failures)

    def waited(self) -> float:
        return 0.0 if self.first is None else time.monotonic() - self.first


class _GivenUp(Exception):
    """A segment given up after failures that may have been billed: it fails alone."""

    def __init__(self, error: ServiceError):
        super().__init__(str(error))
        self.error = error
