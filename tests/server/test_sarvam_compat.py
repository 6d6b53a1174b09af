"""Sarvam streaming against the embedded server on port 0: the official SDK,
the guide's config over raw websockets, and our own session."""

from __future__ import annotations

import asyncio
import base64
import json

import miniaudio
import pytest
import websockets

from narrator.client.session import Session
from narrator.errors import ErrorKind, ServiceError
from narrator.protocol import sarvam
from narrator.protocol.events import AudioChunk, Final
from narrator.server.app import CloudProfile, EmbeddedServer
from narrator.server.faults import FaultPlan
from tests.helpers import run

KEY = "sarvam-test-key"
TEXT = ("The twilight sun cast its warm golden hues upon the vast rolling fields. "
        "Silently, the meandering brook continued its ceaseless journey.")


def sdk_client(server: EmbeddedServer, key: str = KEY):
    from sarvamai import AsyncSarvamAI
    from sarvamai.environment import SarvamAIEnvironment

    nowhere = "http://127.0.0.1:1"
    environment = SarvamAIEnvironment(base=nowhere, creative=nowhere, production=server.url)
    return AsyncSarvamAI(api_subscription_key=key, environment=environment)


def duration(mp3: bytes) -> float:
    decoded = miniaudio.decode(mp3, nchannels=1, sample_rate=22050)
    return decoded.num_frames / decoded.sample_rate


def test_official_sdk_streams_until_the_completion_event():
    from sarvamai import AudioOutput, EventResponse

    async def main():
        async with EmbeddedServer(api_key=KEY) as server:
            client = sdk_client(server)
            streaming = client.text_to_speech_streaming
            async with streaming.connect(model="bulbul:v2", send_completion_event=True) as ws:
                await ws.configure(target_language_code="en-IN", speaker="anushka")
                await ws.convert(TEXT)
                await ws.flush()
                audio, messages = [], []
                async for message in ws:
                    messages.append(message)
                    if isinstance(message, AudioOutput):
                        audio.append(base64.b64decode(message.data.audio))
                    elif isinstance(message, EventResponse):
                        break
            return audio, messages

    audio, messages = run(main())
    assert isinstance(messages[-1], EventResponse)
    assert messages[-1].data.event_type == "final" and messages[-1].data.timestamp is not None
    assert len(audio) >= 2 and all(m.data.content_type == "audio/mp3" for m in messages[:-1])
    seconds = duration(b"".join(audio))
    assert 5 < seconds < 20, seconds  # about 140 characters of speech


def test_the_guides_config_over_raw_websockets():
    """The integration guide's config message (target_language_code, pace 2,
    max_chunk_length 200, codec and bitrate), as it is printed: its pitch of
    0.8 is outside the documented -0.75 to 0.75 and gets a 422 that says so;
    within range, the same config speaks."""
    guide = {"speaker": "anushka", "target_language_code": "en-IN", "pitch": 0.8, "pace": 2,
             "min_buffer_size": 50, "max_chunk_length": 200, "output_audio_codec": "mp3",
             "output_audio_bitrate": "128k"}

    async def main():
        async with EmbeddedServer(api_key=KEY) as server:
            url = f"{server.url}/text-to-speech/ws?model=bulbul:v2&send_completion_event=true"
            async with websockets.connect(url, additional_headers={"api-subscription-key": KEY}) as ws:
                await ws.send(json.dumps({"type": "config", "data": guide}))
                refused = json.loads(await asyncio.wait_for(ws.recv(), 5))
                await ws.send(json.dumps({"type": "config", "data": guide | {"pitch": 0.75}}))
                await ws.send(json.dumps({"type": "text", "data": {"text": TEXT}}))
                await ws.send(json.dumps({"type": "flush"}))
                frames = []
                while not frames or frames[-1]["type"] != "event":
                    frames.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
            return refused, frames

    refused, frames = run(main())
    assert refused["type"] == "error" and refused["data"]["code"] == 422
    assert refused["data"]["message"].startswith("pitch 0.8 is out of range")
    assert refused["data"]["request_id"]
    assert {f["type"] for f in frames[:-1]} == {"audio"} and frames[-1]["data"]["event_type"] == "final"
    fast = duration(b"".join(base64.b64decode(f["data"]["audio"]) for f in frames[:-1]))
    assert 2 < fast < 8, fast  # pace 2: about half of the plain run's length


