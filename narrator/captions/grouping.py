"""Which words share a cue: spoken words glued into units, grouped within the limits.

Streaming: a group is yielded as soon as it is decided, holding back at most
the units of one cue that overflowed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from narrator.captions.lines import CLAUSE, SENTENCE, break_strength, glued, line_count
from narrator.model import Word

# Past this length a sentence end closes the cue even if it is not half full,
# so that cues follow sentences instead of straddling them.
_SENTENCE_CUE_MS = 3000


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
class Unit:
    """Words that stay together, and their text (kept: it is measured often)."""

    words: tuple[Word, ...]
    text: str


def word_units(words: Iterable[Word]) -> Iterator[Unit]:
    """Each spoken word with its glued punctuation tokens; never across a
    paragraph end."""
    for unit in glued(spoken_words(words), lambda w: w.text, lambda w: w.ends_paragraph):
        yield Unit(tuple(unit), " ".join(w.text for w in unit))


@dataclass(frozen=True)
class Limits:
    max_chars: int
    max_lines: int
    max_ms: int

    def fits(self, units: Sequence[Unit]) -> bool:
        if line_count([u.text for u in units], self.max_chars) > self.max_lines:
            return False
        return units[-1].words[-1].end_ms - units[0].words[0].start_ms <= self.max_ms

    def closes_at_sentence(self, units: Sequence[Unit]) -> bool:
        """A sentence end closes a cue that is already half full or long."""
        if break_strength(units[-1].text) != SENTENCE:
            return False
        chars = sum(len(u.text) for u in units) + len(units) - 1
        half_full = 2 * chars >= self.max_chars * self.max_lines
        return half_full or units[-1].words[-1].end_ms - units[0].words[0].start_ms >= _SENTENCE_CUE_MS


def _best_break(units: Sequence[Unit]) -> int:
    """How many units the cue keeps: up to the latest sentence end, else the
    latest clause mark, else all of them."""
    for strength in (SENTENCE, CLAUSE):
        for i in range(len(units) - 1, -1, -1):
            if break_strength(units[i].text) == strength:
                return i + 1
    return len(units)


def _flat(units: Iterable[Unit]) -> list[Word]:
    return [word for unit in units for word in unit.words]


def group_words(words: Iterable[Word], limits: Limits) -> Iterator[list[Word]]:
    """Yield the words of each cue, in order, as soon as the cue is decided."""
    cue: list[Unit] = []
    for unit in word_units(words):
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
