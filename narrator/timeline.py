"""One segment's audio chunks to audio frames and timed source words.

The rule that keeps captions in sync over a ten-hour book: a chunk's
alignment is relative to that chunk, and the chunk's place is the duration
of all audio before it counted in MP3 samples, never the sum of the
service's character durations. Sample counts stay integers until a time is
written out.
"""

from __future__ import annotations

from dataclasses import dataclass

from narrator.errors import AudioError
from narrator.mp3 import FrameReader
from narrator.protocol.events import AudioChunk


@dataclass(frozen=True)
class TimedWord:
    """A source word, its times in ms from the start of its segment."""

    text: str
    start: float
    end: float
    ends_paragraph: bool


@dataclass(frozen=True)
class SegmentAudio:
    frames: bytes
    samples: int
    sample_rate: int
    words: tuple[TimedWord, ...]
    estimated: bool  # word times spread by characters: the service sent no alignment

    @property
    def duration_ms(self) -> float:
        return self.samples * 1000 / self.sample_rate


def source_words(paragraphs) -> list[tuple[str, bool]]:
    words = []
    for paragraph in paragraphs:
        tokens = paragraph.split()
        words += [(token, i == len(tokens) - 1) for i, token in enumerate(tokens)]
    return words


def segment_audio(paragraphs, chunks: list[AudioChunk]) -> SegmentAudio:
    reader = FrameReader()
    frames: list[bytes] = []
    spoken: list[tuple[float, float]] = []  # per non-space aligned character: start, end (ms)
    estimated = False
    for chunk in chunks:
        # A frame split across two chunks counts from the chunk that completes
        # it: the error is under one frame and never accumulates.
        offset_ms = reader.samples * 1000 / reader.sample_rate if reader.sample_rate else 0.0
        frames += reader.feed(chunk.audio)
        if chunk.alignment is None:
            estimated = True
            continue
        a = chunk.alignment
        durations = a.durations_ms or (0,) * len(a.chars)
        spoken += [
            (offset_ms + start, offset_ms + start + duration)
            for char, start, duration in zip(a.chars, a.starts_ms, durations)
            if not char.isspace()
        ]
    frames += reader.finish()
    if not reader.sample_rate:
        raise AudioError("the service sent no audio frames for a segment")
    total_ms = reader.samples * 1000 / reader.sample_rate
    words = source_words(paragraphs)
    if estimated or not spoken:
        timed, estimated = _spread(words, total_ms), True
    else:
        timed = _place(words, spoken, total_ms)
    return SegmentAudio(b"".join(frames), reader.samples, reader.sample_rate, tuple(timed), estimated)


def _place(words, spoken, total_ms: float) -> list[TimedWord]:
    """Give each source word the time of its first character. When the
    service's characters differ from ours (it normalised something), map by
    position in proportion, still on the service's own times."""
    ours = sum(len(w) for w, _ in words)
    scale = len(spoken) / ours if ours else 1.0
    timed, index = [], 0
    for text, last in words:
        first = min(int(index * scale), len(spoken) - 1)
        final = min(int((index + len(text)) * scale) - 1, len(spoken) - 1)
        start, end = spoken[first][0], max(spoken[max(final, first)][1], spoken[first][0])
        timed.append(TimedWord(text, start, min(end, total_ms), last))
        index += len(text)
    return timed


def _spread(words, total_ms: float) -> list[TimedWord]:
    """No alignment: spread words over the segment's own audio by characters."""
    total_chars = sum(len(w) + 1 for w, _ in words) or 1
    timed, index = [], 0
    for text, last in words:
        start = total_ms * index / total_chars
        index += len(text) + 1
        timed.append(TimedWord(text, start, total_ms * (index - 1) / total_chars, last))
    return timed
