"""The embedded server: ElevenLabs `stream-input` and `multi-stream-input`
and Sarvam streaming text-to-speech on loopback, over the embedded engine.

This module is the HTTP side: it starts and stops the server, refuses a
handshake before it upgrades (the path, Sarvam's key, the `http429` fault),
answers ElevenLabs' subscription endpoint, and hands each connection to its
protocol's conversation (`elevenlabs_conversation`,
`elevenlabs_multi_conversation`, `sarvam_conversation`).
What both conversations share is in `conversation`, and how the server
pretends to be a cloud service (time to first byte, generation speed,
generations at once) in `pacing`. Protocol decisions live in
`protocol.elevenlabs_server`, `protocol.elevenlabs_multi_server` and
`protocol.sarvam_server` (pure).
"""

from __future__ import annotations

import datetime
import json
import time
from http import HTTPStatus
from ssl import SSLContext
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from narrator.protocol.frames import key_matches
from narrator.server import elevenlabs_conversation, elevenlabs_multi_conversation, sarvam_conversation
from narrator.server.conversation import Conversations
from narrator.server.faults import FaultPlan
from narrator.server.pacing import CloudProfile, Pacer, Stats
from narrator.server.sarvam_conversation import SARVAM_IDLE_TIMEOUT, SARVAM_PATH

# ElevenLabs' REST quota check, answered as plain HTTP on the WebSocket port.
SUBSCRIPTION_PATH = "/v1/user/subscription"
UNLIMITED_CHARACTERS = 10_000_000  # the limit reported when no quota fault is set
INVALID_API_KEY: dict[str, object] = {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}


class EmbeddedServer:
    """Both services on one port: `async with EmbeddedServer() as server`
    serves at `server.url` until the block ends."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        profile: CloudProfile | None = None,
        faults: FaultPlan | None = None,
        ssl: SSLContext | None = None,
        sarvam_idle_timeout: float = SARVAM_IDLE_TIMEOUT,
    ) -> None:
        self.host, self._port = host, port
        self._api_key = api_key
        self._sarvam_idle_timeout = sarvam_idle_timeout
        self._faults = faults or FaultPlan()
        self._ssl = ssl
        self._server: Server | None = None
        self.stats = Stats()
        self._pacer = Pacer(profile or CloudProfile(), self.stats)
        self._conversations = Conversations(self._faults, self._pacer)

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
        self._pacer.close()
        self.stats.faults = dict(self._faults.injected)

    async def __aenter__(self) -> EmbeddedServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the embedded server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        scheme = "wss" if self._ssl else "ws"
        return f"{scheme}://{self.host}:{self.port}"

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse a handshake before it upgrades. The handshake fault is
        rolled for every protocol alike."""
        path = urlsplit(request.path).path
        # websockets hands any GET to this hook, upgrade or not: the quota check is
        # answered here, and never rolls the handshake fault (it is no handshake).
        if path == SUBSCRIPTION_PATH:
            return self._subscription(connection, request.headers)
        if not (elevenlabs_conversation.route(path) or path == SARVAM_PATH):
            return connection.respond(HTTPStatus.FORBIDDEN, "Forbidden\n")
        # Sarvam judges its key at the handshake (the SDK reports a 401 as invalid
        # credentials); ElevenLabs takes its key in the first message too, so it waits.
        if path == SARVAM_PATH and not self._sarvam_key_matches(request.headers):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Invalid API subscription key\n")
        if self._faults.at_handshake() == "http429":
            busy = '{"detail":{"status":"too_many_concurrent_requests"}}\n'
            return connection.respond(HTTPStatus.TOO_MANY_REQUESTS, busy)
        return None

    def _subscription(self, connection: ServerConnection, headers: Headers) -> Response:
        if not key_matches(self._api_key, headers.get_all("xi-api-key")):
            return _json_response(connection, HTTPStatus.UNAUTHORIZED, INVALID_API_KEY)
        return _json_response(connection, HTTPStatus.OK, subscription_body(self._faults, time.time()))

    def _sarvam_key_matches(self, headers: Headers) -> bool:
        return key_matches(self._api_key, headers.get_all("api-subscription-key"))

    async def _handle(self, connection: ServerConnection) -> None:
        self.stats.connections += 1
        request = connection.request
        assert request is not None  # websockets runs the handler after the handshake
        parts = urlsplit(request.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.path == SARVAM_PATH:
            idle = self._sarvam_idle_timeout
            await sarvam_conversation.serve(connection, query, self._conversations, idle=idle)
        elif route := elevenlabs_conversation.route(parts.path):  # the handshake let no other path through
            voice, endpoint = route
            asked = await elevenlabs_conversation.judge(
                connection, voice, query, self._conversations,
                api_key=self._api_key, header_keys=tuple(request.headers.get_all("xi-api-key")),
            )
            multi = endpoint == elevenlabs_conversation.MULTI_CONTEXT
            conversation = elevenlabs_multi_conversation if multi else elevenlabs_conversation
            if asked is not None:
                await conversation.serve(connection, asked, self._conversations)


def subscription_body(faults: FaultPlan, now: float) -> dict[str, object]:
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


def _json_response(connection: ServerConnection, status: HTTPStatus, body: dict[str, object]) -> Response:
    response = connection.respond(status, json.dumps(body))
    # respond() says text/plain; Headers would keep both values if only set, so replace it.
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response
