"""Captions: timed source words in, SRT / WebVTT cues out.

Pure and streaming. A ten-hour book is ~100k words fed as an iterator, so
the builder holds only the words of the cue being built (plus the previous
cue's timing, needed to settle its end) and yields cues as it goes. Writers
take an already open text file and write cue by cue.

Pipeline: words -> _group_words (which words share a cue) -> _time_groups
(start/end in ms, line wrapping) -> Cue.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence, TextIO

from .model import Word

# A sentence ends with . ! ? or an ellipsis, possibly inside closing quotes
# or brackets: `end.` `"end."` `(end!)`.
_CLOSERS = "\"'\u201d\u2019\u00bb\u203a)]}"
_SENTENCE_END = re.compile(rf"[.!?\u2026][{re.escape(_CLOSERS)}]*$")
_CLAUSE_END = re.compile(rf"[,;:\u2014\u2013][{re.escape(_CLOSERS)}]*$")

# Break strengths: a better place to end a cue, or to split its two lines.
_NO_BREAK, _CLAUSE, _SENTENCE = 0, 1, 2

# Past this length a sentence end closes the cue even if it is not half full,
# so that cues follow sentences instead of straddling them.
_SENTENCE_CUE_MS = 3000


@dataclass(frozen=True)
class Cue:
    start_ms: int
    end_ms: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _break_strength(text: str) -> int:
    if _SENTENCE_END.search(text):
        return _SENTENCE
    if _CLAUSE_END.search(text):
        return _CLAUSE
    return _NO_BREAK


# --------------------------------------------------------------------------
# Line wrapping


def _line_count(words: Sequence[str], max_chars: int) -> int:
    """Fewest lines that hold `words`, an over-long word alone on its line.

    Greedy filling is optimal here because any part of a line that fits also
    fits, so this is the exact minimum and cheap enough to call per word.
    """
    lines, width = 0, 0
    for word in words:
        if lines and width + 1 + len(word) <= max_chars:
            width += 1 + len(word)
        else:
            lines, width = lines + 1, len(word)
    return lines


def _line_fits(words: Sequence[str], max_chars: int) -> bool:
    # A single word is always allowed: we never cut inside a word.
    return len(words) == 1 or len(" ".join(words)) <= max_chars


def wrap_lines(
    words: Sequence[str], max_chars: int, max_lines: int
) -> tuple[str, ...] | None:
    """Lay `words` on as few lines as possible, balanced; None if they do not fit.

    With the fewest lines fixed, the split minimises the sum of squared line
    lengths (for two lines: the length difference), then prefers splits after
    punctuation (sentence ends over clause marks), then the shorter top line
    (bottom-heavy, the usual subtitle shape).
    """
    if not words:
        return ()
    count = _line_count(words, max_chars)
    if count > max_lines:
        return None
    if count == 1:
        return (" ".join(words),)
    return _balanced(list(words), max_chars, count)


def _balanced(words: list[str], max_chars: int, count: int) -> tuple[str, ...]:
    """Exactly `count` lines by dynamic programming over split points."""
    n = len(words)
    # best[k][i]: (cost, splits) laying words[:i] on k lines, where cost is
    # (sum of squared lengths, -punctuation strength of the splits).
    best: list[dict[int, tuple[tuple[int, int], tuple[int, ...]]]] = [{0: ((0, 0), ())}]
    for k in range(1, count + 1):
        row: dict[int, tuple[tuple[int, int], tuple[int, ...]]] = {}
        for i in range(k, n + 1):
            for j, ((squares, punct), splits) in best[k - 1].items():
                # Ascending j with a strict `<` keeps the earliest split on
                # ties: the shorter top line.
                if j >= i or not _line_fits(words[j:i], max_chars):
                    continue
                width = len(" ".join(words[j:i]))
                bonus = _break_strength(words[i - 1]) if i < n else 0
                cost = (squares + width * width, punct - bonus)
                if i not in row or cost < row[i][0]:
                    row[i] = (cost, splits + (i,))
        best.append(row)
    bounds = (0,) + best[count][n][1]
    return tuple(" ".join(words[a:b]) for a, b in zip(bounds, bounds[1:]))


# --------------------------------------------------------------------------
# Grouping words into cues


@dataclass(frozen=True)
class _Limits:
    max_chars: int
    max_lines: int
    max_ms: int

    def fits(self, words: Sequence[Word]) -> bool:
        texts = [w.text for w in words]
        if _line_count(texts, self.max_chars) > self.max_lines:
            return False
        return words[-1].end_ms - words[0].start_ms <= self.max_ms

    def closes_at_sentence(self, words: Sequence[Word]) -> bool:
        """A sentence end closes a cue that is already half full or long."""
        if _break_strength(words[-1].text) != _SENTENCE:
            return False
        chars = sum(len(w.text) for w in words) + len(words) - 1
        half_full = 2 * chars >= self.max_chars * self.max_lines
        return half_full or words[-1].end_ms - words[0].start_ms >= _SENTENCE_CUE_MS


def _best_break(words: Sequence[Word]) -> int:
    """How many words the cue keeps: up to the latest sentence end, else the
    latest clause mark, else all of them."""
    for strength in (_SENTENCE, _CLAUSE):
        for i in range(len(words) - 1, -1, -1):
            if _break_strength(words[i].text) == strength:
                return i + 1
    return len(words)


def _group_words(words: Iterable[Word], limits: _Limits) -> Iterator[list[Word]]:
    """Yield the words of each cue, in order, as soon as the cue is decided."""
    cue: list[Word] = []
    for word in words:
        if not word.text.strip():
            # An empty word still carries its paragraph end: honour it.
            if word.ends_paragraph and cue:
                yield cue
                cue = []
            continue
        # Words carried over from an overflowing cue are fed again, ahead of
        # the word that caused the overflow: the carry is at most one cue.
        todo = deque([word])
        while todo:
            nxt = todo.popleft()
            if cue and not limits.fits(cue + [nxt]):
                keep = _best_break(cue)  # >= 1, so every pass makes progress
                yield cue[:keep]
                todo.appendleft(nxt)
                todo.extendleft(reversed(cue[keep:]))
                cue = []
                continue
            cue.append(nxt)
            if nxt.ends_paragraph or limits.closes_at_sentence(cue):
                yield cue
                cue = []
    if cue:
        yield cue


# --------------------------------------------------------------------------
# Timing


@dataclass(frozen=True)
class _Draft:
    """A cue whose end waits for the next cue's start."""

    start_ms: int
    wanted_end_ms: int  # last word's end, stretched toward min_ms
    lines: tuple[str, ...]

    def settle(self, next_start_ms: int | None, audio_end_ms: int) -> Cue:
        end = min(self.wanted_end_ms, audio_end_ms)
        if next_start_ms is not None:
            end = min(end, next_start_ms)
        # end > start wins over every cap; the next cue's start is pushed
        # past it instead (see _time_groups), so cues still never overlap.
        return Cue(self.start_ms, max(end, self.start_ms + 1), self.lines)


