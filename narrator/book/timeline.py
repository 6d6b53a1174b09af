"""One segment's audio chunks to audio frames and timed source words.

The rule that keeps captions in sync over a ten-hour book: a chunk's
alignment is relative to that chunk, and the chunk's place is the duration
of all audio before it counted in MP3 samples, never the sum of the
service's character durations. Sample counts stay integers until a time is
written out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from narrator.audio.mp3 import FrameReader
from narrator.errors import AudioError
from narrator.model import Said
from narrator.protocol.events import AudioChunk, Final


@dataclass(frozen=True)
class TimedWord:
    """A source word, its times in ms from the start of its segment."""

    text: str
    start: float
    end: float
    ends_paragraph: bool
    estimated: bool = False  # its segment's times were spread by characters, in whole or part


@dataclass(frozen=True)
class SegmentAudio:
    frames: bytes
    samples: int
    sample_rate: int
    words: tuple[TimedWord, ...]
    estimated: bool  # word times spread by characters: the service sent no alignment
    interpolated: int = 0  # words the alignment left out, timed between their neighbours

    @property
    def duration_ms(self) -> float:
        return self.samples * 1000 / self.sample_rate


def source_words(paragraphs: Iterable[str]) -> list[tuple[str, bool]]:
    """Each word of the paragraphs, and whether it ends its paragraph."""
    words: list[tuple[str, bool]] = []
    for paragraph in paragraphs:
        tokens = paragraph.split()
        words += [(token, i == len(tokens) - 1) for i, token in enumerate(tokens)]
    return words


@dataclass(frozen=True)
class _Hole:
    """Audio that came without alignment: its frame-counted place."""

    start: float
    end: float


# A spoken character on the segment's clock: what the service aligned (None
# where it is an estimate inside audio that came without alignment), start, end.
_Char = tuple[str | None, float, float]
# What one chunk gives the segment's clock: its characters, or a hole where it came without alignment.
_Span = list[_Char] | _Hole


def segment_audio(paragraphs: Sequence[str], chunks: list[AudioChunk | Final]) -> SegmentAudio:
    """Frames and timed words for one segment: the words of `paragraphs`, as
    they were sent. A Final among the chunks marks where a flushed
    paragraph's audio ends (services without timings); words are then
    placed inside their own paragraph's audio."""
    reader = FrameReader()
    frames: list[bytes] = []
    parts: list[list[_Span]] = [[]]  # per flushed paragraph: aligned character times, or holes
    for chunk in chunks:
        if isinstance(chunk, Final):
            parts.append([])
            continue
        # A frame split across two chunks counts from the chunk that completes
        # it: the error is under one frame and never accumulates.
        offset_ms = _ms(reader)
        frames += reader.feed(chunk.audio)
        parts[-1].append(_timed(chunk, offset_ms, _ms(reader)))
    frames += reader.finish()
    if not reader.sample_rate:
        raise AudioError("the service sent no audio frames for a segment")
    texts = [[p] for p in paragraphs]
    if len(parts) - 1 != len(paragraphs):  # no marks (or not one per paragraph): one span for all
        texts, parts = [list(paragraphs)], [[item for part in parts for item in part]]
    timed: list[TimedWord] = []
    interpolated = 0
    for text, items in zip(texts, parts):
        words = source_words(text)
        start = _start_of(items, timed[-1].end if timed else 0.0)
        spoken = _characters(items, sum(len(w) for w, _ in words), start)
        placed, skipped = _place(words, spoken, start, _ms(reader))
        timed += placed
        interpolated += skipped
    estimated = any(isinstance(item, _Hole) for part in parts for item in part)
    if estimated:  # marked by segment, as the cache keeps it: an estimate anywhere shifts its neighbours
        timed = [replace(word, estimated=True) for word in timed]
    return SegmentAudio(b"".join(frames), reader.samples, reader.sample_rate, tuple(timed), estimated,
                        interpolated)