def test_a_wrong_key_is_the_sdks_401():
    from sarvamai.core.api_error import ApiError

    async def main():
        async with (
            EmbeddedServer(api_key=KEY) as server,
            sdk_client(server, "wrong").text_to_speech_streaming.connect(model="bulbul:v2"),
        ):
            pass

    with pytest.raises(ApiError) as caught:
        run(main())
    assert caught.value.status_code == 401 and "invalid credentials" in str(caught.value.body)


def test_our_session_gets_each_segment_up_to_its_final_event():
    first = "The first segment is one sentence, long enough to be heard. " * 3
    second = "A second one follows it on the same connection."

    async def main():
        async with EmbeddedServer(api_key="k") as server:
            dialect = sarvam.dialect(server.url, sarvam.SarvamSettings(), "k")
            session = await Session.open(dialect, stall_timeout=5)
            try:
                return [await session.synthesize(first), await session.synthesize(second)], server.stats
            finally:
                await session.close()

    (one, two), stats = run(main())
    assert stats.connections == 1
    # Each one-paragraph segment ends with its completion event, kept as the paragraph's end mark.
    assert isinstance(one[-1], Final) and isinstance(two[-1], Final)
    one, two = one[:-1], two[:-1]
    assert len(one) >= 2 and two and all(isinstance(c, AudioChunk) and c.alignment is None for c in one + two)
    assert duration(b"".join(c.audio for c in one)) > 2 * duration(b"".join(c.audio for c in two))


def test_our_session_is_refused_with_a_wrong_key():
    async def main():
        async with EmbeddedServer(api_key="k") as server:
            await Session.open(sarvam.dialect(server.url, sarvam.SarvamSettings(), "not-k"), stall_timeout=5)

    with pytest.raises(ServiceError) as caught:
        run(main())
    assert caught.value.kind is ErrorKind.AUTH and "not-k" not in str(caught.value)


def test_an_idle_connection_is_closed_unless_pinged():
    async def closed_after(pings: int):
        """Seconds from connecting to the server's close, and the close."""
        async with (
            EmbeddedServer(sarvam_idle_timeout=0.6) as server,
            websockets.connect(f"{server.url}/text-to-speech/ws?model=bulbul:v2") as ws,
        ):
            started = asyncio.get_running_loop().time()
            for _ in range(pings):
                await asyncio.sleep(0.3)
                await ws.send(sarvam.PING)
            with pytest.raises(websockets.ConnectionClosed) as caught:
                await asyncio.wait_for(ws.recv(), 5)
            return asyncio.get_running_loop().time() - started, caught.value.rcvd

    seconds, close = run(closed_after(0))
    assert close.code == 1008 and "0.6 seconds" in close.reason and "ping" in close.reason
    assert 0.5 < seconds < 1.5
    seconds, close = run(closed_after(5))  # pinged for 1.5 s, more than twice the timeout
    assert close.code == 1008 and seconds > 2.0


def test_the_idle_clock_waits_while_audio_is_owed():
    """A slow cloud (0.5 s to the first byte) with a 0.3 s idle timeout still
    delivers everything the flush asked for."""
    async def main():
        async with EmbeddedServer(sarvam_idle_timeout=0.3, profile=CloudProfile(ttfb_ms=500)) as server:
            dialect = sarvam.dialect(server.url, sarvam.SarvamSettings(), None)
            session = await Session.open(dialect, stall_timeout=5)
            try:
                return await session.synthesize(TEXT)
            finally:
                await session.close()

    assert run(main())


@pytest.mark.parametrize("faults, kind", [
    (FaultPlan(quota=10), ErrorKind.QUOTA),
    (FaultPlan({"busy": 1.0}), ErrorKind.RATE_LIMIT),
    (FaultPlan({"close1011": 1.0}), ErrorKind.TRANSIENT),
    (FaultPlan({"garbage": 1.0}), ErrorKind.PROTOCOL),
    (FaultPlan({"http429": 1.0}), ErrorKind.RATE_LIMIT),
])
def test_faults_on_purpose_speak_sarvam(faults, kind):
    """The fault machinery is the ElevenLabs path's own; what it sends is Sarvam's."""
    async def main():
        async with EmbeddedServer(faults=faults) as server:
            dialect = sarvam.dialect(server.url, sarvam.SarvamSettings(), None)
            session = await Session.open(dialect, stall_timeout=5)
            await session.synthesize(TEXT)

    with pytest.raises(ServiceError) as caught:
        run(main())
    assert caught.value.kind is kind, caught.value


