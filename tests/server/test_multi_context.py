"""ElevenLabs multi-context (`multi-stream-input`) against the embedded
server on port 0, with a raw websockets client written from the
documentation: contexts, their audio and isFinal, the limit of five,
inactivity, close_socket, and the faults acting on it."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import miniaudio
import pytest
import websockets

from narrator.audio.mp3 import audio_frames
from narrator.server.app import EmbeddedServer
from narrator.server.faults import FaultPlan
from tests.helpers import run

KEY = "multi-test-key"
TEXTS = {"a": "The keeper climbed the lighthouse stairs at dusk.",
         "b": "Far below, the fishing boats came home."}
QUERY = "model_id=eleven_flash_v2_5&output_format=mp3_22050_32&sync_alignment=true"
TIMEOUT = "&inactivity_timeout="


def url(server: EmbeddedServer, query: str = QUERY) -> str:
    return f"{server.url}/v1/text-to-speech/en-us/multi-stream-input?{query}"


def connect(server: EmbeddedServer, query: str = QUERY):
    return websockets.connect(url(server, query), additional_headers={"xi-api-key": KEY})


async def say(ws, context: str, text: str, *, close: bool = True) -> None:
    """The documented sequence for one context: open it, its text with a flush, close it."""
    await ws.send(json.dumps({"text": " ", "context_id": context,
                              "generation_config": {"chunk_length_schedule": [120, 160, 250, 290]}}))
    await ws.send(json.dumps({"text": text + " ", "context_id": context, "flush": True}))
    if close:
        await ws.send(json.dumps({"context_id": context, "close_context": True}))


async def frames_until_finals(ws, contexts, timeout: float = 10) -> list[dict]:
    frames, finals = [], set()
    while finals != set(contexts):
        frames.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
        if frames[-1].get("isFinal"):
            finals.add(frames[-1]["contextId"])
    return frames


async def closed(ws, timeout: float = 10) -> websockets.frames.Close:
    """Whatever else comes, then the server's close."""
    with pytest.raises(websockets.ConnectionClosed) as caught:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return caught.value.rcvd


def audio_of(frames, context) -> list[dict]:
    return [f for f in frames if f.get("audio") and f["contextId"] == context]


def spelled(frames) -> str:
    return "".join("".join(f["alignment"]["chars"]) for f in frames)


def test_two_contexts_on_one_connection_interleave_and_each_ends_with_its_final():
    """With each generation split into 4 frames, two contexts generating at
    once alternate on the wire."""
    async def main():
        async with EmbeddedServer(api_key=KEY, faults=FaultPlan(split=4)) as server, connect(server) as ws:
            for context, text in TEXTS.items():
                await say(ws, context, text)
            frames = await frames_until_finals(ws, TEXTS)
            await ws.send(json.dumps({"close_socket": True}))
            return frames, await closed(ws), server.stats

    frames, close, stats = run(main())
    order = [f["contextId"] for f in frames if f.get("audio")]
    assert all(x != y for x, y in zip(order, order[1:])), order  # a, b, a, b, ...: they alternate
    for context, text in TEXTS.items():
        mine = audio_of(frames, context)
        assert len(mine) == 4
        final = frames.index({"isFinal": True, "contextId": context})
        assert all(frames.index(f) < final for f in mine)  # the isFinal comes after its audio
        assert spelled(mine) == text + " "  # each frame aligns only its own characters, each once
        decoded = miniaudio.mp3_read_s16(b"".join(base64.b64decode(f["audio"]) for f in mine))
        assert decoded.sample_rate == 22050 and decoded.num_frames / 22050 > 1.5
        for frame in mine:  # times are relative to each frame's own audio, as a joined stream plays it
            _, samples, rate = audio_frames(base64.b64decode(frame["audio"]))
            duration_ms = samples * 1000 / rate
            assert all(0 <= ms < duration_ms for ms in frame["alignment"]["charStartTimesMs"])
            assert frame["normalizedAlignment"] == frame["alignment"]
    assert close.code == 1000
    assert stats.characters == sum(len(text + " ") for text in TEXTS.values()) and stats.audio_seconds > 3


def test_frames_are_the_sdks_own_types():
    from elevenlabs.types.audio_output_multi import AudioOutputMulti
    from elevenlabs.types.final_output_multi import FinalOutputMulti

    async def main():
        async with EmbeddedServer(api_key=KEY) as server, connect(server) as ws:
            await say(ws, "7", TEXTS["b"])
            return await frames_until_finals(ws, ["7"])

    *audio, final = run(main())
    for frame in audio:
        parsed = AudioOutputMulti.model_validate(frame)
        assert parsed.context_id == "7" and parsed.alignment and not parsed.model_extra
    parsed = FinalOutputMulti.model_validate(final)
    assert parsed.is_final and parsed.context_id == "7" and not parsed.model_extra


