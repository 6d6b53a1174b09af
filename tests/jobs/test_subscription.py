"""The ElevenLabs quota check, against the embedded server's GET /v1/user/subscription.

urllib blocks, so it runs in a thread while the server runs on the test's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import socket
import threading

import pytest
import websockets

from narrator.errors import ConfigError, ErrorKind, ServiceError
from narrator.jobs.subscription import Remaining, fits, remaining_characters, subscription_url
from narrator.server.app import EmbeddedServer, subscription_body
from narrator.server.faults import FaultPlan

KEY = "sk-subscription-test-4242"


async def ask(key: str, faults: FaultPlan | None = None, **kwargs) -> Remaining:
    async with EmbeddedServer(api_key=KEY, faults=faults or FaultPlan(quota=5000)) as server:
        return await asyncio.to_thread(remaining_characters, server.url, key, **kwargs)


def failure(endpoint: str, key: str = KEY, timeout: float = 5.0) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        remaining_characters(endpoint, key, timeout=timeout)
    assert "\n" not in str(caught.value) and key not in str(caught.value)
    return caught.value


def test_the_right_key_reads_the_quota():
    remaining = asyncio.run(ask(KEY))
    assert (remaining.used, remaining.limit, remaining.remaining, remaining.tier) == \
        (0, 5000, 5000, "embedded")
    assert isinstance(remaining.resets_unix, int)


def test_without_a_quota_the_limit_is_large():
    remaining = asyncio.run(ask(KEY, FaultPlan()))
    assert remaining.limit == 10_000_000 and remaining.used == 0


def test_a_wrong_key_is_an_auth_error_without_the_key():
    wrong = "sk-wrong-key-should-not-leak-777"
    with pytest.raises(ServiceError) as caught:
        asyncio.run(ask(wrong))
    error = caught.value
    assert error.kind is ErrorKind.AUTH and error.exit_code == 6
    assert str(error) == ("ElevenLabs subscription check failed: HTTP 401: invalid_api_key: Invalid API key; "
                          "check ELEVENLABS_API_KEY and the endpoint")
    assert wrong not in str(error) and KEY not in str(error)


def test_a_key_with_a_line_break_never_reaches_a_header():
    with pytest.raises(ServiceError) as caught:
        asyncio.run(ask(KEY + "\n"))
    assert caught.value.kind is ErrorKind.AUTH and KEY not in str(caught.value)


def test_the_server_answers_json_the_way_elevenlabs_does():
    async def main():
        async with EmbeddedServer(api_key=KEY, faults=FaultPlan(quota=5000)) as server:
            return await asyncio.to_thread(_get,
                                           server.url.replace("ws://", "http://") + "/v1/user/subscription")

    status, content_type, body = asyncio.run(main())
    assert (status, content_type) == (401, "application/json")
    assert json.loads(body) == {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}


def test_the_count_is_what_the_quota_charged_after_a_websocket_narration():
    """The stream-input path still works beside the new one, and its characters are counted."""
    async def main():
        faults = FaultPlan(quota=5000)
        async with EmbeddedServer(api_key=KEY, faults=faults) as server:
            uri = f"{server.url}/v1/text-to-speech/en-us/stream-input?output_format=mp3_22050_32"
            async with websockets.connect(uri) as ws:
                await ws.send(json.dumps({"text": " ", "xi_api_key": KEY}))
                await ws.send(json.dumps({"text": "Hello there, quiet harbour. ", "flush": True}))
                await ws.send(json.dumps({"text": ""}))
                frames = [json.loads(frame) async for frame in ws]
            remaining = await asyncio.to_thread(remaining_characters, server.url, KEY)
            return frames, remaining, faults.charged

    # A hang fails the test instead of the whole run.
    frames, remaining, charged = asyncio.run(asyncio.wait_for(main(), 60))
    assert any(frame.get("audio") for frame in frames) and frames[-1]["isFinal"] is True
    assert charged > 0 and remaining.used == charged and remaining.remaining == 5000 - charged


def test_a_closed_port_is_a_transient_service_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = failure(f"ws://127.0.0.1:{port}")
    assert error.kind is ErrorKind.TRANSIENT and error.retryable
    assert f"cannot reach http://127.0.0.1:{port}/v1/user/subscription" in str(error)


def test_a_server_that_never_answers_times_out_as_a_transient_error():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepted by the kernel, never answered
        error = failure(f"ws://127.0.0.1:{silent.getsockname()[1]}", timeout=0.3)
    assert error.kind is ErrorKind.TRANSIENT and "timed out" in str(error)


@pytest.mark.parametrize("status, body, kind, said", [
    (200, b"<html>502 Bad Gateway</html>", ErrorKind.PROTOCOL,
     "not a JSON object: '<html>502 Bad Gateway</html>'"),
    (200, b'{"tier": "free"}', ErrorKind.PROTOCOL, "no character_count and character_limit"),
    (429, b'{"detail": {"status": "too_many_requests", "message": "slow down"}}', ErrorKind.RATE_LIMIT,
     "HTTP 429: too_many_requests: slow down"),
    (503, b"unavailable", ErrorKind.TRANSIENT, "HTTP 503"),
    (404, b'{"detail": "Not Found"}', ErrorKind.PROTOCOL, "HTTP 404: Not Found; does the endpoint serve"),
    (302, b"", ErrorKind.PROTOCOL, "HTTP 302"),  # never followed: the key would go along
    (401, ('{"detail": {"status": "x", "message": "bad key ' + KEY + '"}}').encode(), ErrorKind.AUTH,
     "bad key [redacted]"),
])
def test_every_other_answer_is_a_classified_service_error(status, body, kind, said):
    with _canned(status, body) as endpoint:
        error = failure(endpoint)
    assert error.kind is kind and said in str(error)


def test_endpoints_map_to_their_rest_side():
    assert subscription_url("wss://api.elevenlabs.io") == "https://api.elevenlabs.io/v1/user/subscription"
    assert subscription_url("wss://api.eu.residency.elevenlabs.io/") == (
        "https://api.eu.residency.elevenlabs.io/v1/user/subscription")
    assert subscription_url("ws://127.0.0.1:8765") == "http://127.0.0.1:8765/v1/user/subscription"
    with pytest.raises(ConfigError, match="is not a ws:// or wss:// URL"):
        subscription_url("ftp://example.com")


def test_fits_warns_only_when_the_job_needs_more_than_is_left():
    remaining = Remaining(used=98_000, limit=100_000, tier="creator", resets_unix=1_767_225_600)
    assert fits(remaining, 2_000) is None
    assert fits(remaining, 12_345) == ("the job needs 12,345 characters but the subscription has 2,000 left "
                                       "(resets 2026-01-01 00:00 UTC)")
    unknown_reset = Remaining(used=150, limit=100, tier="free")
    assert unknown_reset.remaining == 0
    assert fits(unknown_reset, 1) == "the job needs 1 characters but the subscription has 0 left"


def test_the_reset_is_the_first_of_next_month():
    december = 1_765_000_000  # 2025-12-06 UTC
    assert subscription_body(FaultPlan(), december)["next_character_count_reset_unix"] == \
        1_767_225_600  # 2026-01-01


def _get(url: str) -> tuple[int, str, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


@contextlib.contextmanager
def _canned(status: int, body: bytes):
    """A plain HTTP server that gives every GET the same answer."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            if status == 302:
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
