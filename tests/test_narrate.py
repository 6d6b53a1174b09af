"""The whole client path against the real embedded server on port 0:
the book comes out whole, every word once, through the faults too."""

from __future__ import annotations

import re

import miniaudio
import pytest
from mutagen.id3 import ID3

from narrator.audio.mp3 import FrameReader
from narrator.errors import ErrorKind, ServiceError
from narrator.server.app import EmbeddedServer
from narrator.server.faults import SHAPING_FAULTS, parse_faults
from narrator.settings import NarrateOptions
from narrator.text.segments import plan
from tests.helpers import generated_book, run, spoken_words, srt_words
from tests.narrating import narrate_book

BOOK = generated_book(24, chapters=2, seed=5)


def audio_bytes(path):
    """The book's audio frames: what follows its one ID3 tag."""
    return path.read_bytes()[ID3(path).size:]


async def narrate_through(tmp_path, name, faults=None, output_format_override=None):
    async with EmbeddedServer(api_key="test-key-123", faults=parse_faults(faults)) as server:
        # Fault rates far above a real service's: what retries may cost is not what is tested here.
        opts = NarrateOptions(tmp_path / name, provider="elevenlabs", endpoint=server.url, voice="en-us",
                              output_format=output_format_override or "mp3_22050_32", concurrency=3,
                              stall_timeout=1.5, progress=False, max_retry_characters=10**6, segment_tries=10)
        result = await narrate_book(BOOK, "book", opts)
    return result, server.stats


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    import os
    os.environ["ELEVENLABS_API_KEY"] = "test-key-123"
    try:
        return run(narrate_through(tmp_path_factory.mktemp("clean"), "out"))
    finally:
        del os.environ["ELEVENLABS_API_KEY"]


def test_clean_run_writes_a_whole_book(clean):
    result, stats = clean
    assert result.retries == 0 and stats.connections == 3
    decoded = miniaudio.decode(result.mp3.read_bytes(), nchannels=1)
    assert abs(decoded.duration - result.audio_seconds) < 0.1 and decoded.duration > 60
    assert srt_words(result.captions["srt"]) == spoken_words(BOOK)
    tag = ID3(result.mp3)
    assert tag["TIT2"].text == ["Generated"] and tag["TPE1"].text == ["Test Author"]
    # One tag at the front, then audio frames only: no tag, Info frame or stray byte inside.
    # (Counting the bytes "ID3" would not do: they occur in audio data by chance.)
    reader = FrameReader()
    frames = reader.feed(audio_bytes(result.mp3)) + reader.finish()
    assert frames and reader.skipped_bytes == 0
    assert not list(result.mp3.parent.glob("*.part"))


def test_vtt_matches_srt(clean):
    result, _ = clean
    srt = result.captions["srt"].read_text()
    vtt = result.captions["vtt"].read_text()
    assert vtt.startswith("WEBVTT\n\n")
    srt_times = re.findall(r"(\d\d:\d\d:\d\d),(\d{3}) --> (\d\d:\d\d:\d\d),(\d{3})", srt)
    vtt_times = re.findall(r"(\d\d:\d\d:\d\d)\.(\d{3}) --> (\d\d:\d\d:\d\d)\.(\d{3})", vtt)
    assert srt_times == vtt_times and len(srt_times) == result.cues


@pytest.mark.parametrize("faults", [
    "drop=0.3,seed=1",
    "close1011=0.3,seed=2",
    "http429=0.5,seed=3",
    "stall=0.2,seed=5",
    "nullalign=0.5,seed=7",
    "drop=0.1,close1011=0.05,http429=0.2,stall=0.05,garbage=0.05,nullalign=0.2,seed=8",
])
def test_faults_are_survived_with_every_word_once(clean, tmp_path, key_env, faults):
    reference, _ = clean
    result, stats = run(narrate_through(tmp_path, "out", faults=faults))
    assert sum(stats.faults.values()) > 0, "the fault was never injected"
    ending = sum(n for name, n in stats.faults.items() if name not in SHAPING_FAULTS)
    assert result.retries >= ending - 1
    assert srt_words(result.captions["srt"]) == spoken_words(BOOK)
    # Waste is bounded by the retries: each resends one segment, never more.
    longest = max(len(s.text) for s in plan(BOOK, speak_titles=True))
    # Each request also carries the space the protocol ends a text with (the book's count has it too).
    most = result.book_characters + result.retries * (longest + 1)
    assert result.book_characters <= result.characters_sent <= most
    # Partial audio of a failed attempt is thrown away. espeak-ng varies an
    # utterance by a few ms from call to call, but a kept partial chunk would
    # add a whole generation (at least 50 characters, several seconds).
    decoded = miniaudio.mp3_read_s16(audio_bytes(result.mp3))
    assert abs(decoded.num_frames / decoded.sample_rate - reference.audio_seconds) < 1.0
    assert abs(result.audio_seconds - reference.audio_seconds) < 1.0


def test_wrong_key_stops_at_once_with_auth(tmp_path, monkeypatch):
    monkeypatch.setenv("ELEVENLABS_API_KEY", "wrong")
    with pytest.raises(ServiceError) as caught:
        run(narrate_through(tmp_path, "out"))
    assert caught.value.kind is ErrorKind.AUTH and caught.value.exit_code == 6
    assert "wrong" not in str(caught.value)
    assert not (tmp_path / "out" / "book.mp3").exists()


def test_an_error_frame_before_the_close_decides_the_kind(tmp_path, key_env, monkeypatch):
    """The server rejects an unknown format with invalid_input_message and
    closes 1008: that stops at once as an input error, without retries."""
    # narrator refuses that format before connecting: skip its check to reach the server.
    monkeypatch.setattr("narrator.protocol.elevenlabs.validate", lambda settings: settings)
    with pytest.raises(ServiceError) as caught:
        run(narrate_through(tmp_path, "out", output_format_override="mp3_8000_8"))
    assert caught.value.kind is ErrorKind.INPUT and "output_format" in str(caught.value)


def test_a_giant_paragraph_is_shared_by_the_pool_and_its_captions_stay_one_paragraph(tmp_path, monkeypatch):
    import json

    from narrator.model import Book, Chapter

    monkeypatch.setenv("ELEVENLABS_API_KEY", "test-key-123")
    paragraph = " ".join(p for c in BOOK.chapters for p in c.paragraphs)
    while len(paragraph) < 36_000:  # one paragraph of 36,000 characters: half an hour of speech
        paragraph += " " + paragraph
    paragraph = paragraph[:paragraph.rindex(".", 0, 36_000) + 1]
    book = Book("Giant", None, (Chapter("One", (paragraph,)),))

    async def go():
        async with EmbeddedServer(api_key="test-key-123") as server:
            opts = NarrateOptions(tmp_path, provider="elevenlabs", endpoint=server.url, voice="en-us",
                                  output_format="mp3_22050_32", concurrency=4, progress=False,
                                  captions=("json",))
            return await narrate_book(book, "giant", opts), server.stats

    result, stats = run(go())
    assert result.segments >= 8 and stats.connections >= 2  # the pool shared it
    words = json.loads(result.captions["json"].read_text())["words"]
    assert [w["text"] for w in words] == ["One."] + paragraph.split()
    assert [i for i, w in enumerate(words) if w["paragraph_end"]] == [0, len(words) - 1]
    assert all(a["start"] <= b["start"] and a["end"] <= b["start"] + 0.001 for a, b in zip(words, words[1:]))
    assert words[-1]["end"] <= result.audio_seconds
