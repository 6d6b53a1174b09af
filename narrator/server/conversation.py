"""What every conversation shares, whichever protocol it speaks.

A connection's messages are received while the audio they ask for is
generated in other tasks (`Conversations.run`): each `Lane` of generations
in order, one lane per connection (stream-input, Sarvam) or one per
context (multi-context), lanes at once, their frames taking `Turns` on the
wire. The idle clock waits while audio is owed. Faults are rolled per
message and acted out here, the same for every protocol; refusals go out
in the connection's own protocol through its `Stream`, which each
protocol's module supplies.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import functools
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, TypeVar

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from narrator.protocol.chunking import Piece
from narrator.protocol.elevenlabs_server import Reject
from narrator.server.engine.render import Rendered
from narrator.server.faults import ENDING_FAULTS, EVERY_GENERATION_FAULTS, NO_FAULTS, FaultPlan
from narrator.server.pacing import Pacer
from narrator.server.shaping import shape

BUSY = Reject(
    "too_many_concurrent_requests", "Too many concurrent requests for your plan. Please try again later."
)
STALL_SECONDS = 3600
CLOSE_REASON_BYTES = 123  # all a close frame carries; a longer reason fails to send

ActionT = TypeVar("ActionT")


class Turns:
    """Which lanes of one connection are generating now, which of them are
    midway (sent a frame of their generation), and which sent the last
    frame. Before its next frame, a lane midway that sent the last one lets
    every other lane generating send one first, so the frames of
    generations running at once (`split` makes a generation several)
    alternate on the wire, as a service streaming them at once interleaves
    them. A lane counts only once it holds capacity, so none waits on one
    that is waiting for it; a generation's first frame never waits, so one
    frame per generation goes out as it always did."""

    def __init__(self) -> None:
        self._generating: set[object] = set()
        self._midway: set[object] = set()
        self._last: object | None = None
        self._changed = asyncio.Event()

    @contextlib.asynccontextmanager
    async def generating(self, lane: object) -> AsyncIterator[None]:
        self._generating.add(lane)
        try:
            yield
        finally:
            self._generating.discard(lane)
            self._midway.discard(lane)
            self._pulse()

    async def send(self, lane: Lane[Any], message: str) -> None:
        while lane in self._midway and self._last is lane and self._generating - {lane}:
            await self._changed.wait()
        self._last = lane
        self._midway.add(lane)
        try:
            await lane.connection.send(message)
        finally:
            self._pulse()

    def _pulse(self) -> None:
        """Wake whoever waits for a change; later waiters wait for the next."""
        self._changed.set()
        self._changed = asyncio.Event()


class Lane(abc.ABC, Generic[ActionT]):
    """Generations sent in order on a connection, each with its faults, and
    what it still owes; `turns` is shared by the lanes of a connection."""

    def __init__(self, connection: ServerConnection, turns: Turns | None = None) -> None:
        self.connection = connection
        self.turns = turns or Turns()
        self.pending: asyncio.Queue[tuple[ActionT, frozenset[str]]] = asyncio.Queue()
        self.generating = False
        self.last_sent = 0.0  # when the last audio went out (monotonic)

    @property
    def owes_audio(self) -> bool:
        return self.generating or not self.pending.empty()

    @abc.abstractmethod
    async def refuse(self, reject: Reject) -> None:
        """Send a refusal in this protocol's words, then close 1008."""


