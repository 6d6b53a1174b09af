"""Where each stretch of a segment's audio lands in a chapter file.

Pure sample arithmetic. A chapter file is room tone, the chapter's speech and
room tone again; the speech is the chapter's segments whole (frames copied)
or cut into paragraphs with set pauses between them (mastered). Either way
the file is described by pieces, each a stretch of one segment's decoded
audio and the place it starts in the chapter, and a word moves with the
piece it is spoken in. Positions are integer samples; milliseconds appear
only when a time is written out, so nothing drifts over a long book.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from narrator.book.timeline import TimedWord
from narrator.model import Segment, Word


@dataclass(frozen=True)
class Pauses:
    """Seconds of room tone. Between two chapters of the whole book you hear
    one chapter's `chapter` pause and then the next one's `lead_in`."""

    lead_in: float = 0.75  # before each chapter's first word (ACX asks 0.5-1 s)
    chapter: float = 2.0  # after its last word (ACX asks 1-5 s)
    paragraph: float | None = None  # None: the voice's own pauses


WHOLE = 2**62  # a span's end that takes every later word of its segment


@dataclass(frozen=True)
class Piece:
    segment: int  # the segment's index in the book
    start: int  # the stretch of its decoded audio kept, in segment samples
    end: int
    at: int  # where the stretch starts in the chapter file, in the same samples
    # The words it carries: those starting in this span (the stretch before
    # its edges' silence was trimmed), so trimming never loses a word.
    span: tuple[int, int]


@dataclass(frozen=True)
class ChapterAudio:
    """A written chapter file: its pieces and its exact length."""

    title: str
    pieces: tuple[Piece, ...]
    samples: int  # of the chapter file's audio frames, at `sample_rate`
    sample_rate: int
    # Piece positions are in samples at this rate (the segments' rate), shifted
    # by `delay` of them: what an encoder added at the start of the file.
    piece_rate: int
    delay: float = 0.0

    @property
    def duration_ms(self) -> float:
        return self.samples * 1000 / self.sample_rate


def chapters_of(segments: Sequence[Segment]) -> list[list[Segment]]:
    """Segments grouped by chapter, in book order (a segment never spans two)."""
    groups: dict[int, list[Segment]] = {}
    for segment in segments:
        groups.setdefault(segment.chapter, []).append(segment)
    return [groups[chapter] for chapter in sorted(groups)]


def frames_for(seconds: float, sample_rate: int, frame_samples: int) -> int:
    """Whole MP3 frames nearest to `seconds`: silence is cut in frames when copying."""
    return round(seconds * sample_rate / frame_samples)


def copied_pieces(segments: Sequence[tuple[int, int]], head_samples: int) -> tuple[tuple[Piece, ...], int]:
    """Segments (index, samples) laid end to end after `head_samples`: the
    pieces and where the speech ends."""
    pieces, at = [], head_samples
    for index, samples in segments:
        pieces.append(Piece(index, 0, samples, at, (0, WHOLE)))
        at += samples
    return tuple(pieces), at


def paragraph_spans(words: Sequence[TimedWord], sample_rate: int, total: int) -> list[tuple[int, int]]:
    """A segment cut between its paragraphs, each cut halfway through the
    silence between one paragraph's last word and the next one's first."""
    cuts, previous_end = [], None
    for word in words:
        start = round(word.start * sample_rate / 1000)
        if previous_end is not None:
            cuts.append(min(max((previous_end + start) // 2, previous_end), total))
            previous_end = None
        if word.ends_paragraph:
            previous_end = round(word.end * sample_rate / 1000)
    bounds = [0, *cuts, total]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def place_words(chapter: ChapterAudio, words_of: Callable[[int], Sequence[TimedWord]],
                offset_ms: float = 0.0) -> Iterator[Word]:
    """The chapter's words on its file's timeline (plus `offset_ms`, the
    chapter's start in the whole book). A word moves with the piece whose
    span its start falls in, and stays inside the audio that piece kept."""
    scale = 1000 / chapter.piece_rate
    cache: tuple[int, Sequence[TimedWord]] | None = None
    for piece in chapter.pieces:
        if cache is None or cache[0] != piece.segment:
            cache = (piece.segment, words_of(piece.segment))
        shift = (piece.at - piece.start + chapter.delay) * scale + offset_ms
        low, high = piece.start * scale, piece.end * scale
        owns = piece.span[0] * scale, piece.span[1] * scale
        for word in cache[1]:
            if owns[0] <= word.start < owns[1]:
                start, end = min(max(word.start, low), high), min(max(word.end, low), high)
                yield Word(word.text, round(start + shift), round(end + shift), word.ends_paragraph,
                           word.estimated)


def chapter_starts(chapters: Iterable[ChapterAudio]) -> Iterator[tuple[ChapterAudio, int]]:
    """Each chapter and the samples of the whole book before it: a chapter
    starts exactly where the previous one's frames end."""
    samples = 0
    for chapter in chapters:
        yield chapter, samples
        samples += chapter.samples


def book_marks(chapters: Iterable[ChapterAudio]) -> Iterator[tuple[str, int, int]]:
    """(title, start ms, end ms) of each chapter in the whole book."""
    for chapter, start in chapter_starts(chapters):
        rate = chapter.sample_rate  # one rate for the book: assemble checks it
        yield chapter.title, _ms(start, rate), _ms(start + chapter.samples, rate)


def _ms(samples: int, rate: int) -> int:
    return (samples * 1000 + rate // 2) // rate


_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
# File systems limit a name to 255 bytes, not characters; this leaves room
# for the number and the longest suffix (`.json.part`).
_MAX_NAME_BYTES = 200


def chapter_file_stem(number: int, total: int, title: str) -> str:
    """`07 - The Harbour`: numbered so names sort in book order, and safe on
    every common file system (no separators, reserved characters, trailing
    dots or spaces; at most 200 bytes of title, cut between characters)."""
    clean = " ".join(_UNSAFE.sub(" ", unicodedata.normalize("NFC", title)).split())
    clean = clean.encode()[:_MAX_NAME_BYTES].decode("utf-8", "ignore").rstrip(" .") or "Chapter"
    return f"{number:0{max(2, len(str(total)))}d} - {clean}"
