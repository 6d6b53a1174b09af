"""Cue building: timed source words in, timed cues of wrapped lines out.

Pure and streaming. A ten-hour book is ~100k words fed as an iterator, so
the builder holds only the words of the cue being built (plus the previous
cue's timing, needed to settle its end, and a word or two of lookahead
to place punctuation-only tokens and paragraph ends) and
yields cues as it goes. The writers (captions.formats) take an already open
text file and write cue by cue.

Two styles: "sentence" cues (up to two balanced lines, following sentences)
and "word" cues (one word at a time). Every cue carries its words, so a
writer can time each word: WebVTT gets cue timestamp tags (karaoke form).

Pipeline: words -> grouping.spoken_words (drop empty words, keep their
paragraph ends) -> grouping.word_units (a word with the punctuation-only
tokens glued to it) -> grouping.group_words (which units share a cue) ->
_time_groups (start/end in ms, lines.wrap_lines) -> Cue.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from narrator.captions.grouping import Limits, group_words, word_units
from narrator.captions.lines import wrap_lines
from narrator.model import Word

CAPTION_STYLES = ("sentence", "word")

# Word style: a word stays up across a gap to the next word of at most this
# long, so that ordinary spacing between words does not flash a blank frame
# between every word; a longer gap (a real pause, a sentence end) shows
# nothing. Never across a paragraph end.
WORD_BRIDGE_MS = 300


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
    limits: Limits,
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
    limits = Limits(max_chars=max_chars, max_lines=max_lines, max_ms=max_ms)
    if style == "word":
        groups = (list(unit.words) for unit in word_units(words))
        return _time_groups(groups, limits, audio_end_ms=audio_end_ms, min_ms=0, bridge_ms=WORD_BRIDGE_MS)
    return _time_groups(group_words(words, limits), limits, audio_end_ms=audio_end_ms, min_ms=min_ms)