def unsaid(timed: Sequence[TimedWord], paragraphs: Sequence[str], said: Sequence[Said]) -> list[TimedWord]:
    """The paragraphs' own words on the times of the words a lexicon sent for
    them (`timed`): a word replaced by several takes their whole span;
    several replaced together share theirs by length. Done when a book is
    joined, not when a segment is stored: the cache keeps what was sent, and
    another text that sends the same words shares the entry."""
    words: list[TimedWord] = []
    at = 0
    for paragraph, spoken in zip(paragraphs, said):
        own = paragraph.split()
        i = 0
        while i < len(own):
            group = 1 + next((k for k, c in enumerate(spoken.counts[i + 1:]) if c), len(own) - i - 1)
            sent = timed[at:at + spoken.counts[i]]
            start, end = sent[0].start, sent[-1].end
            lengths = [len(w) for w in own[i:i + group]]
            step = (end - start) / sum(lengths)
            for k, length in enumerate(lengths):
                words.append(TimedWord(own[i + k], start, start + step * length, i + k == len(own) - 1,
                                       sent[0].estimated))
                start += step * length
            at += spoken.counts[i]
            i += group
    return words


def ended(words: Sequence[TimedWord], pieces: Sequence[str], ends: Sequence[bool]) -> list[TimedWord]:
    """The words with only a paragraph's last word ending it: a piece cut
    from a paragraph by a change of voice ends nothing."""
    marked = list(words)
    last = -1
    for piece, end in zip(pieces, ends):
        last += len(piece.split())
        marked[last] = replace(marked[last], ends_paragraph=end)
    return marked


def _ms(reader: FrameReader) -> float:
    return reader.samples * 1000 / reader.sample_rate if reader.sample_rate else 0.0


def _timed(chunk: AudioChunk, start_ms: float, end_ms: float) -> _Span:
    """The chunk's non-space characters on the segment's clock, or a hole."""
    if chunk.alignment is None:
        return _Hole(start_ms, end_ms)
    a = chunk.alignment
    durations = a.durations_ms or (0,) * len(a.chars)
    # An entry may hold several code points (a cluster): each is matched on its own, at the entry's time.
    return [(c, start_ms + s, start_ms + s + d)
            for entry, s, d in zip(a.chars, a.starts_ms, durations) for c in str(entry) if not c.isspace()]


def _start_of(items: Sequence[_Span], default: float) -> float:
    for item in items:
        if isinstance(item, _Hole):
            return item.start
        if item:
            return item[0][1]
    return default


def _characters(items: Sequence[_Span], expected: int, start: float) -> list[_Char]:
    """A time for every spoken character: the service's where it aligned them;
    where it did not (a hole), the characters it did not account for, shared
    among the holes by their frame-counted length and spread evenly inside
    each. Estimates stay inside their own audio and never drift."""
    holes = [item for item in items if isinstance(item, _Hole)]
    aligned = sum(len(item) for item in items if not isinstance(item, _Hole))
    shares = iter(_shares(max(expected - aligned, 0), [h.end - h.start for h in holes]))
    spoken: list[_Char] = []
    for item in items:
        if not isinstance(item, _Hole):
            spoken += item
            continue
        count = next(shares)
        step = (item.end - item.start) / count if count else 0.0
        spoken += [(None, item.start + k * step, item.start + (k + 1) * step) for k in range(count)]
    return spoken or [(None, start, start)]


def _shares(total: int, lengths: list[float]) -> list[int]:
    """`total` split in proportion to `lengths`, summing exactly to `total`."""
    whole = sum(lengths)
    if not lengths:
        return []
    if whole <= 0:
        lengths, whole = [1.0] * len(lengths), float(len(lengths))
    bounds = [round(total * sum(lengths[: i + 1]) / whole) for i in range(len(lengths))]
    return [b - a for a, b in zip([0] + bounds[:-1], bounds)]


