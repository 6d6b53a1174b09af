"""Captions follow the speech: decode the book MP3 and compare every
paragraph's first cue with where speech begins, from start to end."""

from __future__ import annotations

import re

import miniaudio
import numpy as np
import pytest

from narrator.server.app import EmbeddedServer
from narrator.settings import NarrateOptions
from tests.helpers import generated_book, run
from tests.narrating import narrate_book

TOLERANCE_MS = 60
QUIET_MS = 50  # a paragraph starts after at least this much silence
LOUD_RMS = 300


def speech_onsets(mp3: bytes) -> np.ndarray:
    """Times (ms) where speech starts after a pause, from decoded samples."""
    decoded = miniaudio.mp3_read_s16(mp3)
    samples = np.frombuffer(decoded.samples, dtype=np.int16).astype(np.float32)
    rate = decoded.sample_rate
    window = rate // 200
    count = len(samples) // window
    rms = np.sqrt((samples[: count * window].reshape(count, window) ** 2).mean(axis=1))
    loud = rms > LOUD_RMS
    onsets, quiet = [], 0
    for i, is_loud in enumerate(loud):
        if is_loud:
            if quiet * window * 1000 / rate >= QUIET_MS:
                onsets.append(i * window * 1000 / rate)  # exact: a window is not a whole number of ms
            quiet = 0
        else:
            quiet += 1
    return np.array(onsets)


def cue_starts(srt: str) -> list[tuple[int, list[str]]]:
    cues = []
    for block in srt.strip().split("\n\n"):
        lines = block.split("\n")
        h, m, s, ms = re.match(r"(\d+):(\d\d):(\d\d),(\d{3})", lines[1]).groups()
        cues.append(((int(h) * 3600 + int(m) * 60 + int(s)) * 1000 + int(ms), " ".join(lines[2:]).split()))
    return cues


def paragraph_starts(book) -> list[bool]:
    flags = []
    for chapter in book.chapters:
        for paragraph in [chapter.title + "."] + list(chapter.paragraphs):
            words = paragraph.split()
            flags += [True] + [False] * (len(words) - 1)
    return flags


@pytest.mark.slow
def test_paragraph_cues_start_where_speech_starts_with_no_drift(tmp_path):
    book = generated_book(300, chapters=4, seed=9)  # about 35 minutes of speech
    options = NarrateOptions(tmp_path, output_format="mp3_22050_32", progress=False)
    result = run(narrate_book(book, "long", options))
    assert result.audio_seconds > 25 * 60
    onsets = speech_onsets(result.mp3.read_bytes())
    flags, word = paragraph_starts(book), 0
    errors = []
    for start, words in cue_starts(result.captions["srt"].read_text()):
        if flags[word] and start > 0:
            nearest = onsets[np.argmin(np.abs(onsets - start))]
            errors.append((start, nearest - start))
        word += len(words)
    assert word == len(flags)  # every word once
    assert len(errors) >= 300
    worst = max(errors, key=lambda e: abs(e[1]))
    assert abs(worst[1]) <= TOLERANCE_MS, f"cue at {worst[0]} ms is {worst[1]:.0f} ms from the speech"
    # No drift: the last tenth of the book is as close as the first.
    tenth = len(errors) // 10
    early = np.mean([abs(e) for _, e in errors[:tenth]])
    late = np.mean([abs(e) for _, e in errors[-tenth:]])
    assert late < early + 15


ESTIMATED_TOLERANCE_MS = 150


def test_without_timings_each_paragraph_starts_where_its_audio_starts(tmp_path, monkeypatch):
    """Sarvam sends no timings: captions are estimated, but each paragraph is
    flushed alone, so its first cue sits where its own audio starts and
    nothing drifts from paragraph to paragraph."""
    monkeypatch.setenv("SARVAM_API_KEY", "sync-key")
    book = generated_book(60, chapters=2, seed=4)

    async def narrate():
        async with EmbeddedServer(api_key="sync-key") as server:
            options = NarrateOptions(tmp_path, provider="sarvam", endpoint=server.url, progress=False)
            return await narrate_book(book, "estimated", options)

    result = run(narrate())
    assert result.estimated_chapters == [c.title for c in book.chapters]
    onsets = speech_onsets(result.mp3.read_bytes())
    flags, word, errors = paragraph_starts(book), 0, []
    for start, words in cue_starts(result.captions["srt"].read_text()):
        if flags[word] and start > 0:
            errors.append(onsets[np.argmin(np.abs(onsets - start))] - start)
        word += len(words)
    assert word == len(flags) and len(errors) >= 60
    assert max(abs(e) for e in errors) <= ESTIMATED_TOLERANCE_MS, sorted(errors)[-5:]
