"""Where each word of a document's blocks sits in its tree.

The same walk that finds the paragraphs to speak (`html.BlockWalker`), kept
with the place every character came from: an element's text or tail at an
offset. A read-along book wraps spoken words and sentences in place with it,
without changing a byte of the text around them.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

from lxml import etree

from narrator.text.html import SKIP, Block, BlockWalker, Origin, body_of


class Position(NamedTuple):
    """A character of the tree: `node`'s text or tail at `offset`, or the whole
    `node` when slot is "node" (an entity reference)."""

    node: etree._Element
    slot: str
    offset: int


@dataclass(frozen=True)
class MappedWord:
    text: str
    # Its first and last characters that are the document's own; None when
    # it has none (the ", " narrator reads between table cells).
    first: Position | None
    last: Position | None


@dataclass(frozen=True)
class MappedBlock:
    block: Block
    words: tuple[MappedWord, ...]  # one per word of block.text
    heading: etree._Element | None  # the h1-h6 element, for a heading


_WORD = re.compile(r"\S+")


def mapped_blocks(root: etree._Element) -> list[MappedBlock]:
    """The blocks `html.walk` finds in `root`, each word with its place."""
    start = body_of(root)
    walker = _MappingWalker()
    walker.run(start if start is not None else root)
    return walker.mapped


class _MappingWalker(BlockWalker):
    def __init__(self) -> None:
        super().__init__(Counter(), SKIP)
        self.mapped: list[MappedBlock] = []

    def emit(self, block: Block, heading: etree._Element | None) -> None:
        super().emit(block, heading)
        words = _words(self.parts, self.origins)
        if [word.text for word in words] != block.text.split():
            # The walk and the map drifted apart: a bug, not a bad document.
            raise AssertionError("a block's words and their places disagree")
        self.mapped.append(MappedBlock(block, tuple(words), heading))


def _words(parts: list[str], origins: list[Origin | None]) -> list[MappedWord]:
    """Each whitespace-separated word of the parts joined, with the places
    of its first and last characters that came from the tree."""
    starts, at = [], 0
    for part in parts:
        starts.append(at)
        at += len(part)
    raw = "".join(parts)
    words = []
    for match in _WORD.finditer(raw):
        places = [_place(raw_index, starts, origins) for raw_index in range(match.start(), match.end())]
        own = [p for p in places if p is not None]
        words.append(MappedWord(match.group(), own[0] if own else None, own[-1] if own else None))
    return words


def _place(index: int, starts: list[int], origins: list[Origin | None]) -> Position | None:
    part = bisect.bisect_right(starts, index) - 1
    origin = origins[part]
    if origin is None:
        return None
    node, slot = origin
    return Position(node, slot, 0 if slot == "node" else index - starts[part])