def test_a_sixth_context_is_refused_with_max_active_conversations():
    async def main():
        async with EmbeddedServer(api_key=KEY) as server, connect(server) as ws:
            for context in "12345":
                await ws.send(json.dumps({"text": " ", "context_id": context}))
            await ws.send(json.dumps({"text": " ", "context_id": "6"}))
            refused = json.loads(await asyncio.wait_for(ws.recv(), 5))
            return refused, await closed(ws)

    refused, close = run(main())
    assert refused == {"message": "Maximum simultaneous contexts per WebSocket connection exceeded (5). "
                                  "Please close an existing context before opening a new one.",
                       "error": "max_active_conversations", "code": 1008}
    assert close.code == 1008 and close.reason.startswith("Maximum simultaneous contexts")


def test_a_closed_context_frees_its_place_once_its_final_went_out():
    async def main():
        async with EmbeddedServer(api_key=KEY) as server, connect(server) as ws:
            for context in "12345":
                await ws.send(json.dumps({"text": " ", "context_id": context}))
            await ws.send(json.dumps({"context_id": "1", "close_context": True}))
            first = await frames_until_finals(ws, ["1"])
            await say(ws, "6", "Room for one more.")
            return first, await frames_until_finals(ws, ["6"])

    first, sixth = run(main())
    assert first == [{"isFinal": True, "contextId": "1"}]  # nothing buffered: no audio, only its final
    assert spelled(sixth[:-1]) == "Room for one more. "


def test_an_open_context_that_hears_nothing_closes_the_connection_despite_another_kept_alive():
    async def main():
        async with EmbeddedServer(api_key=KEY) as server, connect(server, QUERY + TIMEOUT + "0.6") as ws:
            await ws.send(json.dumps({"text": " ", "context_id": "quiet"}))
            await ws.send(json.dumps({"text": " ", "context_id": "busy"}))
            started = time.monotonic()
            with pytest.raises(websockets.ConnectionClosed) as caught:
                for _ in range(20):  # keep-alives for "busy" only, for up to 3 s
                    await ws.send(json.dumps({"text": "", "context_id": "busy"}))
                    await asyncio.sleep(0.15)
            return time.monotonic() - started, caught.value.rcvd

    seconds, close = run(main())
    assert close.code == 1008 and "timeout of 0.6 seconds" in close.reason
    assert 0.4 < seconds < 1.5


def test_keep_alives_hold_a_context_open_and_a_connection_with_none_open_idles_out():
    async def main():
        async with EmbeddedServer(api_key=KEY) as server, connect(server, QUERY + TIMEOUT + "0.5") as ws:
            await ws.send(json.dumps({"text": " ", "context_id": "c"}))
            for _ in range(5):  # 0.75 s, longer than the timeout
                await asyncio.sleep(0.15)
                await ws.send(json.dumps({"text": "", "context_id": "c"}))
            await ws.send(json.dumps({"text": "Still here.", "context_id": "c", "flush": True}))
            await ws.send(json.dumps({"context_id": "c", "close_context": True}))
            frames = await frames_until_finals(ws, ["c"])
            started = time.monotonic()
            close = await closed(ws)
            return frames, time.monotonic() - started, close

    frames, seconds, close = run(main())
    assert spelled(frames[:-1]) == "Still here."
    assert close.code == 1008 and 0.3 < seconds < 1.2


def test_close_socket_finishes_every_context_then_closes_1000():
    async def main():
        async with EmbeddedServer(api_key=KEY) as server, connect(server) as ws:
            for context, text in TEXTS.items():  # text, but neither a flush nor a close
                await ws.send(json.dumps({"text": " ", "context_id": context}))
                await ws.send(json.dumps({"text": text + " ", "context_id": context}))
            await ws.send(json.dumps({"close_socket": True}))
            frames = []
            with pytest.raises(websockets.ConnectionClosed) as caught:
                while True:
                    frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            return frames, caught.value.rcvd

    frames, close = run(main())
    assert close.code == 1000
    for context, text in TEXTS.items():
        final = frames.index({"isFinal": True, "contextId": context})
        mine = audio_of(frames, context)
        assert spelled(mine) == text + " " and all(frames.index(f) < final for f in mine)


