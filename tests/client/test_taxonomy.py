"""Each class of failure, against the real server: what it does to the run.

auth and input stop at once; quota stops and keeps every finished segment;
rate limits back off and lower concurrency; transient failures are retried
(see test_narrate's fault matrix); protocol errors are retried once, then
that segment alone fails, with the frame's first bytes in the error. Work
that is finished is kept, and the next run requests only the rest.
"""

from __future__ import annotations

import re

import pytest

from narrator.book.cache import SegmentCache
from narrator.errors import ErrorKind, ServiceError
from narrator.server.app import CloudProfile, EmbeddedServer
from narrator.server.faults import parse_faults
from narrator.settings import NarrateOptions
from tests.helpers import generated_book, run, spoken_words, srt_words
from tests.narrating import narrate_book

BOOK = generated_book(16, chapters=2, seed=11)


async def narrate(out, faults=None, voice="en-us", concurrency=3, profile=None, stall_timeout=1.5):
    async with EmbeddedServer(api_key="test-key-123", faults=parse_faults(faults), profile=profile) as server:
        options = NarrateOptions(out, provider="elevenlabs", endpoint=server.url, voice=voice,
                                 output_format="mp3_22050_32", concurrency=concurrency,
                                 stall_timeout=stall_timeout, progress=False)
        try:
            return await narrate_book(BOOK, "book", options), server.stats
        except ServiceError as error:
            error.served = server.stats
            raise


def failing(out, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        run(narrate(out, **kwargs))
    return caught.value


def cached_segments() -> int:
    return SegmentCache().usage().entries


def test_auth_a_wrong_key_stops_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("ELEVENLABS_API_KEY", "sk-wrong-key-000")
    error = failing(tmp_path / "out")
    assert error.kind is ErrorKind.AUTH and error.exit_code == 6
    assert "sk-wrong-key-000" not in str(error)
    assert error.served.connections <= 3, "an invalid key is not retried"
    assert not (tmp_path / "out" / "book.mp3").exists()


def test_input_an_unknown_voice_stops_with_the_services_message(tmp_path, key_env):
    error = failing(tmp_path / "out", voice="no-such-voice")
    assert error.kind is ErrorKind.INPUT and error.exit_code == 5
    assert "no-such-voice" in str(error) and "was not found" in str(error)
    assert error.served.connections <= 3


@pytest.fixture(scope="module")
def clean_seconds(tmp_path_factory):
    import os
    os.environ["ELEVENLABS_API_KEY"] = "test-key-123"
    try:
        result, _ = run(narrate(tmp_path_factory.mktemp("clean") / "out"))
    finally:
        del os.environ["ELEVENLABS_API_KEY"]
    return result.audio_seconds


def same_audio(result, clean_seconds):
    """Captions come from the text, so they cannot show lost or doubled audio: the length can."""
    return abs(result.audio_seconds - clean_seconds) < 1.0


def test_audio_without_alignment_never_spills_into_the_next_segment(tmp_path, key_env, clean_seconds):
    # Paced like a cloud: after the chunk without alignment, the rest comes seconds apart.
    result, served = run(narrate(tmp_path / "out", faults="nullalign=1.0", profile=CloudProfile(speed=8.0),
                                 stall_timeout=6.0))
    assert served.faults["nullalign"] > 0 and result.estimated_chapters
    assert srt_words(result.captions["srt"]) == spoken_words(BOOK) and same_audio(result, clean_seconds)


def test_quota_stops_keeps_finished_work_and_the_next_run_sends_only_the_rest(tmp_path, key_env,
                                                                              clean_seconds):
    out = tmp_path / "out"
    total = sum(len(p) for c in BOOK.chapters for p in c.paragraphs)
    error = failing(out, faults=f"quota={total // 2}")
    assert error.kind is ErrorKind.QUOTA and error.exit_code == 7
    message = str(error)
    assert "quota" in message and "characters remain" in message and "run the same command again" in message
    kept = cached_segments()
    assert kept > 0 and not (out / "book.mp3").exists()

    result, served = run(narrate(out))
    assert srt_words(result.captions["srt"]) == spoken_words(BOOK) and same_audio(result, clean_seconds)
    assert result.reused_segments == kept
    assert result.characters_sent < result.book_characters, "finished segments were not sent again"


def test_rate_limit_backs_off_lowers_concurrency_and_finishes(tmp_path, key_env):
    result, served = run(narrate(tmp_path / "out", faults="busy=0.25,http429=0.3,seed=3", concurrency=6))
    assert served.faults["busy"] > 0 and served.faults["http429"] > 0
    assert srt_words(result.captions["srt"]) == spoken_words(BOOK)
    assert "settled at" in result.concurrency and "lowest" in result.concurrency


def test_rate_limit_over_a_plans_capacity_settles_below_it(tmp_path, key_env):
    profile = CloudProfile(capacity=2, refuse=True, speed=40.0)
    result, served = run(narrate(tmp_path / "out", concurrency=6, profile=profile))
    assert served.refused > 0, "the client asked for more than the plan allows"
    assert srt_words(result.captions["srt"]) == spoken_words(BOOK)
    lowest = int(re.search(r"lowest (\d+)", result.concurrency).group(1))
    assert lowest <= 3, f"halved from 6 at least once: {result.concurrency}"


def test_protocol_errors_fail_their_segment_alone_after_one_retry(tmp_path, key_env, clean_seconds):
    out = tmp_path / "out"
    error = failing(out, faults="garbage=0.4,seed=2")
    assert error.kind is ErrorKind.PROTOCOL and error.exit_code == 5
    assert "failed" in str(error) and "502 Bad Gateway" in str(error), \
        "the frame's first bytes are in the error"
    assert error.served.faults["garbage"] >= 2
    kept = cached_segments()
    assert kept, "the segments that did not fail are kept"

    result, _ = run(narrate(out))
    assert srt_words(result.captions["srt"]) == spoken_words(BOOK) and result.reused_segments == kept
    assert same_audio(result, clean_seconds)
