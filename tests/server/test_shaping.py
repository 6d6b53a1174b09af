"""The wire shapes the embedded server takes on purpose: `skipchars` (an
alignment without the characters a real service leaves out) and `split`
(a generation in several audio frames), on both ElevenLabs endpoints."""

from __future__ import annotations

import asyncio
import base64
import json

import websockets

from narrator.audio.mp3 import audio_frames
from narrator.server.app import EmbeddedServer
from narrator.server.engine.render import render
from narrator.server.faults import FaultPlan
from narrator.server.shaping import skip_characters, skipped, split
from tests.helpers import run

TEXT = "co\u00adoperate ©2024 ™ → 🎉 done"
LEFT_OUT = "\u00ad©™→🎉"
BASE = "/v1/text-to-speech/en-us"
QUERY = "output_format=mp3_22050_32"


def test_what_a_service_may_leave_out():
    assert all(map(skipped, LEFT_OUT + "\u200b\u200c\u200d\u2060\ufeff\ue000$€+\ufe0f"))
    assert not any(map(skipped, "aZ 09.,;'\"-éß\u0928\u093e"))  # letters, digits, punctuation, marks
    alignment = {"chars": list("a\u00adb©"), "charStartTimesMs": [0, 10, 20, 30], "charDurationsMs": [10] * 4}
    assert skip_characters(alignment) == {"chars": ["a", "b"], "charStartTimesMs": [0, 20],
                                          "charDurationsMs": [10, 10]}


def test_split_cuts_at_frame_boundaries_and_times_each_part_from_its_start():
    rendered = render("One two three four five six.", voice="en-us", output_format="mp3_22050_32")
    parts = split(rendered, 3)
    assert len(parts) == 3 and b"".join(p.mp3 for p in parts) == rendered.mp3
    assert "".join(c for p in parts for c in p.alignment["chars"]) == "One two three four five six."
    start_ms, whole = 0.0, iter(rendered.alignment["charStartTimesMs"])
    for part in parts:
        _, samples, rate = audio_frames(part.mp3)
        starts = part.alignment["charStartTimesMs"]
        assert all(0 <= ms < samples * 1000 / rate for ms in starts)
        # the same instants as in the whole chunk's alignment, give or take the rounding of a part's start
        assert all(abs(next(whole) - (ms + start_ms)) <= 1 for ms in starts)
        start_ms += samples * 1000 / rate
    assert split(rendered, 1) == [rendered]


async def _stream_input(server: EmbeddedServer, text: str) -> list[dict]:
    async with websockets.connect(f"{server.url}{BASE}/stream-input?{QUERY}") as ws:
        for message in ({"text": " "}, {"text": text + " ", "flush": True}, {"text": ""}):
            await ws.send(json.dumps(message))
        return [json.loads(m) async for m in ws][:-1]  # up to the isFinal


async def _multi_context(server: EmbeddedServer, text: str) -> list[dict]:
    async with websockets.connect(f"{server.url}{BASE}/multi-stream-input?{QUERY}") as ws:
        flush = {"text": text + " ", "context_id": "c", "flush": True}
        for message in ({"text": " ", "context_id": "c"}, flush, {"close_socket": True}):
            await ws.send(json.dumps(message))
        return [json.loads(m) async for m in ws][:-1]


def test_skipchars_leaves_symbols_and_format_characters_out_of_the_alignment_on_both_endpoints():
    async def main(faults):
        async with EmbeddedServer(faults=faults) as server:
            return await _stream_input(server, TEXT), await _multi_context(server, TEXT)

    plain, skipping = run(main(FaultPlan())), run(main(FaultPlan(rates={"skipchars": 1.0})))
    for frames, untouched in zip(skipping, plain):
        assert [f["audio"] for f in frames] == [f["audio"] for f in untouched]  # the audio is the same
        (frame,) = frames
        for alignment in (frame["alignment"], frame["normalizedAlignment"]):
            assert "".join(alignment["chars"]) == "".join(c for c in TEXT + " " if c not in LEFT_OUT)
            lengths = {len(alignment[k]) for k in ("chars", "charStartTimesMs", "charDurationsMs")}
            assert lengths == {len(alignment["chars"])}
    assert "".join(plain[0][0]["alignment"]["chars"]) == TEXT + " "


def test_split_on_stream_input_sends_each_generation_in_frames():
    async def main():
        async with EmbeddedServer(faults=FaultPlan(split=3)) as server:
            return await _stream_input(server, "A few words to be spoken.")

    frames = run(main())
    assert len(frames) == 3 and "".join(c for f in frames for c in f["alignment"]["chars"]) == \
        "A few words to be spoken. "
    assert audio_frames(b"".join(base64.b64decode(f["audio"]) for f in frames))[1] > 0
    assert all(f["isFinal"] is None for f in frames)


def test_split_with_nullalign_sends_no_alignment_in_any_frame():
    async def main():
        async with EmbeddedServer(faults=FaultPlan({"nullalign": 1.0}, split=2)) as server:
            return await asyncio.wait_for(_stream_input(server, "Nothing aligned here."), 10)

    frames = run(main())
    assert len(frames) == 2 and all(f["alignment"] is None and f["audio"] for f in frames)
