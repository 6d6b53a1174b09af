"""A narrated chapter's document cut into fragments, each a run of spoken
words in one element the reader highlights, and each fragment's clip.

The chapter's spoken words (its title, if spoken, then its paragraphs'
words) are the words the timeline placed, in the same order. Each paragraph
is found among the document's blocks by its text; its words are cut into
sentences (by the splitter the captions use) or single words, and a
sentence that markup will not let be wrapped whole (one crossing table
cells, say) is cut into the longest runs that can be.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from narrator.model import Word
from narrator.readalong.wrap import can_wrap
from narrator.text.positions import MappedBlock, MappedWord, Position
from narrator.text.sentences import sentence_ends


@dataclass(frozen=True)
class Fragment:
    """Spoken words `first` to `first + count` (indices into the chapter's
    words), shown by the document between `start` and `end`; or, for a
    spoken title, by the heading element `heading`."""

    first: int
    count: int
    start: Position | None = None
    end: Position | None = None
    heading: etree._Element | None = None


@dataclass(frozen=True)
class Clip:
    fragment: Fragment
    begin_ms: int
    end_ms: int


def find_fragments(blocks: Sequence[MappedBlock], paragraphs: Sequence[str], title_spoken: bool,
                   granularity: str) -> list[Fragment]:
    """The fragments of a chapter whose spoken paragraphs are `paragraphs`
    (its title first when `title_spoken`), in reading order."""
    spoken = list(paragraphs[1:] if title_spoken else paragraphs)
    matched = _match(blocks, spoken)
    fragments: list[Fragment] = []
    first = 0
    if title_spoken:
        heading = _title_heading(blocks, matched)
        count = len(paragraphs[0].split())
        if heading is not None:
            fragments.append(Fragment(0, count, heading=heading))
        first = count
    for paragraph, block in zip(spoken, matched):
        count = len(paragraph.split())
        if block is not None:
            fragments += _runs(blocks[block].words, first, _cuts(paragraph, granularity))
        first += count
    return fragments


def _match(blocks: Sequence[MappedBlock], paragraphs: Sequence[str]) -> list[int | None]:
    """For each paragraph, the block it was read from: the paragraphs are the
    blocks in order with some left out (title headings), so each is the next
    block with its text."""
    found: list[int | None] = []
    at = 0
    for paragraph in paragraphs:
        index = next((i for i in range(at, len(blocks)) if blocks[i].block.text == paragraph), None)
        found.append(index)
        if index is not None:
            at = index + 1
    return found


def _title_heading(blocks: Sequence[MappedBlock], matched: Sequence[int | None]) -> etree._Element | None:
    """The heading the spoken title stands for: the first h1/h2 before the
    first spoken paragraph that is not itself spoken."""
    used = {index for index in matched if index is not None}
    before = min(used, default=len(blocks))
    return next((b.heading for i, b in enumerate(blocks[:before])
                 if b.heading is not None and b.block.kind == "heading" and i not in used), None)


def _cuts(paragraph: str, granularity: str) -> list[int]:
    """How many words each sentence (or word) of the paragraph has."""
    words = paragraph.split()
    if granularity == "word":
        return [1] * len(words)
    ends = set(sentence_ends(paragraph))
    counts, count, position = [], 0, 0
    for word in words:  # a paragraph's words are one space apart: its whitespace is collapsed
        position += len(word) + 1
        count += 1
        if position in ends or position > len(paragraph):
            counts.append(count)
            count = 0
    return counts


def _runs(words: Sequence[MappedWord], first: int, cuts: Sequence[int]) -> list[Fragment]:
    """Each cut's words as fragments: whole when they can be wrapped as one,
    else the longest runs from its start that can; a word with no place in
    the document (nothing of it is the document's own) is left out."""
    fragments = []
    at = 0
    for count in cuts:
        i, end = at, at + count
        while i < end:
            if words[i].first is None:
                i += 1
                continue
            j = next(j for j in range(end - 1, i - 1, -1) if words[j].last is not None)
            while j > i and not _wrappable(words[i], words[j]):
                j -= 1
            if _wrappable(words[i], words[j]):
                fragments.append(Fragment(first + i, j - i + 1, words[i].first, words[j].last))
            i = j + 1
        at = end
    return fragments


def _wrappable(a: MappedWord, b: MappedWord) -> bool:
    return a.first is not None and b.last is not None and can_wrap(a.first, b.last)


def clips(fragments: Sequence[Fragment], words: Sequence[Word]) -> list[Clip]:
    """Each fragment's clip: from its first word's start to where the next
    fragment begins, when that one follows on (so playing clip after clip
    is the chapter as recorded), else to its last word's end."""
    result = []
    for index, fragment in enumerate(fragments):
        begin = words[fragment.first].start_ms
        following = fragments[index + 1] if index + 1 < len(fragments) else None
        last = words[fragment.first + fragment.count - 1]
        if following is not None and following.first == fragment.first + fragment.count:
            end = words[following.first].start_ms
        else:
            end = last.end_ms
        result.append(Clip(fragment, begin, max(end, begin)))
    return result
