"""Captions: timed source words in, SRT / WebVTT cues out.

Pure and streaming. A ten-hour book is ~100k words fed as an iterator, so
the builder holds only the words of the cue being built (plus the previous
cue's timing, needed to settle its end, and a word or two of lookahead
to place punctuation-only tokens and paragraph ends) and
yields cues as it goes. Writers take an already open text file and write
cue by cue.

Two styles: "sentence" cues (up to two balanced lines, following sentences)
and "word" cues (one word at a time). Every cue carries its words, so a
writer can time each word: WebVTT gets cue timestamp tags (karaoke form).

Pipeline: words -> spoken_words (drop empty words, keep their paragraph ends)
-> _units (a word with the punctuation-only tokens glued to it) ->
_group_words (which units share a cue) -> _time_groups (start/end in ms,
line wrapping) -> Cue.
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TextIO, TypeVar

from narrator.model import Word

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

CAPTION_STYLES = ("sentence", "word")

# Word style: a word stays up across a gap to the next word of at most this
# long, so that ordinary spacing between words does not flash a blank frame
# between every word; a longer gap (a real pause, a sentence end) shows
# nothing. Never across a paragraph end.
WORD_BRIDGE_MS = 300

_T = TypeVar("_T")


@dataclass(frozen=True)
class Cue:
    start_ms: int
    end_ms: int
    lines: tuple[str, ...]
    # The source words shown, in order, with their own times (which may
    # start before `start_ms` when the cue was pushed past its predecessor).
    # `lines` are these words' texts joined by spaces. Empty for hand-made cues.
    words: tuple[Word, ...] = ()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _break_strength(text: str) -> int:
    # A glued unit reads as one word: "close. ”" ends a sentence like "close.”".
    text = text.replace(" ", "")
    if _SENTENCE_END.search(text):
        return _SENTENCE
    if _CLAUSE_END.search(text):
        return _CLAUSE
    return _NO_BREAK


# --------------------------------------------------------------------------
# Punctuation-only tokens
#
# A token that is only punctuation ("—" or "…" written between spaces, a
# lone closing quote, French "?" and ":") belongs to the word before it: it
# must never start a line or a cue on its own. An opening bracket or quote
# alone ("(" "“" "«") belongs to the word after it. Both are glued into one
# unit that wrapping and grouping never split.


def _is_punctuation(text: str) -> bool:
    # The first character settles almost every word without a table lookup.
    if not text or text[0].isalnum():
        return False
    return all(unicodedata.category(c).startswith("P") for c in text)


def _opens(text: str) -> bool:
    if not text or text[0].isalnum():
        return False
    return all(unicodedata.category(c) in ("Ps", "Pi") for c in text)


def _glued(items: Iterable[_T], text: Callable[[_T], str], closes: Callable[[_T], bool]) -> Iterator[list[_T]]:
    """Runs of items that stay together: one word and the punctuation glued
    to it. `closes(item)` ends a run at once (a paragraph end), so nothing is
    held back across it."""
    unit: list[_T] = []
    opening = False  # the unit so far is only opening punctuation
    for item in items:
        word = text(item)
        opens = _opens(word)
        trailing = not opens and _is_punctuation(word)
        if unit and (trailing or opening):
            unit.append(item)
            opening = opening and opens
        else:
            if unit:
                yield unit
            unit, opening = [item], opens
        if closes(item):
            yield unit
            unit = []
    if unit:
        yield unit


def _glue(words: Sequence[str]) -> list[str]:
    return [" ".join(unit) for unit in _glued(words, str, lambda _: False)]


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
    (bottom-heavy, the usual subtitle shape). A punctuation-only token stays
    on the line of the word before it (an opening one, of the word after).
    """
    if not words:
        return ()
    words = _glue(words)
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