class Stream(Lane[ActionT]):
    """One connection's protocol state; it is its own lane unless it
    routes its actions to several (`queue`)."""

    @property
    def ended(self) -> bool:
        """The client said its input is complete."""
        return False

    @abc.abstractmethod
    async def receive(self, raw: str | bytes) -> list[ActionT] | None:
        """What a message asks for, in order; None when the connection ends here."""

    def queue(self, action: ActionT, faults: frozenset[str]) -> None:
        """Owe what a message asked for."""
        self.pending.put_nowait((action, faults))

    def idle_in(self, idle: float) -> float:
        """Seconds from now in which the connection may have idled: `idle`
        after the last message, unless `idled` says later."""
        return idle

    def idled(self, idle: float) -> bool:
        """Whether the connection is idle now, `idle` seconds after its last
        message: the clock waits while audio is owed, and starts again when
        the last of it went out."""
        return not self.owes_audio and time.monotonic() - self.last_sent >= idle


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
                # ...unless the client hangs up first: a stalled generation must not outlive it.
                hung_up = asyncio.create_task(stream.connection.wait_closed())
                await asyncio.wait([generator, hung_up], return_when=asyncio.FIRST_COMPLETED)
                hung_up.cancel()
        except ConnectionClosed:
            pass
        finally:
            generator.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await generator

    def at_connection(self, name: str) -> bool:
        """Whether a connection-wide fault (`coalesce`) holds for a connection opening now."""
        return self._faults.at_connection(name)

    async def generate(
        self,
        lane: Lane[ActionT],
        piece: Piece,
        faults: frozenset[str],
        synthesize: Callable[[str], Rendered],
        frame: Callable[[Rendered], str],
    ) -> bool:
        """One generation, the same for every protocol: a fault or the
        capacity limit may end it and the connection instead (False); else
        the engine renders it, paced like a cloud, and `frame(part)` is sent
        for each of its audio frames."""
        lane.generating = True
        if await self._misbehave(lane, faults, len(piece.text)):
            return False
        if self.pacer.over_capacity():
            await lane.refuse(BUSY)
            return False

        async def send(part: Rendered) -> None:
            await lane.turns.send(lane, frame(part))
            lane.last_sent = time.monotonic()

        await self._render(piece, synthesize, faults, send, functools.partial(lane.turns.generating, lane))
        lane.generating = False
        return True

    async def _receive_all(self, stream: Stream[ActionT], idle: float, idle_reason: str) -> None:
        connection = stream.connection
        while not stream.ended:
            try:
                raw = await asyncio.wait_for(connection.recv(), stream.idle_in(idle))
            except asyncio.TimeoutError:
                if not stream.idled(idle):
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
        it ends with a flush)."""
        generations = [a for a in actions if isinstance(a, Piece)]
        faults = self._faults.at_request(generations[0].text) if generations else NO_FAULTS
        ordinal = itertools.count()
        for action in actions:
            struck = NO_FAULTS
            if isinstance(action, Piece):
                struck = _strikes(next(ordinal), len(generations), faults)
            stream.queue(action, struck)

    async def _render(
        self,
        piece: Piece,
        synthesize: Callable[[str], Rendered],
        faults: frozenset[str],
        send: Callable[[Rendered], Awaitable[None]],
        holding: Callable[[], AbstractAsyncContextManager[None]],
    ) -> None:
        """The faults that shape audio act here: `truncate` speaks the first
        third of the words only (and aligns what it spoke); `nullalign` and
        `skipchars` change the alignment (`shaping`), in the engine's thread."""
        text = _first_third(piece.text) if "truncate" in faults else piece.text
        work = functools.partial(_shaped, synthesize, faults=faults, parts=self._faults.split)
        # The voice, for the record of what was heard: every protocol binds it into `synthesize`.
        voice = str(getattr(synthesize, "keywords", {}).get("voice", ""))
        await self.pacer.render(work, text, characters=len(piece.text), first=piece.starts_stream,
                                send=send, holding=holding, voice=voice)

    async def _misbehave(self, lane: Lane[ActionT], faults: frozenset[str], characters: int) -> bool:
        """Act out a fault that ends the generation (True), or charge the
        quota, in any protocol: a refusal goes through `lane.refuse`, in
        the connection's own protocol. Faults that only shape the audio are
        left to `_render`."""
        connection = lane.connection
        fault = next((name for name in ENDING_FAULTS if name in faults), None)
        left = self._faults.charge(characters)
        if left is not None:
            await lane.refuse(Reject("quota_exceeded", (
                # An API key can carry a credit limit of its own; its quota message names the key.
                f"This request exceeds your API key's quota of {self._faults.quota}. You have {left} credits "
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
            await lane.refuse(BUSY)
        else:
            return False
        return True


async def refuse(connection: ServerConnection, frame: str, reason: str) -> None:
    """The service's error frame, then close 1008 with its message as far as a close frame carries it."""
    await connection.send(frame)
    await connection.close(1008, reason.encode()[:CLOSE_REASON_BYTES].decode("utf-8", "ignore"))


def _strikes(index: int, count: int, faults: frozenset[str]) -> frozenset[str]:
    """Which of a request's faults strike its generation `index` of `count`.
    A fault that ends the request strikes the last, after the others' audio
    went out, as a connection failing mid-stream does; `nullalign` and
    `truncate` the first, so the rest still follows it; `skipchars` all."""
    struck = {name for name in faults if name in EVERY_GENERATION_FAULTS}
    struck |= {name for name in faults if name in ENDING_FAULTS} if index == count - 1 else set()
    struck |= {name for name in faults if name in ("nullalign", "truncate")} if index == 0 else set()
    return frozenset(struck)


def _shaped(synthesize: Callable[[str], Rendered], text: str, *, faults: frozenset[str],
            parts: int) -> list[Rendered]:
    return shape(synthesize(text), faults, parts)


def _first_third(text: str) -> str:
    words = text.split()
    return " ".join(words[: max(1, len(words) // 3)])
