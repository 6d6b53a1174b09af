"""One long-lived service connection: the thin I/O around a codec's Dialect.

It connects, sends a segment ending with a flush, and gathers audio until
the service says the flush is complete, or the alignment covers every
character sent. Every failure leaves here as a classified ServiceError;
what to do about it is the pool's business.
"""

from __future__ import annotations

import asyncio
import time

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.protocol import State

from narrator.errors import ErrorKind, ServiceError
from narrator.protocol.events import AudioChunk, Dialect, Final

RECEIVE_LIMIT = 16 * 2**20  # real responses with long alignments exceed websockets' 1 MiB default


class Session:
    def __init__(self, connection: ClientConnection, dialect: Dialect, stall_timeout: float):
        self._connection = connection
        self._dialect = dialect
        self._stall_timeout = stall_timeout
        self._busy = False
        self.reusable = True
        self._last_active = time.monotonic()
        self._keepalive = asyncio.create_task(self._keep_alive(dialect.keepalive_every))

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
            raise dialect.classify_handshake(exc.response.status_code) from exc
        except (OSError, InvalidHandshake, asyncio.TimeoutError) as exc:
            raise ServiceError(ErrorKind.TRANSIENT,
                               f"could not connect to the service: {type(exc).__name__}") from exc
        session = cls(connection, dialect, stall_timeout)
        for message in dialect.opening:
            await session._send(message)
        return session

    @property
    def usable(self) -> bool:
        return self.reusable and self.is_open

    @property
    def is_open(self) -> bool:
        return self._connection.state is State.OPEN

    async def _keep_alive(self, every: float) -> None:
        while self.is_open:
            due = self._last_active + every - time.monotonic()
            await asyncio.sleep(every if self._busy else max(due, 0.05))
            if not self._busy and self.is_open and time.monotonic() - self._last_active >= every:
                try:
                    await self._send(self._dialect.keepalive)
                except ServiceError:
                    return  # closed: the pool replaces the session before using it again

    async def close(self) -> None:
        self._keepalive.cancel()
        await self._connection.close()

    def abort(self) -> None:
        """Drop the connection at once: its buffered audio must never reach another segment."""
        self._keepalive.cancel()
        self._connection.transport.abort()

    async def synthesize(self, text: str) -> list[AudioChunk | Final]:
        """The segment's audio chunks; a Final after each flushed paragraph
        when the service marks them."""
        self._busy = True
        try:
            return await self._synthesize(text)
        finally:
            self._busy = False
            self._last_active = time.monotonic()

    async def _synthesize(self, text: str) -> list[AudioChunk | Final]:
        for message in self._dialect.segment_messages(text):
            await self._send(message)
        finals = self._dialect.finals(text)
        marked = finals > 0  # the service says when each flush is done; else alignment coverage says it
        expected = sum(1 for c in text if not c.isspace())
        chunks: list[AudioChunk | Final] = []
        covered, fenced = 0, False
        while finals if marked else (fenced or covered < expected):
            try:
                frame = await asyncio.wait_for(self._connection.recv(), self._stall_timeout)
            except asyncio.TimeoutError:
                raise ServiceError(ErrorKind.TRANSIENT,
                                   f"the stream stalled: nothing for {self._stall_timeout:g} s") from None
            except ConnectionClosed as exc:
                raise await self._closed_error(exc) from exc
            event = self._dialect.parse_frame(frame)
            if isinstance(event, AudioChunk):
                chunks.append(event)
                if event.alignment is not None:
                    covered += sum(1 for c in event.alignment.chars if not c.isspace())
                elif not marked and not fenced:
                    # Without alignment nothing says when this segment's audio is
                    # complete: end the input, so the service sends the rest, then
                    # its final message, and closes. The connection ends with the segment.
                    await self._send(self._end_of_input())
                    fenced, self.reusable = True, False
            elif isinstance(event, Final):
                if not marked:
                    break  # the end of the whole stream
                chunks.append(event)
                finals -= 1
        return chunks

    def _end_of_input(self) -> str:
        if self._dialect.end_of_input is None:
            raise ServiceError(ErrorKind.PROTOCOL,
                               "audio without alignment from a service that marks no segment's end")
        return self._dialect.end_of_input

    async def _send(self, message: str) -> None:
        try:
            await self._connection.send(message)
        except ConnectionClosed as exc:
            raise await self._closed_error(exc) from exc
        self._last_active = time.monotonic()

    async def _closed_error(self, closed: ConnectionClosed) -> ServiceError:
        """The service often sends an error frame just before it closes: its
        own error code says more than the close reason, so read it first."""
        try:
            async for frame in self._connection:
                self._dialect.parse_frame(frame)
        except ServiceError as error:
            return error
        except ConnectionClosed:
            pass
        return self._dialect.classify_close(closed.rcvd.code if closed.rcvd else None,
                                            closed.rcvd.reason if closed.rcvd else "")