def spoken_words(words: Iterable[Word]) -> Iterator[Word]:
    """The words with text, each yielded once the next one is seen.

    An empty word still carries its paragraph end: it moves to the spoken
    word before it, which is why that word waits one word (no wait after a
    word that ends its paragraph already).
    """
    held: Word | None = None
    for word in words:
        if not word.text.strip():
            if word.ends_paragraph and held is not None:
                yield replace(held, ends_paragraph=True)
                held = None
            continue
        if held is not None:
            yield held
            held = None
        if word.ends_paragraph:
            yield word
        else:
            held = word
    if held is not None:
        yield held


@dataclass(frozen=True)
class _Unit:
    """Words that stay together, and their text (kept: it is measured often)."""

    words: tuple[Word, ...]
    text: str


def _units(words: Iterable[Word]) -> Iterator[_Unit]:
    """Each spoken word with its glued punctuation tokens; never across a
    paragraph end."""
    for unit in _glued(spoken_words(words), lambda w: w.text, lambda w: w.ends_paragraph):
        yield _Unit(tuple(unit), _unit_text(unit))


def _unit_text(words: Sequence[Word]) -> str:
    return " ".join(w.text for w in words)


@dataclass(frozen=True)
class _Limits:
    max_chars: int
    max_lines: int
    max_ms: int

    def fits(self, units: Sequence[_Unit]) -> bool:
        if _line_count([u.text for u in units], self.max_chars) > self.max_lines:
            return False
        return units[-1].words[-1].end_ms - units[0].words[0].start_ms <= self.max_ms

    def closes_at_sentence(self, units: Sequence[_Unit]) -> bool:
        """A sentence end closes a cue that is already half full or long."""
        if _break_strength(units[-1].text) != _SENTENCE:
            return False
        chars = sum(len(u.text) for u in units) + len(units) - 1
        half_full = 2 * chars >= self.max_chars * self.max_lines
        return half_full or units[-1].words[-1].end_ms - units[0].words[0].start_ms >= _SENTENCE_CUE_MS


def _best_break(units: Sequence[_Unit]) -> int:
    """How many units the cue keeps: up to the latest sentence end, else the
    latest clause mark, else all of them."""
    for strength in (_SENTENCE, _CLAUSE):
        for i in range(len(units) - 1, -1, -1):
            if _break_strength(units[i].text) == strength:
                return i + 1
    return len(units)


def _flat(units: Iterable[_Unit]) -> list[Word]:
    return [word for unit in units for word in unit.words]


def _group_words(words: Iterable[Word], limits: _Limits) -> Iterator[list[Word]]:
    """Yield the words of each cue, in order, as soon as the cue is decided."""
    cue: list[_Unit] = []
    for unit in _units(words):
        # Units carried over from an overflowing cue are fed again, ahead of
        # the unit that caused the overflow: the carry is at most one cue.
        todo = deque([unit])
        while todo:
            nxt = todo.popleft()
            if cue and not limits.fits(cue + [nxt]):
                keep = _best_break(cue)  # >= 1, so every pass makes progress
                yield _flat(cue[:keep])
                todo.appendleft(nxt)
                todo.extendleft(reversed(cue[keep:]))
                cue = []
                continue
            cue.append(nxt)
            if nxt.words[-1].ends_paragraph or limits.closes_at_sentence(cue):
                yield _flat(cue)
                cue = []
    if cue:
        yield _flat(cue)


# --------------------------------------------------------------------------
# Timing


@dataclass(frozen=True)
class _Draft:
    """A cue whose end waits for the next cue's start."""

    start_ms: int
    wanted_end_ms: int  # last word's end, stretched toward min_ms
    lines: tuple[str, ...]
    words: tuple[Word, ...]
    bridge_ms: int  # a gap to the next cue up to this long is closed

    def settle(self, next_start_ms: int | None, audio_end_ms: int) -> Cue:
        end = self.wanted_end_ms
        if next_start_ms is not None and next_start_ms - end <= self.bridge_ms:
            end = max(end, next_start_ms)
        end = min(end, audio_end_ms)
        if next_start_ms is not None:
            end = min(end, next_start_ms)
        # end > start wins over every cap; the next cue's start is pushed
        # past it instead (see _time_groups), so cues still never overlap.
        return Cue(self.start_ms, max(end, self.start_ms + 1), self.lines, self.words)


