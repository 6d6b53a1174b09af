"""Caption lines: where text may break, and words wrapped onto balanced lines.

A token that is only punctuation ("—" or "…" written between spaces, a lone
closing quote, French "?" and ":") belongs to the word before it: it must
never start a line or a cue on its own. An opening bracket or quote alone
("(" "“" "«") belongs to the word after it. Both are glued into one unit
that wrapping and grouping never split.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

from narrator.text.sentences import CLOSERS, ends_sentence

_CLAUSE_END = re.compile(rf"[,;:\u2014\u2013][{re.escape(CLOSERS)}]*$")

# Break strengths: a better place to end a cue, or to split its two lines.
NO_BREAK, CLAUSE, SENTENCE = 0, 1, 2

_T = TypeVar("_T")


def break_strength(text: str) -> int:
    # A glued unit reads as one word: "close. ”" ends a sentence like "close.”".
    text = text.replace(" ", "")
    if ends_sentence(text):  # "Dr." and "e.g." end nothing
        return SENTENCE
    if _CLAUSE_END.search(text):
        return CLAUSE
    return NO_BREAK


# --------------------------------------------------------------------------
# Punctuation-only tokens


def _is_punctuation(text: str) -> bool:
    # The first character settles almost every word without a table lookup.
    if not text or text[0].isalnum():
        return False
    return all(unicodedata.category(c).startswith("P") for c in text)


def _opens(text: str) -> bool:
    if not text or text[0].isalnum():
        return False
    return all(unicodedata.category(c) in ("Ps", "Pi") for c in text)


def glued(items: Iterable[_T], text: Callable[[_T], str], closes: Callable[[_T], bool]) -> Iterator[list[_T]]:
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
    return [" ".join(unit) for unit in glued(words, str, lambda _: False)]


# --------------------------------------------------------------------------
# Line wrapping


def line_count(words: Sequence[str], max_chars: int) -> int:
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
    count = line_count(words, max_chars)
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
                bonus = break_strength(words[i - 1]) if i < n else 0
                cost = (squares + width * width, punct - bonus)
                if i not in row or cost < row[i][0]:
                    row[i] = (cost, splits + (i,))
        best.append(row)
    bounds = (0,) + best[count][n][1]
    return tuple(" ".join(words[a:b]) for a, b in zip(bounds, bounds[1:]))
