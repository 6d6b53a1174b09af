"""The embedded server's ElevenLabs `stream-input` conversation.

The query and the voice are judged before any message (`judge`, which the
multi-context conversation shares); then the state machine of
`protocol.elevenlabs_server` decides, and each generation is rendered at
the connection's output format and sent as the service's audio frame
(`audio_frame`), with its alignment.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from functools import partial

from websockets.asyncio.server import ServerConnection

from narrator.errors import ConfigError
from narrator.protocol.elevenlabs_server import Action, EndOfInput, Generate, Reject, StreamInput, check_query
from narrator.server.conversation import Conversations, Stream, refuse
from narrator.server.engine.espeak import Espeak
from narrator.server.engine.render import Rendered, parse_output_format, render

# Both endpoints: stream-input, and its multi-context form (elevenlabs_multi_conversation).
ELEVENLABS_PATH = re.compile(r"^/v1/text-to-speech/([^/]+)/(stream-input|multi-stream-input)$")
MULTI_CONTEXT = "multi-stream-input"
# The service's own voice ids (20 letters and digits) are served in the default
# voice, so a client set up for the cloud runs here unchanged.
CLOUD_VOICE_ID = re.compile(r"^[A-Za-z0-9]{20}$")
MAX_INACTIVITY = 180


@dataclass(frozen=True)
class Asked:
    """What a connection's URL and handshake ask for, judged."""

    voice: str
    output_format: str
    inactivity: float
    api_key: str | None  # the key the server requires, if any
    header_keys: tuple[str, ...]  # the handshake's xi-api-key values: they spare a first message its key
    ssml: bool = False  # enable_ssml_parsing: tags are read, not spoken


def route(path: str) -> tuple[str, str] | None:
    """The voice and the endpoint (stream-input or multi-stream-input) a path names; None for any other."""
    match = ELEVENLABS_PATH.match(path)
    return (match.group(1), match.group(2)) if match else None


async def serve(connection: ServerConnection, asked: Asked, conversations: Conversations) -> None:
    """Converse on stream-input, once `judge` let the URL through."""
    state = StreamInput(required_key=asked.api_key, header_keys=asked.header_keys)
    stream = StreamInputStream(connection, state, voice=asked.voice, output_format=asked.output_format,
                               ssml=asked.ssml)
    await conversations.run(stream, _answer(stream, conversations), asked.inactivity,
                            idle_reason(asked.inactivity))


async def judge(connection: ServerConnection, voice: str, query: dict[str, str], conversations: Conversations,
                *, api_key: str | None, header_keys: tuple[str, ...]) -> Asked | None:
    """What the URL asks for (either endpoint), or None once a bad query or
    an unknown voice was refused."""
    try:
        output_format = query.get("output_format", "mp3_44100_128")
        parse_output_format(output_format)
        inactivity = _inactivity(query.get("inactivity_timeout"))
    except ConfigError as exc:
        await send_rejection(connection, Reject("invalid_input_message", str(exc)))
        return None
    rejected = check_query(query)
    if rejected:
        await send_rejection(connection, rejected)
        return None
    if not await _known(voice, conversations):
        message = f"A voice with the voice_id {voice} was not found."
        await send_rejection(connection, Reject("voice_not_found", message))
        return None
    ssml = query.get("enable_ssml_parsing", "false").lower() == "true"
    return Asked(voice, output_format, inactivity, api_key, header_keys, ssml)


def idle_reason(inactivity: float) -> str:
    return (f"Have not received a new text input within the timeout of {inactivity:g} seconds. "
            "Closing the connection.")


class StreamInputStream(Stream[Action]):
    def __init__(
        self, connection: ServerConnection, state: StreamInput, *, voice: str, output_format: str,
        ssml: bool = False,
    ) -> None:
        super().__init__(connection)
        self.state, self.voice, self.output_format, self.ssml = state, voice, output_format, ssml

    @property
    def ended(self) -> bool:
        return self.state.ended

    async def receive(self, raw: str | bytes) -> list[Action] | None:
        actions = self.state.receive(raw)
        for action in actions:
            if isinstance(action, Reject):
                await send_rejection(self.connection, action)
                return None
        return actions

    async def refuse(self, reject: Reject) -> None:
        await send_rejection(self.connection, reject)


async def _answer(stream: StreamInputStream, conversations: Conversations) -> None:
    """Audio for each generation in order, then the final frame and a close once the input ended."""
    while True:
        action, fault = await stream.pending.get()
        if isinstance(action, EndOfInput):
            await stream.connection.send(
                json.dumps({"audio": None, "isFinal": True, "alignment": None, "normalizedAlignment": None})
            )
            await stream.connection.close(1000)
            return
        if isinstance(action, Generate):  # a Reject ended the connection before it was queued
            synthesize = partial(render, voice=stream.voice, output_format=stream.output_format,
                                 speed=stream.state.speed, ssml=stream.ssml)
            frame = partial(audio_frame, isFinal=None)
            if not await conversations.generate(stream, action, fault, synthesize, frame):
                return


async def _known(voice: str, conversations: Conversations) -> bool:
    """A cloud voice id (served in the default voice), or one of the engine's."""
    if CLOUD_VOICE_ID.match(voice):
        return True
    return await conversations.pacer.in_thread(Espeak.shared().has_voice, voice)


def audio_frame(rendered: Rendered, **extra: object) -> str:
    """The service's audio frame; the engine speaks the text as written, so
    its normalized alignment is the same."""
    return json.dumps({
        "audio": base64.b64encode(rendered.mp3).decode("ascii"),
        "alignment": rendered.alignment,
        "normalizedAlignment": rendered.alignment,
        **extra,
    })


def _inactivity(value: str | None) -> float:
    if value is None:
        return 20.0
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1
    if not 0 < seconds <= MAX_INACTIVITY:
        raise ConfigError(f"inactivity_timeout must be between 1 and {MAX_INACTIVITY} seconds")
    return seconds


async def send_rejection(connection: ServerConnection, rejected: Reject) -> None:
    await refuse(connection, rejected.frame(), rejected.message)