def _place(words: Sequence[tuple[str, bool]], spoken: Sequence[_Char], floor: float,
           total_ms: float) -> tuple[list[TimedWord], int]:
    """Each source word timed by the service's characters that are its own:
    from its first one's start to its last one's end. A word the alignment
    left out (a symbol, an emoji, a tag) gets a share of the time between
    its neighbours, by its length, and is counted; so is a word whose
    letters or digits were left out in part. Nothing leaves [floor, total_ms]."""
    ours = "".join(w for w, _ in words)
    match = _matched(ours, spoken)
    spans: list[tuple[float, float] | None] = []
    interpolated, index = 0, 0
    for text, _ in words:
        mine = match[index:index + len(text)]
        own = [spoken[m] for m in mine if m is not None]
        spans.append((own[0][1], max(t[2] for t in own)) if own else None)
        missing = sum(1 for c, m in zip(text, mine) if m is None and c.isalnum())
        interpolated += not own or missing > 0
        index += len(text)
    times = _fill(spans, [len(w) for w, _ in words], floor, max(min(total_ms, spoken[-1][2]), floor))
    timed = []
    for (text, last), (start, end) in zip(words, times):
        start = min(max(start, floor), total_ms)
        timed.append(TimedWord(text, start, min(max(end, start), total_ms), last))
    return timed, interpolated


def _matched(ours: str, spoken: Sequence[_Char]) -> list[int | None]:
    """For each of our characters, the spoken character that is it, or None.
    Where audio came without alignment (estimated characters) or the
    service's characters are not ours at all, by position in proportion;
    else by walking both, so characters it left out are skipped over instead
    of shifting every word after them."""
    theirs = [c for c, _, _ in spoken]
    if theirs == list(ours):
        return list(range(len(ours)))
    if None in theirs or not ours:
        scale = len(spoken) / len(ours) if ours else 1.0
        return [min(int(i * scale), len(spoken) - 1) for i in range(len(ours))]
    match = _walk(ours, theirs)
    if not any(m is not None for m in match):  # nothing in common: the proportional estimate is better
        return _matched(ours, [(None, s, e) for _, s, e in spoken])
    return match


def _walk(ours: str, theirs: list[str | None], reach: int = 32) -> list[int | None]:
    """Our characters matched to the service's in one pass, in time linear in
    the text: where they differ, whichever side's next character turns up
    sooner on the other within `reach` is taken as left out (ours) or added
    (theirs, say a normalised number); else both are passed over."""
    match: list[int | None] = [None] * len(ours)
    i = j = 0
    while i < len(ours) and j < len(theirs):
        if ours[i] == theirs[j]:
            match[i] = j
            i, j = i + 1, j + 1
            continue
        left_out = ours.find(theirs[j] or "\0", i, i + reach)
        added = next((k for k in range(j, min(j + reach, len(theirs))) if theirs[k] == ours[i]), -1)
        if added >= 0 and (left_out < 0 or added - j <= left_out - i):
            j = added
        elif left_out >= 0:
            i = left_out
        else:
            i, j = i + 1, j + 1
    return match


def _fill(spans: list[tuple[float, float] | None], lengths: list[int], floor: float,
          ceiling: float) -> list[tuple[float, float]]:
    """Every word's (start, end): its own span, or for a run of words without
    one, the time between the word before and the word after, shared by length."""
    filled: list[tuple[float, float]] = []
    i = 0
    while i < len(spans):
        span = spans[i]
        if span is not None:
            filled.append(span)
            i += 1
            continue
        j = next((k for k in range(i, len(spans)) if spans[k] is not None), len(spans))
        left = filled[-1][1] if filled else floor
        after = spans[j] if j < len(spans) else None
        right = max(after[0] if after is not None else ceiling, left)
        step = (right - left) / max(sum(lengths[i:j]), 1)
        at = left
        for k in range(i, j):
            filled.append((at, at + step * lengths[k]))
            at += step * lengths[k]
        i = j
    return filled
