"""Character alignment, in the services' shape, from espeak-ng's word events.

Word starts are what espeak-ng reported; only the characters inside a word
(and the spaces after it) are spread evenly between one word's start and the
next's, because the services' `alignment` is per character.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

_TOKEN = re.compile(r"\S+")

# The services' `alignment` object as sent: {"chars", "charStartTimesMs", "charDurationsMs"}.
WireAlignment = dict[str, list[str] | list[int]]


def word_anchors(text: str, word_starts: Sequence[tuple[int, int]], total_ms: int) -> list[tuple[int, int]]:
    """(character index, ms) at each word's first character, plus the end.

    espeak-ng reports a word at a character inside or just before it, and
    sometimes not at all (a word joined by a dash); those words take a time
    between their neighbours' in proportion to characters.
    """
    spans = [m.span() for m in _TOKEN.finditer(text)]
    tokens = [start for start, _ in spans]
    known: dict[int, int] = {}
    for char_index, ms in word_starts:
        slot = max(bisect_right(tokens, char_index) - 1, 0)
        if tokens and tokens[slot] < char_index and spans[slot][1] <= char_index:
            slot = min(slot + 1, len(tokens) - 1)  # event fell in the gap: it is the next word's
        if tokens:
            known.setdefault(tokens[slot], ms)
    points = [(0, 0)] + sorted(known.items()) + [(len(text), total_ms)]
    anchors, last_ms = [], 0
    for char_index, ms in points:
        last_ms = min(max(ms, last_ms), total_ms)  # never go back in time
        anchors.append((char_index, last_ms))
    return anchors


def char_alignment(
    text: str, word_starts: Sequence[tuple[int, int]], total_ms: int, offset_ms: int = 0
) -> WireAlignment:
    """`{"chars", "charStartTimesMs", "charDurationsMs"}` covering every character."""
    anchors = word_anchors(text, word_starts, total_ms)
    starts = [_interpolate(anchors, i) + offset_ms for i in range(len(text) + 1)]
    return {
        "chars": list(text),
        "charStartTimesMs": starts[:-1],
        "charDurationsMs": [b - a for a, b in zip(starts, starts[1:])],
    }


def _interpolate(anchors: list[tuple[int, int]], index: int) -> int:
    positions = [c for c, _ in anchors]
    right = min(bisect_right(positions, index), len(anchors) - 1)
    left = max(right - 1, 0)
    (c0, t0), (c1, t1) = anchors[left], anchors[right]
    if c1 <= c0 or index <= c0:
        return t0
    return t0 + (t1 - t0) * (min(index, c1) - c0) // (c1 - c0)
