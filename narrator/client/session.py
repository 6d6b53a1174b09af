"""One long-lived service connection: the thin I/O around a codec's Dialect.

A reader task turns every frame into an event and hands it to the segment
it belongs to: by its context where the dialect has contexts (audio of
several may interleave), else to the one segment in flight. Each segment's
`Exchange` says what to send, what to send in reply, and when the segment
is done. Every failure leaves here as a classified ServiceError; what to do
about it is the pool's business.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.protocol import State

from narrator.errors import ErrorKind, ServiceError
from narrator.protocol.events import AudioChunk, Chunks, Dialect, Exchange, Final

RECEIVE_LIMIT = 16 * 2**20  # real responses with long alignments exceed websockets' 1 MiB default
CLOSING_SECONDS = 1.0  # how long a failed send waits for the reader to learn why the connection closed


@dataclass
class _InFlight:
    """A segment waiting for its exchange to be done."""

    exchange: Exchange
    done: asyncio.Future[Chunks]
    last: float = field(default_factory=time.monotonic)  # when its last event came


class Session:
    def __init__(self, connection: ClientConnection, dialect: Dialect, stall_timeout: float):
        self._connection = connection
        self._dialect = dialect
        self._stall_timeout = stall_timeout
        self._in_flight: dict[str | None, _InFlight] = {}
        self._contexts = itertools.count(1)
        self._failure: ServiceError | None = None
        self.reusable = True
        self._last_active = time.monotonic()
        self._reader = asyncio.create_task(self._read())
        self._keepalive = asyncio.create_task(self._keep_alive(dialect.keepalive, dialect.keepalive_every))

    @classmethod
    async def open(cls, dialect: Dialect, *, stall_timeout: float) -> Session:
        """Connect and send the opening messages. An idle session sends the
        dialect's keep-alive well within the service's inactivity limit."""
        try:
            connection = await asyncio.wait_for(
                connect(dialect.url, additional_headers=dialect.headers, max_size=RECEIVE_LIMIT,
                        open_timeout=None, ping_interval=None),
                stall_timeout,
            )
        except InvalidStatus as exc:
            raise dialect.classify_handshake(exc.response.status_code, bytes(exc.response.body)) from exc
        except (OSError, InvalidHandshake, asyncio.TimeoutError) as exc:
            raise ServiceError(ErrorKind.TRANSIENT,
                               f"could not connect to the service: {type(exc).__name__}") from exc
        session = cls(connection, dialect, stall_timeout)
        for message in dialect.opening:
            await session._send(message)
        return session

    @property
    def dialect(self) -> Dialect:
        """Who it speaks to, and in which voice."""
        return self._dialect

    @property
    def usable(self) -> bool:
        """Open and fit for another segment. Without a keep-alive, a session
        idle for the keep-alive interval is not: the service may be closing it."""
        stale = (self._dialect.keepalive is None and not self._in_flight
                 and time.monotonic() - self._last_active >= self._dialect.keepalive_every)
        return self.reusable and self._failure is None and self.is_open and not stale

    @property
    def is_open(self) -> bool:
        return self._connection.state is State.OPEN

    async def close(self) -> None:
        """Close cleanly when the session is idle and sound; else drop it. The
        reader goes on draining frames meanwhile: frames left unread would stop
        the connection reading, and the service's close frame with them."""
        if not self.usable:
            self.abort()
            return
        self._keepalive.cancel()
        try:
            await self._connection.close()
        finally:
            self._reader.cancel()

    def abort(self) -> None:
        """Drop the connection at once: its buffered audio must never reach another segment."""
        self._stop_tasks()
        self._connection.transport.abort()

    async def synthesize(self, text: str) -> Chunks:
        """The segment's audio chunks; a Final after each flushed paragraph
        where the service marks them (Sarvam)."""
        if self._failure is not None:
            raise self._failure
        if len(self._in_flight) >= self._dialect.max_contexts:
            raise ServiceError(ErrorKind.PROTOCOL, "more segments at once than the connection has contexts")
        context = str(next(self._contexts)) if self._dialect.multiplexed else None
        exchange = self._dialect.exchange(text, context)
        flight = _InFlight(exchange, asyncio.get_running_loop().create_future())
        self._in_flight[exchange.context] = flight
        try:
            await self._send_all(exchange.start())
            return exchange.chunks if exchange.done else await self._until_done(flight)
        finally:
            del self._in_flight[exchange.context]
            self._last_active = time.monotonic()
            # A segment not done (failed or cancelled) may still have audio coming.
            self.reusable = self.reusable and exchange.reusable and exchange.done

    async def _until_done(self, flight: _InFlight) -> Chunks:
        """Wait for the exchange; a stream with nothing for the stall timeout is a transient failure."""
        while not flight.done.done():
            deadline = flight.last + self._stall_timeout
            await asyncio.wait([flight.done], timeout=max(deadline - time.monotonic(), 0))
            if not flight.done.done() and time.monotonic() - flight.last >= self._stall_timeout:
                raise ServiceError(ErrorKind.TRANSIENT,
                                   f"the stream stalled: nothing for {self._stall_timeout:g} s")
        return flight.done.result()

    async def _read(self) -> None:
        """Every frame to the segment it belongs to, until the connection
        ends; then every segment still waiting fails with the reason."""
        try:
            async for frame in self._connection:
                event = self._dialect.parse_frame(frame)
                if event is not None:
                    await self._deliver(event)
            connection = self._connection
            error = self._dialect.classify_close(connection.close_code, connection.close_reason or "")
        except ServiceError as raised:
            error = raised
        except ConnectionClosed as closed:
            error = self._dialect.classify_close(closed.rcvd.code if closed.rcvd else None,
                                                 closed.rcvd.reason if closed.rcvd else "")
        self._fail(error)

    async def _deliver(self, event: AudioChunk | Final) -> None:
        flight = self._owner(event.context)
        if flight is None or flight.done.done():
            # Nobody waits for it: a context given up on, which harms nothing, or late
            # audio of a stream, which must never reach the next segment on this connection.
            self.reusable = self.reusable and self._dialect.multiplexed
            return
        flight.last = time.monotonic()
        replies = flight.exchange.receive(event)
        if flight.exchange.done:
            flight.done.set_result(flight.exchange.chunks)
        await self._send_all(replies)

    def _owner(self, context: str | None) -> _InFlight | None:
        if not self._dialect.multiplexed:
            return self._in_flight.get(None)
        if context is None and len(self._in_flight) == 1:
            return next(iter(self._in_flight.values()))  # the only segment in flight: it can be no other's
        return self._in_flight.get(context) if context is not None else None

    def _fail(self, error: ServiceError) -> None:
        self._failure = self._failure or error
        for flight in self._in_flight.values():
            if not flight.done.done():
                flight.done.set_exception(error)
                flight.done.exception()  # retrieved here too: a segment may have stopped waiting

    async def _keep_alive(self, message: str | None, every: float) -> None:
        while message is not None and self.is_open:
            due = self._last_active + every - time.monotonic()
            await asyncio.sleep(every if self._in_flight else max(due, 0.05))
            if not self._in_flight and self.is_open and time.monotonic() - self._last_active >= every:
                try:
                    await self._send(message)
                except ServiceError:
                    return  # closed: the pool replaces the session before using it again

    def _stop_tasks(self) -> None:
        self._keepalive.cancel()
        self._reader.cancel()

    async def _send_all(self, messages: list[str]) -> None:
        for message in messages:
            await self._send(message)

    async def _send(self, message: str) -> None:
        try:
            await self._connection.send(message)
        except ConnectionClosed as exc:
            # The service often sends an error frame just before it closes: its own
            # code says more than the close reason, and the reader has read it.
            if asyncio.current_task() is not self._reader:
                await asyncio.wait([self._reader], timeout=CLOSING_SECONDS)
            raise self._failure or self._dialect.classify_close(
                exc.rcvd.code if exc.rcvd else None, exc.rcvd.reason if exc.rcvd else "") from exc
        self._last_active = time.monotonic()