def test_messages_without_a_context_id_use_a_default_context():
    async def main():
        async with EmbeddedServer(api_key=KEY) as server, connect(server) as ws:
            await ws.send(json.dumps({"text": " "}))
            await ws.send(json.dumps({"text": "Hello there.", "flush": True}))
            await ws.send(json.dumps({"close_socket": True}))
            frames = [json.loads(m) async for m in ws]
            return frames, ws.close_code

    frames, code = run(main())
    assert code == 1000 and len({f["contextId"] for f in frames}) == 1
    assert spelled(frames[:-1]) == "Hello there." and frames[-1]["isFinal"]


@pytest.mark.parametrize("query, says", [
    ("sync_alignment=maybe", "sync_alignment must be true or false"),
    ("auto_mode=1", "auto_mode must be true or false"),
    ("output_format=pcm_16000", "not served by the embedded engine"),
    ("inactivity_timeout=999", "inactivity_timeout"),
])
def test_the_url_is_judged_as_stream_inputs_is(query, says):
    async def main():
        async with EmbeddedServer(api_key=KEY) as server, connect(server, query) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 5)), await closed(ws)

    refused, close = run(main())
    assert refused["error"] == "invalid_input_message" and says in refused["message"] and close.code == 1008


def test_python_booleans_in_the_query_are_accepted():
    async def main():
        async with EmbeddedServer(api_key=KEY) as server, connect(server, QUERY + "&auto_mode=True") as ws:
            await say(ws, "c", "Yes.")
            return await frames_until_finals(ws, ["c"])

    assert run(main())[-1] == {"isFinal": True, "contextId": "c"}


def test_a_wrong_key_in_a_contexts_first_message_is_refused():
    async def main():
        async with EmbeddedServer(api_key=KEY) as server, websockets.connect(url(server)) as ws:
            await ws.send(json.dumps({"text": " ", "context_id": "c", "xi_api_key": KEY}))
            await ws.send(json.dumps({"text": " ", "context_id": "d", "xi_api_key": "wrong"}))
            return json.loads(await asyncio.wait_for(ws.recv(), 5)), await closed(ws)

    refused, close = run(main())
    assert refused["error"] == "invalid_api_key" and close.code == 1008


async def _exchange_under(faults: FaultPlan) -> tuple[list, websockets.frames.Close | None]:
    """One context's documented sequence; what comes back until its final,
    a frame that is not JSON, or the close."""
    async with EmbeddedServer(api_key=KEY, faults=faults) as server, connect(server) as ws:
        await say(ws, "c", TEXTS["a"])
        frames: list = []
        try:
            while not frames or frames[-1] not in ("garbage", {"isFinal": True, "contextId": "c"}):
                raw = await asyncio.wait_for(ws.recv(), 5)
                frames.append(json.loads(raw) if raw.startswith("{") else "garbage")
        except websockets.ConnectionClosed as gone:
            return frames, gone.rcvd
        return frames, None


@pytest.mark.parametrize("faults, error, code", [
    (FaultPlan({"busy": 1.0}), "too_many_concurrent_requests", 1008),
    (FaultPlan(quota=10), "quota_exceeded", 1008),
    (FaultPlan({"close1011": 1.0}), None, 1011),
])
def test_faults_that_end_a_request_act_on_multi_context(faults, error, code):
    frames, close = run(_exchange_under(faults))
    assert [f.get("error") for f in frames] == ([error] if error else [])
    assert close.code == code and faults.injected


def test_faults_that_shape_a_request_act_on_multi_context():
    frames, _ = run(_exchange_under(FaultPlan({"garbage": 1.0})))
    assert frames == ["garbage"]
    frames, close = run(_exchange_under(FaultPlan({"nullalign": 1.0})))
    assert close is None and frames[0]["alignment"] is None and frames[0]["audio"] and frames[-1]["isFinal"]


def test_the_handshake_is_judged_as_stream_inputs_is():
    async def status(path: str, faults: FaultPlan | None = None) -> int:
        async with EmbeddedServer(api_key=KEY, faults=faults) as server:
            with pytest.raises(websockets.InvalidStatus) as caught:
                async with websockets.connect(f"{server.url}{path}"):
                    pass
            return caught.value.response.status_code

    assert run(status("/v1/text-to-speech/en-us/multi-stream-input/more")) == 403
    assert run(status("/v1/text-to-speech/en-us/multi-stream-input", FaultPlan({"http429": 1.0}))) == 429
