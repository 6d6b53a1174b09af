"""The embedded server: ElevenLabs `stream-input` and Sarvam streaming
text-to-speech on loopback, over the embedded engine.

Protocol decisions live in `protocol.elevenlabs_server` and `protocol.sarvam_server` (pure); this
module only moves frames, runs synthesis in threads so the event loop never
blocks, and can pretend to be a cloud service (time to first byte,
generation speed, generations at once) or misbehave on purpose (`faults`).
Everything but the frames is shared by both protocols.
"""

from __future__ import annotations

import abc
import asyncio
import base64
import contextlib
import datetime
import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from narrator.errors import ConfigError
from narrator.protocol import elevenlabs_server, sarvam_server
from narrator.protocol.elevenlabs_server import EndOfInput, Reject, StreamInput, check_query
from narrator.protocol.sarvam import SarvamSettings
from narrator.protocol.sarvam_server import Completed, Query, SarvamWs, read_query
from narrator.protocol.sarvam_server import Error as SarvamError
from narrator.server.engine.espeak import Espeak
from narrator.server.engine.render import Rendered, parse_output_format, render, render_mp3
from narrator.server.faults import SHAPING_FAULTS, FaultPlan

GENERATIONS = (elevenlabs_server.Generate, sarvam_server.Generate)