def _time_groups(
    groups: Iterable[list[Word]],
    limits: _Limits,
    *,
    audio_end_ms: int,
    min_ms: int,
    bridge_ms: int = 0,
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
        bridge = 0 if group[-1].ends_paragraph else bridge_ms
        draft = _Draft(start, wanted_end, lines, tuple(group), bridge)
    if draft is not None:
        yield draft.settle(None, audio_end_ms)


def build_cues(
    words: Iterable[Word],
    *,
    audio_end_ms: int,
    style: str = "sentence",
    max_chars: int = 42,
    max_lines: int = 2,
    max_ms: int = 7000,
    min_ms: int = 800,
) -> Iterator[Cue]:
    """Cues for timed words, streamed: each is yielded once the next is known.

    Sentence style: a cue starts at its first word's start (the sync
    contract) and ends at its last word's end, stretched toward `min_ms` but
    never past the next cue's start or `audio_end_ms`.

    Word style: one cue per word (with any punctuation-only token glued to
    it), from its start to its end; the end reaches the next word's start
    when the gap is at most WORD_BRIDGE_MS and no paragraph ends between.
    `min_ms` and `max_ms` do not apply.
    """
    if style not in CAPTION_STYLES:
        raise ValueError(f"caption style {style!r} is not one of {', '.join(CAPTION_STYLES)}")
    limits = _Limits(max_chars=max_chars, max_lines=max_lines, max_ms=max_ms)
    if style == "word":
        groups = (list(unit.words) for unit in _units(words))
        return _time_groups(groups, limits, audio_end_ms=audio_end_ms, min_ms=0, bridge_ms=WORD_BRIDGE_MS)
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


def words_by_line(cue: Cue) -> list[list[Word]] | None:
    """The cue's words split as its lines are; None when the cue carries no
    words or they do not spell its lines (a hand-made cue)."""
    if not cue.words:
        return None
    result: list[list[Word]] = []
    pos = 0
    for line in cue.lines:
        taken: list[Word] = []
        width = -1
        while pos < len(cue.words) and width < len(line):
            taken.append(cue.words[pos])
            width += 1 + len(cue.words[pos].text)
            pos += 1
        if _unit_text(taken) != line:
            return None
        result.append(taken)
    return result if pos == len(cue.words) else None


def _vtt_timed_text(cue: Cue) -> str:
    """Cue text with a timestamp tag before each word that starts inside the
    cue. WebVTT requires each tag to be later than the cue start and every
    earlier tag, and earlier than the cue end; a word that cannot have one
    (it starts with the word before, or before the cue's pushed start) is
    highlighted together with the word before it."""
    lines = words_by_line(cue)
    if lines is None:
        return _vtt_text(cue.text)
    last = cue.start_ms
    out: list[str] = []
    for line in lines:
        parts = []
        for word in line:
            tag = ""
            if last < word.start_ms < cue.end_ms:
                tag, last = f"<{vtt_timestamp(word.start_ms)}>", word.start_ms
            parts.append(tag + _vtt_text(word.text))
        out.append(" ".join(parts))
    return "\n".join(out)


def write_vtt(cues: Iterable[Cue], out: TextIO, *, word_times: bool = True) -> int:
    """Write a WebVTT file (header, blank line between cues); return how many.

    With `word_times` (the default) each word of a cue after the first gets a
    cue timestamp tag, `<00:00:01.200>word`, the karaoke form browsers and
    players highlight from; cues without words are written as plain text.
    """
    text = _vtt_timed_text if word_times else (lambda cue: _vtt_text(cue.text))
    out.write("WEBVTT\n\n")
    return _write_cues(cues, out, lambda _, cue: (
        f"{vtt_timestamp(cue.start_ms)} --> {vtt_timestamp(cue.end_ms)}\n{text(cue)}\n"
    ))
