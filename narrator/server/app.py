"""The embedded server: ElevenLabs `stream-input` on loopback, over the embedded engine.

Protocol decisions live in `stream_input` (pure); this module only moves
frames, runs synthesis in threads so the event loop never blocks, and can
pretend to be a cloud service (time to first byte, generation speed,
generations at once) or misbehave on purpose (`faults`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from narrator.engine.espeak import Espeak
from narrator.engine.render import parse_output_format, render
from narrator.errors import ConfigError
from narrator.server.faults import FaultPlan
from narrator.server.stream_input import EndOfInput, Generate, Reject, StreamInput, check_query

STREAM_INPUT_PATH = re.compile(r"^/v1/text-to-speech/([^/]+)/stream-input$")
# The service's own voice ids (20 letters and digits) are served in the default
# voice, so a client set up for the cloud runs here unchanged.
CLOUD_VOICE_ID = re.compile(r"^[A-Za-z0-9]{20}$")
BUSY = Reject("too_many_concurrent_requests", "Too many concurrent requests for your plan. Please try again later.")
MAX_INACTIVITY = 180
STALL_SECONDS = 3600


@dataclass(frozen=True)
class CloudProfile:
    """How a cloud service feels: 0 means "as fast as the engine goes"."""

    ttfb_ms: int = 0
    speed: float = 0.0  # audio seconds generated per wall second
    capacity: int = 0  # generations at once; others wait
    refuse: bool = False  # over capacity, refuse with "too many concurrent requests" instead of waiting


@dataclass
class Stats:
    connections: int = 0
    characters: int = 0
    audio_seconds: float = 0.0
    generating_seconds: float = 0.0
    refused: int = 0  # generations refused over capacity
    faults: dict = field(default_factory=dict)

    def line(self) -> str:
        data = asdict(self)
        data["audio_seconds"] = round(self.audio_seconds, 3)
        data["generating_seconds"] = round(self.generating_seconds, 3)
        return json.dumps(data)


class EmbeddedServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        profile: CloudProfile = CloudProfile(),
        faults: FaultPlan | None = None,
        ssl=None,
    ):
        self.host, self._port = host, port
        self._api_key = api_key
        self._profile = profile
        self._faults = faults or FaultPlan()
        self._ssl = ssl
        self._capacity = asyncio.Semaphore(profile.capacity) if profile.capacity else None
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="narrator-synth")
        self._server = None
        self.stats = Stats()

    async def start(self) -> "EmbeddedServer":
        self._server = await serve(
            self._handle, self.host, self._port, process_request=self._check_request, ssl=self._ssl,
            max_size=2**20, ping_interval=None,
        )
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.stats.faults = dict(self._faults.injected)

    async def __aenter__(self) -> "EmbeddedServer":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    @property
    def port(self) -> int:
        return self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        scheme = "wss" if self._ssl else "ws"
        return f"{scheme}://{self.host}:{self.port}"

    def _check_request(self, connection: ServerConnection, request):
        if not STREAM_INPUT_PATH.match(urlsplit(request.path).path):
            return connection.respond(HTTPStatus.FORBIDDEN, "Forbidden\n")
        if self._faults.at_handshake() == "http429":
            return connection.respond(HTTPStatus.TOO_MANY_REQUESTS, '{"detail":{"status":"too_many_concurrent_requests"}}\n')
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        self.stats.connections += 1
        parts = urlsplit(connection.request.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            output_format = query.get("output_format", "mp3_44100_128")
            parse_output_format(output_format)
            inactivity = _inactivity(query.get("inactivity_timeout"))
        except ConfigError as exc:
            await _reject(connection, Reject("invalid_input_message", str(exc)))
            return
        rejected = check_query(query)
        if rejected:
            await _reject(connection, rejected)
            return
        voice = STREAM_INPUT_PATH.match(parts.path).group(1)
        known = CLOUD_VOICE_ID.match(voice) or await asyncio.get_running_loop().run_in_executor(
            self._executor, Espeak.shared().has_voice, voice)
        if not known:
            await _reject(connection, Reject("voice_not_found", f"A voice with the voice_id {voice} was not found."))
            return
        stream = _Stream(
            connection,
            StreamInput(required_key=self._api_key, header_key=connection.request.headers.get("xi-api-key")),
            voice=voice,
            output_format=output_format,
        )
        generator = asyncio.create_task(self._generate_all(stream))
        try:
            await self._receive_all(stream, inactivity)
            if stream.state.ended:  # otherwise it was rejected or timed out: nothing more is owed
                await generator
        except ConnectionClosed:
            pass
        finally:
            generator.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await generator

    async def _receive_all(self, stream: "_Stream", inactivity: float) -> None:
        connection = stream.connection
        while not stream.state.ended:
            try:
                raw = await asyncio.wait_for(connection.recv(), inactivity)
            except asyncio.TimeoutError:
                if stream.owes_audio:
                    continue  # the inactivity clock waits while audio is still owed
                await connection.close(
                    1008,
                    f"Have not received a new text input within the timeout of {inactivity:g} seconds. Closing the connection.",
                )
                return
            for action in stream.state.receive(raw):
                if isinstance(action, Reject):
                    await _reject(connection, action)
                    return
                await stream.pending.put(action)

    async def _generate_all(self, stream: "_Stream") -> None:
        while True:
            action = await stream.pending.get()
            if isinstance(action, EndOfInput):
                await stream.connection.send(
                    json.dumps({"audio": None, "isFinal": True, "alignment": None, "normalizedAlignment": None})
                )
                await stream.connection.close(1000)
                return
            stream.generating = True
            fault = self._faults.at_generation(action.text)
            if await self._misbehave(stream.connection, fault, len(action.text)):
                return
            if self._over_capacity():
                await _reject(stream.connection, BUSY)
                return
            speed = float(stream.state.voice_settings.get("speed") or 1.0)
            message = await self._generate(action, stream.voice, stream.output_format, speed, fault)
            await stream.connection.send(message)
            stream.generating = False

    async def _generate(self, action: Generate, voice: str, output_format: str, speed: float, fault: str | None) -> str:
        # `truncate` speaks the first third of the words only, and aligns what it spoke.
        text = _first_third(action.text) if fault == "truncate" else action.text
        async with self._capacity or contextlib.nullcontext():
            started = time.monotonic()
            loop = asyncio.get_running_loop()
            rendered = await loop.run_in_executor(
                self._executor, partial(render, text, voice=voice, output_format=output_format, speed=speed)
            )
            await self._pretend(started, rendered.audio_seconds, action.starts_stream)
            self.stats.generating_seconds += time.monotonic() - started
        self.stats.characters += len(action.text)
        self.stats.audio_seconds += rendered.audio_seconds
        alignment = None if fault == "nullalign" else rendered.alignment
        return json.dumps({
            "audio": base64.b64encode(rendered.mp3).decode("ascii"),
            "isFinal": None,
            "alignment": alignment,
            "normalizedAlignment": alignment,
        })

    async def _pretend(self, started: float, audio_seconds: float, first: bool) -> None:
        profile = self._profile
        target = (profile.ttfb_ms / 1000 if first else 0.0) + (audio_seconds / profile.speed if profile.speed else 0.0)
        remaining = target - (time.monotonic() - started)
        if remaining > 0:
            await asyncio.sleep(remaining)

    def _over_capacity(self) -> bool:
        if not (self._profile.refuse and self._capacity and self._capacity.locked()):
            return False
        self.stats.refused += 1
        return True

    async def _misbehave(self, connection, fault: str | None, characters: int) -> bool:
        """Act out a fault that ends the generation (True), or charge the
        quota. Faults that only shape the audio are left to `_generate`."""
        left = self._faults.charge(characters)
        if left is not None:
            await _reject(connection, Reject("quota_exceeded", (
                f"This request exceeds your quota of {self._faults.quota}. You have {left} credits remaining, "
                f"while {characters} credits are required for this request.")))
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
            await _reject(connection, BUSY)
        else:
            return False
        return True


@dataclass
class _Stream:
    """One connection's protocol state and the generations it still owes."""

    connection: ServerConnection
    state: StreamInput
    voice: str
    output_format: str
    pending: asyncio.Queue = field(default_factory=asyncio.Queue)
    generating: bool = False

    @property
    def owes_audio(self) -> bool:
        return self.generating or not self.pending.empty()


def _first_third(text: str) -> str:
    words = text.split()
    return " ".join(words[: max(1, len(words) // 3)])


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


async def _reject(connection, reject: Reject) -> None:
    await connection.send(reject.frame())
    await connection.close(1008, reject.message)
