"""One long-lived `stream-input` connection: the thin I/O around the codec.

It connects, sends a segment with a flush, and gathers audio until the
alignment covers every character sent. Every failure leaves here as a
classified ServiceError; what to do about it is the pool's business.
"""

from __future__ import annotations

import asyncio
import time

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.protocol import State

from narrator.errors import ErrorKind, ServiceError
from narrator.protocol import elevenlabs as codec

RECEIVE_LIMIT = 16 * 2**20  # real responses with long alignments exceed websockets' 1 MiB default
QUIET_AFTER_UNALIGNED = 2.0  # seconds of silence that end a segment whose audio came without alignment


class Session:
    def __init__(self, connection: ClientConnection, stall_timeout: float, keepalive_every: float):
        self._connection = connection
        self._stall_timeout = stall_timeout
        self._busy = False
        self._last_active = time.monotonic()
        self._keepalive = asyncio.create_task(self._keep_alive(keepalive_every))

    @classmethod
    async def open(cls, url: str, headers: dict, settings: codec.StreamSettings, *, stall_timeout: float) -> "Session":
        """Connect and send the first message. An idle session sends a
        keep-alive at half the service's inactivity timeout."""
        try:
            connection = await asyncio.wait_for(
                connect(url, additional_headers=headers, max_size=RECEIVE_LIMIT, open_timeout=None, ping_interval=None),
                stall_timeout,
            )
        except InvalidStatus as exc:
            raise codec.classify_handshake(exc.response.status_code) from exc
        except (OSError, InvalidHandshake, asyncio.TimeoutError) as exc:
            raise ServiceError(ErrorKind.TRANSIENT, f"could not connect to the service: {type(exc).__name__}") from exc
        session = cls(connection, stall_timeout, settings.inactivity_timeout / 2)
        await session._send(codec.init_message(settings))
        return session

    @property
    def is_open(self) -> bool:
        return self._connection.state is State.OPEN

    async def _keep_alive(self, every: float) -> None:
        while self.is_open:
            due = self._last_active + every - time.monotonic()
            await asyncio.sleep(every if self._busy else max(due, 0.05))
            if not self._busy and self.is_open and time.monotonic() - self._last_active >= every:
                try:
                    await self._send(codec.KEEPALIVE)
                except ServiceError:
                    return  # closed: the pool replaces the session before using it again

    async def close(self) -> None:
        self._keepalive.cancel()
        await self._connection.close()

    def abort(self) -> None:
        """Drop the connection at once: its buffered audio must never reach another segment."""
        self._keepalive.cancel()
        self._connection.transport.abort()

    async def synthesize(self, text: str) -> list[codec.AudioChunk]:
        self._busy = True
        try:
            return await self._synthesize(text)
        finally:
            self._busy = False
            self._last_active = time.monotonic()

    async def _synthesize(self, text: str) -> list[codec.AudioChunk]:
        await self._send(codec.text_message(text, flush=True))
        expected = sum(1 for c in text if not c.isspace())
        chunks: list[codec.AudioChunk] = []
        covered, unaligned = 0, False
        while covered < expected:
            wait = QUIET_AFTER_UNALIGNED if unaligned else self._stall_timeout
            try:
                frame = await asyncio.wait_for(self._connection.recv(), wait)
            except asyncio.TimeoutError:
                if unaligned:
                    return chunks  # audio came without alignment and has stopped: take it
                raise ServiceError(ErrorKind.TRANSIENT, f"the stream stalled: nothing for {wait:g} s") from None
            except ConnectionClosed as exc:
                raise await self._closed_error(exc) from exc
            event = codec.parse_frame(frame)
            if isinstance(event, codec.AudioChunk):
                chunks.append(event)
                if event.alignment is None:
                    unaligned = True
                else:
                    covered += sum(1 for c in event.alignment.chars if not c.isspace())
            elif isinstance(event, codec.Final):
                break
        return chunks

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
                codec.parse_frame(frame)
        except ServiceError as error:
            return error
        except ConnectionClosed:
            pass
        return codec.classify_close(closed.rcvd.code if closed.rcvd else None, closed.rcvd.reason if closed.rcvd else "")