STREAM_INPUT_PATH = re.compile(r"^/v1/text-to-speech/([^/]+)/stream-input$")
# The service's own voice ids (20 letters and digits) are served in the default
# voice, so a client set up for the cloud runs here unchanged.
CLOUD_VOICE_ID = re.compile(r"^[A-Za-z0-9]{20}$")
BUSY = Reject("too_many_concurrent_requests", "Too many concurrent requests for your plan. Please try again later.")
MAX_INACTIVITY = 180
STALL_SECONDS = 3600
SARVAM_PATH = "/text-to-speech/ws"
# ElevenLabs' REST quota check, answered as plain HTTP on the WebSocket port.
SUBSCRIPTION_PATH = "/v1/user/subscription"
UNLIMITED_CHARACTERS = 10_000_000  # the limit reported when no quota fault is set
INVALID_API_KEY = {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}
SARVAM_IDLE_TIMEOUT = 60.0  # the service closes a connection idle for one minute
# espeak-ng's voice for each of Sarvam's languages (Odia is "or" to espeak-ng).
# The speaker (anushka, abhilash, ...) does not change the voice: the engine
# has one voice per language, so every speaker of a language sounds alike.
SARVAM_VOICES = {
    "bn-IN": "bn", "en-IN": "en", "gu-IN": "gu", "hi-IN": "hi", "kn-IN": "kn", "ml-IN": "ml",
    "mr-IN": "mr", "od-IN": "or", "pa-IN": "pa", "ta-IN": "ta", "te-IN": "te",
}
CLOSE_REASON_BYTES = 123  # all a close frame carries; a longer reason fails to send


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
        sarvam_idle_timeout: float = SARVAM_IDLE_TIMEOUT,
    ):
        self.host, self._port = host, port
        self._api_key = api_key
        self._sarvam_idle_timeout = sarvam_idle_timeout
        self._profile = profile
        self._faults = faults or FaultPlan()
        self._ssl = ssl
        self._capacity = asyncio.Semaphore(profile.capacity) if profile.capacity else None
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="narrator-synth")
        self._server = None
        self.stats = Stats()

    async def start(self) -> EmbeddedServer:
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

    async def __aenter__(self) -> EmbeddedServer:
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
        """Refuse a handshake before it upgrades. The handshake fault is
        rolled for every protocol alike."""
        path = urlsplit(request.path).path
        # websockets hands any GET to this hook, upgrade or not: the quota check is
        # answered here, and never rolls the handshake fault (it is no handshake).
        if path == SUBSCRIPTION_PATH:
            return self._subscription(connection, request.headers)
        if not (STREAM_INPUT_PATH.match(path) or path == SARVAM_PATH):
            return connection.respond(HTTPStatus.FORBIDDEN, "Forbidden\n")
        # Sarvam judges its key at the handshake (the SDK reports a 401 as invalid
        # credentials); ElevenLabs takes its key in the first message too, so it waits.
        if path == SARVAM_PATH and not self._sarvam_key_matches(request.headers):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Invalid API subscription key\n")
        if self._faults.at_handshake() == "http429":
            return connection.respond(HTTPStatus.TOO_MANY_REQUESTS, '{"detail":{"status":"too_many_concurrent_requests"}}\n')
        return None

    def _subscription(self, connection: ServerConnection, headers):
        # Exactly one xi-api-key, and the right one: a second value never rescues a wrong first.
        if self._api_key is not None and headers.get_all("xi-api-key") != [self._api_key]:
            return _json_response(connection, HTTPStatus.UNAUTHORIZED, INVALID_API_KEY)
        return _json_response(connection, HTTPStatus.OK, subscription_body(self._faults, time.time()))

    def _sarvam_key_matches(self, headers) -> bool:
        return self._api_key is None or self._api_key in headers.get_all("api-subscription-key")

    async def _handle(self, connection: ServerConnection) -> None:
        self.stats.connections += 1
        parts = urlsplit(connection.request.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.path == SARVAM_PATH:
            await self._serve_sarvam(connection, query)
        else:
            await self._serve_stream_input(connection, parts.path, query)

    async def _serve_stream_input(self, connection: ServerConnection, path: str, query: dict[str, str]) -> None:
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
        voice = STREAM_INPUT_PATH.match(path).group(1)
        known = CLOUD_VOICE_ID.match(voice) or await asyncio.get_running_loop().run_in_executor(
            self._executor, Espeak.shared().has_voice, voice)
        if not known:
            await _reject(connection, Reject("voice_not_found", f"A voice with the voice_id {voice} was not found."))
            return
        stream = _StreamInputStream(
            connection,
            StreamInput(required_key=self._api_key, header_key=connection.request.headers.get("xi-api-key")),
            voice=voice,
            output_format=output_format,
        )
        reason = f"Have not received a new text input within the timeout of {inactivity:g} seconds. Closing the connection."
        await self._converse(stream, self._generate_stream_input(stream), inactivity, reason)

    async def _serve_sarvam(self, connection: ServerConnection, query: dict[str, str]) -> None:
        request_id = str(uuid.uuid4())
        asked = read_query(query)
        if not isinstance(asked, Query):
            await _sarvam_fail(connection, asked, request_id)
            return
        stream = _SarvamStream(connection, SarvamWs(asked.model), asked.completion_event, request_id)
        idle = self._sarvam_idle_timeout
        reason = f"No message for {idle:g} seconds: closing the idle connection (send a ping to keep it open)."
        await self._converse(stream, self._generate_sarvam(stream), idle, reason)

    async def _converse(self, stream: _Stream, generate, idle: float, idle_reason: str) -> None:
        """Receive while `generate` answers in order, until the input ends,
        the connection is refused, idles or closes. Only an input that ended
        is still owed its audio."""
        generator = asyncio.create_task(generate)
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

    async def _receive_all(self, stream: _Stream, idle: float, idle_reason: str) -> None:
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

    def _queue(self, stream: _Stream, actions: list) -> None:
        """Queue what one message asks for. Faults are rolled per message:
        one roll for all the generations it asks for (a whole segment, when
        it ends with a flush). A fault that ends the request strikes the last
        of them, after the others' audio went out, as a connection failing
        mid-stream does."""
        generations = [a for a in actions if isinstance(a, GENERATIONS)]
        fault = self._faults.at_request(generations[0].text) if generations else None
        # A fault that shapes audio strikes the first generation, so the rest still follows it.
        struck = (generations[0] if fault in SHAPING_FAULTS else generations[-1]) if generations else None
        for action in actions:
            stream.pending.put_nowait((action, fault if action is struck else None))

    async def _generate_stream_input(self, stream: _StreamInputStream) -> None:
        while True:
            action, fault = await stream.pending.get()
            if isinstance(action, EndOfInput):
                await stream.connection.send(
                    json.dumps({"audio": None, "isFinal": True, "alignment": None, "normalizedAlignment": None})
                )
                await stream.connection.close(1000)
                return
            speed = float(stream.state.voice_settings.get("speed") or 1.0)
            synthesize = partial(render, voice=stream.voice, output_format=stream.output_format, speed=speed)
            if not await self._generate(stream, action, fault, synthesize, _stream_input_audio):
                return

    async def _generate_sarvam(self, stream: _SarvamStream) -> None:
        """Replies go out in the order their messages came, audio included."""
        while True:
            action, fault = await stream.pending.get()
            if isinstance(action, SarvamError):
                await stream.connection.send(_sarvam_error(action, stream.request_id))
            elif isinstance(action, Completed):
                if stream.completion_event:
                    await stream.connection.send(_sarvam_final())
            elif not await self._generate(stream, action, fault, _sarvam_synthesizer(action.settings), stream.audio):
                return

    async def _generate(self, stream: _Stream, action, fault: str | None, synthesize, frame) -> bool:
        """One generation, the same for every protocol: a fault or the
        capacity limit may end it and the connection instead (False); else
        the engine runs in a thread, paced like a cloud, and
        `frame(rendered, fault)` is sent."""
        stream.generating = True
        if await self._misbehave(stream, fault, len(action.text)):
            return False
        if self._over_capacity():
            await stream.refuse(BUSY)
            return False
        rendered = await self._render(action, synthesize, fault)
        await stream.connection.send(frame(rendered, fault))
        stream.last_sent = time.monotonic()
        stream.generating = False
        return True

    async def _render(self, action, synthesize, fault: str | None) -> Rendered:
        # `truncate` speaks the first third of the words only, and aligns what it spoke.
        text = _first_third(action.text) if fault == "truncate" else action.text
        async with self._capacity or contextlib.nullcontext():
            started = time.monotonic()
            rendered = await asyncio.get_running_loop().run_in_executor(self._executor, synthesize, text)
            await self._pretend(started, rendered.audio_seconds, action.starts_stream)
            self.stats.generating_seconds += time.monotonic() - started
        self.stats.characters += len(action.text)
        self.stats.audio_seconds += rendered.audio_seconds
        return rendered

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

    async def _misbehave(self, stream: _Stream, fault: str | None, characters: int) -> bool:
        """Act out a fault that ends the generation (True), or charge the
        quota, in any protocol: a refusal goes through `stream.refuse`, in
        the connection's own protocol. Faults that only shape the audio are
        left to `_render` and the protocol's audio frame."""
        connection = stream.connection
        left = self._faults.charge(characters)
        if left is not None:
            await stream.refuse(Reject("quota_exceeded", (
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
            await stream.refuse(BUSY)
        else:
            return False
        return True


class _Stream(abc.ABC):
    """One connection's protocol state and the generations it still owes."""

    ended = False  # the client said its input is complete

    def __init__(self, connection: ServerConnection):
        self.connection = connection
        self.pending: asyncio.Queue = asyncio.Queue()
        self.generating = False
        self.last_sent = 0.0  # when the last audio went out (monotonic)

    @property
    def owes_audio(self) -> bool:
        return self.generating or not self.pending.empty()

    @abc.abstractmethod
    async def receive(self, raw: str | bytes) -> list | None:
        """What a message asks for, in order; None when the connection ends here."""

    @abc.abstractmethod
    async def refuse(self, reject: Reject) -> None:
        """Send a refusal in this protocol's words, then close 1008."""


class _StreamInputStream(_Stream):
    def __init__(self, connection: ServerConnection, state: StreamInput, *, voice: str, output_format: str):
        super().__init__(connection)
        self.state, self.voice, self.output_format = state, voice, output_format

    @property
    def ended(self) -> bool:
        return self.state.ended

    async def receive(self, raw: str | bytes) -> list | None:
        actions = self.state.receive(raw)
        for action in actions:
            if isinstance(action, Reject):
                await _reject(self.connection, action)
                return None
        return actions

    async def refuse(self, reject: Reject) -> None:
        await _reject(self.connection, reject)


class _SarvamStream(_Stream):
    def __init__(self, connection: ServerConnection, state: SarvamWs, completion_event: bool, request_id: str):
        super().__init__(connection)
        self.state, self.completion_event, self.request_id = state, completion_event, request_id

    async def receive(self, raw: str | bytes) -> list | None:
        # Error replies are queued too, so every reply keeps its message's place.
        return self.state.receive(raw)

    async def refuse(self, reject: Reject) -> None:
        # The refusals that end a generation (quota, too many at once) are the service's 429s.
        await _sarvam_fail(self.connection, SarvamError(reject.message, 429), self.request_id)

    def audio(self, rendered: Rendered, fault: str | None) -> str:
        """Sarvam sends no timings, so no fault that shapes them applies."""
        return json.dumps({"type": "audio", "data": {
            "content_type": "audio/mp3",
            "audio": base64.b64encode(rendered.mp3).decode("ascii"),
            "request_id": self.request_id,
        }})


def _stream_input_audio(rendered: Rendered, fault: str | None) -> str:
    alignment = None if fault == "nullalign" else rendered.alignment
    return json.dumps({
        "audio": base64.b64encode(rendered.mp3).decode("ascii"),
        "isFinal": None,
        "alignment": alignment,
        "normalizedAlignment": alignment,
    })


def subscription_body(faults: FaultPlan, now: float) -> dict:
    """What ElevenLabs' GET /v1/user/subscription says, for the quota fault:
    its quota is the limit and what it charged is the count. Without a
    quota the limit is large and the count stays 0 (nothing is charged)."""
    return {
        "tier": "embedded",
        "character_count": faults.charged,
        "character_limit": UNLIMITED_CHARACTERS if faults.quota is None else faults.quota,
        "can_extend_character_limit": False,
        "allowed_to_extend_character_limit": False,
        "next_character_count_reset_unix": _next_month_unix(now),
        "status": "active",
    }


def _next_month_unix(now: float) -> int:
    # Monthly plans reset on a day of the month: the first of the next month, UTC, will do.
    today = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return int(datetime.datetime(year, month, 1, tzinfo=datetime.timezone.utc).timestamp())


def _json_response(connection: ServerConnection, status: HTTPStatus, body: dict):
    response = connection.respond(status, json.dumps(body))
    # respond() says text/plain; Headers would keep both values if only set, so replace it.
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response


def _sarvam_synthesizer(settings: SarvamSettings):
    # pace is the speaking rate, as ElevenLabs' speed is; the engine has no pitch or loudness to set.
    return partial(render_mp3, voice=SARVAM_VOICES[settings.language_code], sample_rate=settings.sample_rate,
                   kbps=int(settings.bitrate.removesuffix("k")), speed=settings.pace)


def _sarvam_error(error: SarvamError, request_id: str) -> str:
    return json.dumps({"type": "error", "data": {"message": error.message, "code": error.code, "request_id": request_id}})


def _sarvam_final() -> str:
    return json.dumps({"type": "event", "data": {
        "event_type": "final",
        "message": "Speech generation complete for everything sent before the flush",
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }})


async def _sarvam_fail(connection: ServerConnection, error: SarvamError, request_id: str) -> None:
    await _refuse(connection, _sarvam_error(error, request_id), error.message)


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
    await _refuse(connection, reject.frame(), reject.message)


async def _refuse(connection, frame: str, reason: str) -> None:
    """The service's error frame, then close 1008 with its message as far as a close frame carries it."""
    await connection.send(frame)
    await connection.close(1008, reason.encode()[:CLOSE_REASON_BYTES].decode("utf-8", "ignore"))
