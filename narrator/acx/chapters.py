"""Mastered chapter files: decoded, cut at paragraphs, levelled, encoded once.

Used for --acx and --paragraph-pause: a pause inside a segment means cutting
the service's audio, and only decoded audio can be cut anywhere. Two passes
over a chapter's segments, one decoded segment in memory at a time: the
first finds where each stretch's sound starts and ends and measures the
chapter's level; the second applies one gain, limits peaks stretch by
stretch and feeds a single encoder, so the file is one constant-bit-rate
stream at 44.1 kHz, 192 kbps, as ACX asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

import numpy as np

from narrator.acx import mastering
from narrator.acx.rules import Levels
from narrator.audio.encode import CODEC_DELAY_SAMPLES, Encoder
from narrator.audio.mp3 import FrameReader
from narrator.audio.pcm import Samples, decode_frames, to_s16
from narrator.book.cache import BookSegments
from narrator.book.layout import WHOLE, ChapterAudio, Pauses, Piece, paragraph_spans
from narrator.model import Segment

OUT_RATE, OUT_KBPS = 44100, 192

# A stretch of speech: (segment index, start, end, span) in the segment's
# samples; the span is the words it carries (see layout.Piece).
Stretch = tuple[int, int, int, tuple[int, int]]


# Trimming stops this far short of where the sound measures as starting or
# ending, so a soft onset or a fading last syllable is never clipped.
GUARD_SECONDS = 0.03


def mastered_chapter(entries: BookSegments, group: Sequence[Segment], title: str, pauses: Pauses,
                     out: BinaryIO) -> ChapterAudio:
    rate = entries.meta(group[0].index)["sample_rate"]
    stretches, breaks, channels, gain_db = _measure(entries, group, pauses, rate)
    encoder = _ChapterEncoder(rate, channels, out)
    at = encoder.silence(pauses.lead_in)
    pieces: list[Piece] = []
    decoded: tuple[int, Samples] | None = None  # the last segment decoded, and its audio
    for n, (segment, start, end, span) in enumerate(stretches):
        if n and pauses.paragraph is not None and breaks[n - 1]:
            at += encoder.silence(pauses.paragraph)
        if decoded is None or decoded[0] != segment:
            decoded = (segment, decode_frames(entries.frames(segment))[0])
        speech = mastering.master(decoded[1][start:end], gain_db, rate=rate)
        # Under the speech too: services' own pauses are digital silence, which ACX reviewers hear as edits.
        encoder.write(speech + mastering.room_tone(len(speech), rate, channels))
        pieces.append(Piece(segment, start, end, at, span))
        at += end - start
    encoder.silence(pauses.chapter)
    samples = encoder.close()
    return ChapterAudio(title, tuple(pieces), samples, OUT_RATE, rate, CODEC_DELAY_SAMPLES * rate / OUT_RATE)


def _measure(entries: BookSegments, group: Sequence[Segment], pauses: Pauses,
             rate: int) -> tuple[list[Stretch], list[bool], int, float]:
    """The chapter's stretches of speech, (segment, start, end, span),
    whether each ends a paragraph (a run another voice goes on from does
    not, and gets no pause after it), its channels and the gain that brings
    the whole file to ACX's level.

    With a paragraph pause each paragraph is a stretch with its edges'
    silence trimmed; without, each segment is one and only the chapter's
    first and last edges are trimmed. Either way the lead-in and the
    chapter pause are as set."""
    found: list[Stretch] = []
    breaks: list[bool] = []
    levels: Levels | None = None
    cut_all = pauses.paragraph is not None
    for position, segment in enumerate(group):
        pcm = decode_frames(entries.frames(segment.index))[0]
        levels = levels or Levels(rate, pcm.shape[1])
        spans = paragraph_spans(entries.words(segment.index), rate, len(pcm)) if cut_all else [(0, len(pcm))]
        for k, (start, end) in enumerate(spans):
            low, high = _sound(pcm[start:end], rate)
            first, last = position == k == 0, position == len(group) - 1 and k == len(spans) - 1
            ends = k < len(spans) - 1 or not segment.ends or segment.ends[-1]
            # A run another voice goes on from keeps its edge's silence: the sentence's own pause.
            after_run = bool(breaks) and not breaks[-1] and k == 0
            keep = (start + (low if (cut_all and not after_run) or first else 0),
                    start + (high if (cut_all and ends) or last else end - start))
            levels.add(pcm[keep[0]:keep[1]])
            found.append((segment.index, *keep, (start, WHOLE if k == len(spans) - 1 else end)))
            breaks.append(ends)
    assert levels is not None, "a chapter has segments"
    pause_seconds = pauses.lead_in + pauses.chapter + (pauses.paragraph or 0) * sum(breaks[:-1])
    return found, breaks, levels.channels, mastering.chapter_gain_db(levels, padding_seconds=pause_seconds)


def _sound(pcm: np.ndarray, rate: int) -> tuple[int, int]:
    """Where the sound in `pcm` starts and ends, give or take the guard; (0, 0) if it holds none."""
    levels = Levels.of(pcm, rate)
    head, tail = levels.head_seconds, levels.tail_seconds
    if head is None or tail is None:
        return 0, 0
    guard = GUARD_SECONDS * rate
    low = max(0, round(head * rate - guard))
    high = min(len(pcm), round(len(pcm) - tail * rate + guard))
    return low, high


class _ChapterEncoder:
    """One LAME encoder for the whole chapter file, counting the samples of the frames it writes."""

    def __init__(self, rate: int, channels: int, out: BinaryIO):
        self._lame = Encoder(channels, rate, OUT_RATE, OUT_KBPS, quality=5)
        self._rate, self._channels, self._out = rate, channels, out
        self._reader = FrameReader()

    def write(self, pcm: np.ndarray) -> None:
        self._emit(self._reader.feed(self._lame.encode(to_s16(pcm))))

    def silence(self, seconds: float) -> int:
        samples = round(seconds * self._rate)
        self.write(mastering.room_tone(samples, self._rate, self._channels))
        return samples

    def close(self) -> int:
        self._emit(self._reader.feed(self._lame.flush()))
        self._emit(self._reader.finish())
        return self._reader.samples

    def _emit(self, frames: list[bytes]) -> None:
        self._out.write(b"".join(frames))