def _time_groups(
    groups: Iterable[list[Word]], limits: _Limits, *, audio_end_ms: int, min_ms: int
) -> Iterator[Cue]:
    draft: _Draft | None = None
    previous_end = None
    for group in groups:
        start = group[0].start_ms
        if draft is not None:
            cue = draft.settle(start, audio_end_ms)
            previous_end = cue.end_ms
            yield cue
        if previous_end is not None:
            # Only moves when words overlap or share a start: fixes overlap.
            start = max(start, previous_end)
        lines = wrap_lines([w.text for w in group], limits.max_chars, limits.max_lines)
        assert lines is not None, "grouping only builds cues that fit"
        wanted_end = max(group[-1].end_ms, start + min_ms)
        draft = _Draft(start, wanted_end, lines)
    if draft is not None:
        yield draft.settle(None, audio_end_ms)


def build_cues(
    words: Iterable[Word],
    *,
    audio_end_ms: int,
    max_chars: int = 42,
    max_lines: int = 2,
    max_ms: int = 7000,
    min_ms: int = 800,
) -> Iterator[Cue]:
    """Cues for timed words, streamed: each is yielded once the next is known.

    A cue starts at its first word's start (the sync contract) and ends at its
    last word's end, stretched toward `min_ms` but never past the next cue's
    start or `audio_end_ms`.
    """
    limits = _Limits(max_chars=max_chars, max_lines=max_lines, max_ms=max_ms)
    groups = _group_words(words, limits)
    return _time_groups(groups, limits, audio_end_ms=audio_end_ms, min_ms=min_ms)


# --------------------------------------------------------------------------
# Output formats


def _timestamp(ms: int, separator: str) -> str:
    if ms < 0:
        raise ValueError(f"negative timestamp: {ms} ms")
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def srt_timestamp(ms: int) -> str:
    """`HH:MM:SS,mmm`; hours keep growing past 99 rather than wrapping."""
    return _timestamp(ms, ",")


def vtt_timestamp(ms: int) -> str:
    """`HH:MM:SS.mmm`; hours keep growing past 99 rather than wrapping."""
    return _timestamp(ms, ".")


def _write_cues(cues: Iterable[Cue], out: TextIO, block) -> int:
    """Stream cues through `block(number, cue) -> str`, a blank line between."""
    count = 0
    for count, cue in enumerate(cues, start=1):
        if count > 1:
            out.write("\n")
        out.write(block(count, cue))
    return count


def write_srt(cues: Iterable[Cue], out: TextIO) -> int:
    """Write SubRip cues (1-based, blank line between); return how many."""
    return _write_cues(cues, out, lambda number, cue: (
        f"{number}\n{srt_timestamp(cue.start_ms)} --> {srt_timestamp(cue.end_ms)}\n{cue.text}\n"
    ))


def _vtt_text(text: str) -> str:
    # WebVTT cue text is markup: & and < must be escaped, and escaping > too
    # means "-->" can never appear, while players still show it as typed.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_vtt(cues: Iterable[Cue], out: TextIO) -> int:
    """Write a WebVTT file (header, blank line between cues); return how many."""
    out.write("WEBVTT\n\n")
    return _write_cues(cues, out, lambda _, cue: (
        f"{vtt_timestamp(cue.start_ms)} --> {vtt_timestamp(cue.end_ms)}\n{_vtt_text(cue.text)}\n"
    ))
