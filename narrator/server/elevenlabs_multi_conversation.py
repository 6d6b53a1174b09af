"""The embedded server's ElevenLabs multi-context conversation (`multi-stream-input`).

The URL is judged as stream-input's is (`elevenlabs_conversation.judge`, by the app);
then the state machine of `protocol.elevenlabs_multi_server` decides. Each
context id has a lane of its own: its generations go out in order, each
audio frame naming its context, then its isFinal. Different contexts
generate at once (each generation holding the pacer's capacity, as on
stream-input), their frames taking turns on the wire, so their audio
interleaves as a real service's may. A context that is open and has heard nothing for the inactivity
timeout, with its audio all sent, ends the connection with 1008, as does a
connection with no context open and no message for as long.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from functools import partial

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from narrator.protocol.elevenlabs_multi_server import (
    Action,
    CloseContext,
    CloseSocket,
    Heard,
    InContext,
    MultiStreamInput,
)
from narrator.protocol.elevenlabs_server import Reject
from narrator.server.conversation import Conversations, Lane, Stream, Turns
from narrator.server.elevenlabs_conversation import Asked, audio_frame, idle_reason, send_rejection
from narrator.server.engine.render import render

log = logging.getLogger("narrator.server")
SOON = 0.01  # the shortest wait for a deadline that has come: never a busy loop


async def serve(connection: ServerConnection, asked: Asked, conversations: Conversations) -> None:
    """Converse on multi-stream-input, once `judge` let the URL through."""
    state = MultiStreamInput(required_key=asked.api_key, header_keys=asked.header_keys)
    stream = MultiStream(connection, state, conversations, voice=asked.voice,
                         output_format=asked.output_format, ssml=asked.ssml)
    await conversations.run(stream, stream.answer(), asked.inactivity, idle_reason(asked.inactivity))


class ContextLane(Lane[Action]):
    """One context id's generations and isFinals, in order, and when it was last heard from."""

    def __init__(self, connection: ServerConnection, context_id: str, turns: Turns) -> None:
        super().__init__(connection, turns)
        self.context_id = context_id
        self.heard = time.monotonic()
        self.worker: asyncio.Task[None] | None = None

    async def refuse(self, reject: Reject) -> None:
        await send_rejection(self.connection, reject)

    def deadline(self, idle: float) -> float | None:
        """When it idles out; None while it owes audio (the clock waits)."""
        return None if self.owes_audio else max(self.heard, self.last_sent) + idle


class MultiStream(Stream[Action]):
    """The connection: its contexts' state, a lane per context id, and
    whether close_socket came."""

    def __init__(
        self,
        connection: ServerConnection,
        state: MultiStreamInput,
        conversations: Conversations,
        *,
        voice: str,
        output_format: str,
        ssml: bool = False,
    ) -> None:
        super().__init__(connection)
        self.state = state
        self._conversations = conversations
        self._voice, self._output_format, self._ssml = voice, output_format, ssml
        self._lanes: dict[str, ContextLane] = {}
        self._heard = time.monotonic()
        self._closing = asyncio.Event()

    @property
    def ended(self) -> bool:
        return self.state.ended

    @property
    def owes_audio(self) -> bool:
        return any(lane.owes_audio for lane in self._lanes.values())

    async def receive(self, raw: str | bytes) -> list[Action] | None:
        self._heard = time.monotonic()
        actions = self.state.receive(raw)
        for action in actions:
            if isinstance(action, Reject):
                await send_rejection(self.connection, action)
                return None
            if isinstance(action, Heard):
                self._lane(action.context_id).heard = self._heard
        return [action for action in actions if not isinstance(action, Heard)]

    async def refuse(self, reject: Reject) -> None:
        await send_rejection(self.connection, reject)

    def queue(self, action: Action, faults: frozenset[str]) -> None:
        """Into its context's lane, whose worker runs while the lane has work."""
        if isinstance(action, CloseSocket):
            self._closing.set()
        elif isinstance(action, (InContext, CloseContext)):
            lane = self._lane(action.context_id)
            lane.pending.put_nowait((action, faults))
            if lane.worker is None or lane.worker.done():
                lane.worker = asyncio.create_task(self._work(lane))

    def idle_in(self, idle: float) -> float:
        deadlines = self._deadlines(idle)
        return max(min(deadlines) - time.monotonic(), SOON) if deadlines else idle

    def idled(self, idle: float) -> bool:
        now = time.monotonic()
        return any(deadline <= now for deadline in self._deadlines(idle))

    async def answer(self) -> None:
        """Once close_socket came and every context's isFinal went out: close 1000."""
        try:
            await self._closing.wait()
            await asyncio.gather(*(lane.worker for lane in self._lanes.values() if lane.worker))
            await self.connection.close(1000)
        finally:
            for lane in self._lanes.values():
                if lane.worker:
                    lane.worker.cancel()

    def _deadlines(self, idle: float) -> list[float]:
        """When the open contexts that owe no audio idle out; with none open
        and nothing owed, when the connection does."""
        open_lanes = [self._lanes[context_id] for context_id in self.state.open_contexts]
        if open_lanes:
            return [deadline for lane in open_lanes if (deadline := lane.deadline(idle)) is not None]
        if self.owes_audio:
            return []
        last_sent = max((lane.last_sent for lane in self._lanes.values()), default=0.0)
        return [max(self._heard, last_sent) + idle]

    def _lane(self, context_id: str) -> ContextLane:
        if context_id not in self._lanes:
            self._lanes[context_id] = ContextLane(self.connection, context_id, self.turns)
        return self._lanes[context_id]

    async def _work(self, lane: ContextLane) -> None:
        """The lane's actions in order, until none is left (more work starts
        another worker) or a fault ended the connection."""
        frame = partial(audio_frame, contextId=lane.context_id)
        try:
            while not lane.pending.empty():
                action, faults = lane.pending.get_nowait()
                if isinstance(action, CloseContext):
                    await self._final(lane)
                    continue
                assert isinstance(action, InContext)  # queue() lets nothing else in
                synthesize = partial(render, voice=self._voice, output_format=self._output_format,
                                     speed=action.speed, ssml=self._ssml)
                if not await self._conversations.generate(lane, action, faults, synthesize, frame):
                    return
        except ConnectionClosed:
            pass  # the receiving side sees it too, and ends the conversation
        except Exception:
            # What websockets does for a handler that fails: nobody awaits a worker until close_socket.
            log.exception("generating in context %r failed", lane.context_id)
            await self.connection.close(1011, "internal server error")

    async def _final(self, lane: ContextLane) -> None:
        # Its place is free once its isFinal is on its way: a client that read it may open another.
        self.state.finished(lane.context_id)
        await self.connection.send(json.dumps({"isFinal": True, "contextId": lane.context_id}))
        lane.last_sent = time.monotonic()
