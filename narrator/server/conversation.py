"""What every conversation shares, whichever protocol it speaks.

A connection's messages are received while the audio they ask for is
generated in another task, in order (`Conversations.run`); the idle clock
waits while audio is owed. Faults are rolled per message and acted out
here, the same for both protocols; refusals go out in the connection's
own protocol through its `Stream`, which each protocol's module supplies.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from narrator.protocol.chunking import Piece
from narrator.protocol.elevenlabs_server import Reject
from narrator.server.engine.render import Rendered
from narrator.server.faults import SHAPING_FAULTS, FaultPlan
from narrator.server.pacing import Pacer

BUSY = Reject(
    "too_many_concurrent_requests", "Too many concurrent requests for your plan. Please try again later."
)
STALL_SECONDS = 3600
CLOSE_REASON_BYTES = 123  # all a close frame carries; a longer reason fails to send

ActionT = TypeVar("ActionT")


class Stream(abc.ABC, Generic[ActionT]):
    """One connection's protocol state and the generations it still owes."""

    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection
        self.pending: asyncio.Queue[tuple[ActionT, str | None]] = asyncio.Queue()
        self.generating = False
        self.last_sent = 0.0  # when the last audio went out (monotonic)

    @property
    def ended(self) -> bool:
        """The client said its input is complete."""
        return False

    @property
    def owes_audio(self) -> bool:
        return self.generating or not self.pending.empty()

    @abc.abstractmethod
    async def receive(self, raw: str | bytes) -> list[ActionT] | None:
        """What a message asks for, in order; None when the connection ends here."""

    @abc.abstractmethod
    async def refuse(self, reject: Reject) -> None:
        """Send a refusal in this protocol's words, then close 1008."""


class Conversations:
    """What every connection shares: the fault plan, and the pacer that
    runs the engine."""

    def __init__(self, faults: FaultPlan, pacer: Pacer) -> None:
        self._faults = faults
        self.pacer = pacer

    async def run(
        self, stream: Stream[ActionT], answer: Coroutine[Any, Any, None], idle: float, idle_reason: str
    ) -> None:
        """Receive while `answer` generates in order, until the input ends,
        the connection is refused, idles or closes. Only an input that ended
        is still owed its audio."""
        generator = asyncio.create_task(answer)
        try:
            await self._receive_all(stream, idle, idle_reason)
            if stream.ended:  # otherwise it was rejected or timed out: nothing more is owed
                await generator
        except ConnectionClosed:
            pass
        finally:
            generator.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await generator

    async def generate(
        self,
        stream: Stream[ActionT],
        piece: Piece,
        fault: str | None,
        synthesize: Callable[[str], Rendered],
        frame: Callable[[Rendered], str],
    ) -> bool:
        """One generation, the same for every protocol: a fault or the
        capacity limit may end it and the connection instead (False); else
        the engine renders it, paced like a cloud, and `frame(rendered)` is sent."""
        stream.generating = True
        if await self._misbehave(stream, fault, len(piece.text)):
            return False
        if self.pacer.over_capacity():
            await stream.refuse(BUSY)
            return False
        rendered = await self._render(piece, synthesize, fault)
        await stream.connection.send(frame(rendered))
        stream.last_sent = time.monotonic()
        stream.generating = False
        return True

    async def _receive_all(self, stream: Stream[ActionT], idle: float, idle_reason: str) -> None:
        connection = stream.connection
        while not stream.ended:
            try:
                raw = await asyncio.wait_for(connection.recv(), idle)
            except asyncio.TimeoutError:
                # The clock waits while audio is owed, and starts again when the last of it went out.
                if stream.owes_audio or time.monotonic() - stream.last_sent < idle:
                    continue
                await connection.close(1008, idle_reason)
                return
            actions = await stream.receive(raw)
            if actions is None:
                return
            self._queue(stream, actions)

    def _queue(self, stream: Stream[ActionT], actions: list[ActionT]) -> None:
        """Queue what one message asks for. Faults are rolled per message:
        one roll for all the generations it asks for (a whole segment, when
        it ends with a flush). A fault that ends the request strikes the last
        of them, after the others' audio went out, as a connection failing
        mid-stream does."""
        generations = [a for a in actions if isinstance(a, Piece)]
        fault = self._faults.at_request(generations[0].text) if generations else None
        # A fault that shapes audio strikes the first generation, so the rest still follows it.
        struck = (generations[0] if fault in SHAPING_FAULTS else generations[-1]) if generations else None
        for action in actions:
            stream.pending.put_nowait((action, fault if action is struck else None))

    async def _render(
        self, piece: Piece, synthesize: Callable[[str], Rendered], fault: str | None
    ) -> Rendered:
        """The faults that shape audio act here: `truncate` speaks the first
        third of the words only (and aligns what it spoke), `nullalign` sends
        audio without its alignment."""
        text = _first_third(piece.text) if fault == "truncate" else piece.text
        rendered = await self.pacer.render(
            synthesize, text, characters=len(piece.text), first=piece.starts_stream
        )
        return dataclasses.replace(rendered, alignment=None) if fault == "nullalign" else rendered

    async def _misbehave(self, stream: Stream[ActionT], fault: str | None, characters: int) -> bool:
        """Act out a fault that ends the generation (True), or charge the
        quota, in any protocol: a refusal goes through `stream.refuse`, in
        the connection's own protocol. Faults that only shape the audio are
        left to `_render`."""
        connection = stream.connection
        left = self._faults.charge(characters)
        if left is not None:
            await stream.refuse(Reject("quota_exceeded", (
                f"This request exceeds your quota of {self._faults.quota}. You have {left} credits "
                f"remaining, while {characters} credits are required for this request.")))
        elif fault == "drop":
            connection.transport.abort()
        elif fault == "close1011":
            await connection.close(1011, "internal server error")
        elif fault == "stall":
            await asyncio.sleep(STALL_SECONDS)
        elif fault == "garbage":
            # What a proxy in the way sends: not JSON, not the protocol. Nothing
            # more follows, so a fault never depends on how fast the client hangs up.
            await connection.send("\x00\x9f<html>502 Bad Gateway</html>")
            await asyncio.sleep(STALL_SECONDS)
        elif fault == "busy":
            await stream.refuse(BUSY)
        else:
            return False
        return True


async def refuse(connection: ServerConnection, frame: str, reason: str) -> None:
    """The service's error frame, then close 1008 with its message as far as a close frame carries it."""
    await connection.send(frame)
    await connection.close(1008, reason.encode()[:CLOSE_REASON_BYTES].decode("utf-8", "ignore"))


def _first_third(text: str) -> str:
    words = text.split()
    return " ".join(words[: max(1, len(words) // 3)])