async def _raw_exchange(query: str, config: dict, text: str, quiet: float = 1.0) -> list[dict]:
    """Config, text and a flush over raw websockets; every frame until `quiet` seconds pass without one."""
    text_message = {"type": "text", "data": {"text": text}}
    async with (
        EmbeddedServer() as server,
        websockets.connect(f"{server.url}/text-to-speech/ws?{query}") as ws,
    ):
        for message in ({"type": "config", "data": config}, text_message, {"type": "flush"}):
            await ws.send(json.dumps(message))
        frames = []
        with pytest.raises(asyncio.TimeoutError):
            while True:
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), quiet)))
        return frames


def test_audio_at_the_configs_rate_and_bitrate_in_its_language():
    config = {"language_code": "hi-IN", "speaker": "anushka", "speech_sample_rate": 16000,
              "output_audio_bitrate": "64k"}
    hindi = "भारत की संस्कृति विश्व की सबसे प्राचीन संस्कृतियों में से एक है।"
    frames = run(_raw_exchange("model=bulbul:v2", config, hindi))
    # no send_completion_event in the URL: no event after the audio
    assert frames and {f["type"] for f in frames} == {"audio"}
    mp3 = b"".join(base64.b64decode(f["data"]["audio"]) for f in frames)
    info = miniaudio.mp3_get_info(mp3)
    assert info.sample_rate == 16000 and info.nchannels == 1 and 2 < info.duration < 15
    assert 7000 < len(mp3) / info.duration < 9000  # 64 kbit/s is 8000 bytes a second


def test_a_codec_the_engine_does_not_make_is_refused_with_422():
    config = {"language_code": "en-IN", "speaker": "anushka", "output_audio_codec": "wav"}
    frames = run(_raw_exchange("model=bulbul:v2&send_completion_event=true", config, TEXT, quiet=0.5))
    # the config, then text and flush without one
    assert [f["type"] for f in frames] == ["error", "error", "error"]
    assert frames[0]["data"]["code"] == 422
    assert "not served by the embedded engine" in frames[0]["data"]["message"]


async def _flushes(*, coalesce: bool, wait_for_each: bool) -> list[str]:
    """Three short texts, each with a flush; the frame types that come back,
    until 0.3 s pass without one. The first generation takes 0.2 s, so
    flushes sent back to back all arrive while it runs."""
    faults = FaultPlan(rates={"coalesce": 1.0} if coalesce else {})
    async with (
        EmbeddedServer(faults=faults, profile=CloudProfile(ttfb_ms=200)) as server,
        websockets.connect(f"{server.url}/text-to-speech/ws?send_completion_event=true") as ws,
    ):
        config = {"language_code": "en-IN", "speaker": "anushka"}
        await ws.send(json.dumps({"type": "config", "data": config}))
        kinds: list[str] = []
        for sent, text in enumerate(("One small sentence.", "Then another one.", "And a third."), 1):
            await ws.send(json.dumps({"type": "text", "data": {"text": text}}))
            await ws.send(json.dumps({"type": "flush"}))
            while wait_for_each and kinds.count("event") < sent:
                kinds.append(json.loads(await asyncio.wait_for(ws.recv(), 5))["type"])
        with pytest.raises(asyncio.TimeoutError):
            while True:
                kinds.append(json.loads(await asyncio.wait_for(ws.recv(), 0.3))["type"])
        return kinds


def test_coalesce_sends_one_completion_event_for_flushes_sent_back_to_back():
    assert run(_flushes(coalesce=True, wait_for_each=False)) == ["audio"] * 3 + ["event"]
    assert run(_flushes(coalesce=False, wait_for_each=False)) == ["audio", "event"] * 3


def test_coalesce_still_ends_each_flush_waited_for_with_its_event():
    assert run(_flushes(coalesce=True, wait_for_each=True)) == ["audio", "event"] * 3
