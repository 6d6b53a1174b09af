"""Mastered chapter files from real cache entries: any service rate in,
44.1 kHz 192 kbps CBR out, words placed where their tones are."""

from __future__ import annotations

import io

import miniaudio
import numpy as np
import pytest

from narrator.acx.chapters import OUT_RATE, mastered_chapter
from narrator.audio.encode import CODEC_DELAY_SAMPLES, Encoder
from narrator.audio.mp3 import audio_frames
from narrator.audio.pcm import to_s16
from narrator.book.cache import BookSegments, SegmentCache
from narrator.book.layout import Pauses, chapter_file_stem, place_words
from narrator.book.timeline import SegmentAudio, TimedWord
from narrator.model import Segment


def tone_segment(rate: int, kbps: int, starts_ms: list[int]) -> SegmentAudio:
    """Quiet, then a 300 ms tone at each start: one word per tone, one paragraph per word."""
    length = (max(starts_ms) + 800) * rate // 1000
    pcm = np.zeros(length, np.float32)
    for start in starts_ms:
        at = start * rate // 1000
        t = np.arange(300 * rate // 1000) / rate
        pcm[at:at + len(t)] = 0.3 * np.sin(2 * np.pi * 440 * t)
    encoder = Encoder(1, rate, rate, kbps)
    frames, samples, _ = audio_frames(encoder.encode(to_s16(pcm)) + encoder.flush())
    delay = CODEC_DELAY_SAMPLES * 1000 / rate  # where a decoder puts the tone: as the engine's timings say
    words = tuple(TimedWord(f"w{i}", start + delay, start + delay + 300, True)
                  for i, start in enumerate(starts_ms))
    return SegmentAudio(b"".join(frames), samples, rate, words, False)


@pytest.mark.parametrize("rate, kbps", [(8000, 32), (16000, 64), (22050, 32), (24000, 64), (44100, 128)])
@pytest.mark.parametrize("paragraph", [None, 0.8])
def test_any_service_rate_masters_to_44_1_khz_with_words_on_their_tones(tmp_path, rate, kbps, paragraph):
    cache = SegmentCache(tmp_path / "cache")
    segments = [tone_segment(rate, kbps, [200, 1500]), tone_segment(rate, kbps, [300, 2000])]
    keys = [f"{i:064x}" for i in range(len(segments))]
    for key, audio in zip(keys, segments):
        cache.put(key, audio, 10)
    entries = BookSegments(cache, keys)
    group = [Segment(i, 0, ("x",), i == len(segments) - 1) for i in range(len(segments))]
    out = io.BytesIO()
    chapter = mastered_chapter(entries, group, "One", Pauses(0.75, 2.0, paragraph), out)
    decoded = miniaudio.decode(out.getvalue(), output_format=miniaudio.SampleFormat.FLOAT32, nchannels=1,
                               sample_rate=OUT_RATE)
    samples = np.asarray(decoded.samples)
    assert chapter.sample_rate == OUT_RATE and len(samples) == chapter.samples
    words = list(place_words(chapter, entries.words))
    assert [w.text for w in words] == ["w0", "w1", "w0", "w1"]
    # Each word starts where its tone does in the decoded file.
    loud = np.abs(samples) > 0.05
    onsets = [i for i in range(1, len(loud)) if loud[i] and not loud[max(0, i - 2000):i].any()]
    assert len(onsets) == 4
    for word, onset in zip(words, onsets):
        assert abs(word.start_ms - onset * 1000 / OUT_RATE) <= 15
    if paragraph is not None:  # tone end to next tone start: the pause, plus 30 ms kept at each edge
        for before, after in zip(words, words[1:]):
            assert abs(after.start_ms - before.end_ms - 800) <= 80


def test_a_long_title_in_a_wide_script_still_makes_a_file_name_a_file_system_takes():
    stem = chapter_file_stem(100, 120, "\U00020000" * 100)
    assert len(f"{stem}.json.part".encode()) <= 255
    assert stem.startswith("100 - \U00020000")
