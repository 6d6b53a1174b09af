"""The embedded server's Sarvam streaming text-to-speech conversation.

The query is judged before any message; then the state machine of
`protocol.sarvam_server` decides, and every reply (audio, an error, the
event that ends a flush) goes out in the order its message came. Each
generation is rendered in its language's engine voice at its config's
sample rate, bitrate and pace. Under the `coalesce` fault one completion
event stands for every flush that came while the connection was generating.
"""

from __future__ import annotations

import base64
import datetime
import json
import uuid
from collections.abc import Callable
from functools import partial

from websockets.asyncio.server import ServerConnection

from narrator.protocol.elevenlabs_server import Reject
from narrator.protocol.sarvam import SarvamSettings
from narrator.protocol.sarvam_server import Action, Completed, Error, Query, SarvamWs, read_query
from narrator.server.conversation import Conversations, Stream, refuse
from narrator.server.engine.render import Rendered, render_mp3

SARVAM_PATH = "/text-to-speech/ws"
SARVAM_IDLE_TIMEOUT = 60.0  # the service closes a connection idle for one minute
# espeak-ng's voice for each of Sarvam's languages (Odia is "or" to espeak-ng).
# The speaker (anushka, abhilash, ...) does not change the voice: the engine
# has one voice per language, so every speaker of a language sounds alike.
SARVAM_VOICES = {
    "bn-IN": "bn", "en-IN": "en", "gu-IN": "gu", "hi-IN": "hi", "kn-IN": "kn", "ml-IN": "ml",
    "mr-IN": "mr", "od-IN": "or", "pa-IN": "pa", "ta-IN": "ta", "te-IN": "te",
}


async def serve(
    connection: ServerConnection, query: dict[str, str], conversations: Conversations, *, idle: float
) -> None:
    request_id = str(uuid.uuid4())
    asked = read_query(query)
    if not isinstance(asked, Query):
        await _fail(connection, asked, request_id)
        return
    coalesce = asked.completion_event and conversations.at_connection("coalesce")
    stream = SarvamStream(connection, SarvamWs(asked.model), asked.completion_event, request_id, coalesce)
    reason = f"No message for {idle:g} seconds: closing the idle connection (send a ping to keep it open)."
    await conversations.run(stream, _answer(stream, conversations), idle, reason)


class SarvamStream(Stream[Action]):
    def __init__(
        self, connection: ServerConnection, state: SarvamWs, completion_event: bool, request_id: str,
        coalesce: bool = False,
    ) -> None:
        super().__init__(connection)
        self.state, self.completion_event, self.request_id = state, completion_event, request_id
        self.coalesce = coalesce  # one completion event for the flushes queued behind each other
        self.flushes_queued = 0

    async def receive(self, raw: str | bytes) -> list[Action]:
        # Error replies are queued too, so every reply keeps its message's place.
        return self.state.receive(raw)

    def queue(self, action: Action, faults: frozenset[str]) -> None:
        self.flushes_queued += isinstance(action, Completed)
        super().queue(action, faults)

    def completes(self) -> bool:
        """Whether a flush's generations, all sent now, end with a completion
        event: under `coalesce`, only the last of the flushes queued does."""
        self.flushes_queued -= 1
        return self.completion_event and not (self.coalesce and self.flushes_queued)

    async def refuse(self, reject: Reject) -> None:
        # The refusals that end a generation (quota, too many at once) are the service's 429s.
        await _fail(self.connection, Error(reject.message, 429), self.request_id)

    def audio(self, rendered: Rendered) -> str:
        """Sarvam sends no timings: only the audio."""
        return json.dumps({"type": "audio", "data": {
            "content_type": "audio/mp3",
            "audio": base64.b64encode(rendered.mp3).decode("ascii"),
            "request_id": self.request_id,
        }})


async def _answer(stream: SarvamStream, conversations: Conversations) -> None:
    """Replies go out in the order their messages came, audio included."""
    while True:
        action, fault = await stream.pending.get()
        if isinstance(action, Error):
            await stream.connection.send(_error(action, stream.request_id))
        elif isinstance(action, Completed):
            if stream.completes():
                await stream.connection.send(_final())
        else:
            synthesize = _synthesizer(action.settings)
            if not await conversations.generate(stream, action, fault, synthesize, stream.audio):
                return


def _synthesizer(settings: SarvamSettings) -> Callable[[str], Rendered]:
    # pace is the speaking rate, as ElevenLabs' speed is; the engine has no pitch or loudness to set.
    return partial(render_mp3, voice=SARVAM_VOICES[settings.language_code], sample_rate=settings.sample_rate,
                   kbps=int(settings.bitrate.removesuffix("k")), speed=settings.pace)


def _error(error: Error, request_id: str) -> str:
    data = {"message": error.message, "code": error.code, "request_id": request_id}
    return json.dumps({"type": "error", "data": data})


def _final() -> str:
    return json.dumps({"type": "event", "data": {
        "event_type": "final",
        "message": "Speech generation complete for everything sent before the flush",
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }})


async def _fail(connection: ServerConnection, error: Error, request_id: str) -> None:
    await refuse(connection, _error(error, request_id), error.message)
