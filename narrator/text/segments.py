"""Book to segments: the units the pool schedules, retries and stores."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from narrator.model import Book, Segment
from narrator.text.sentences import sentence_ends

SEGMENT_SIZES = (1200, 600, 300)  # the steps a book's length picks its segment size from
SEGMENTS_PER_BOOK = 32  # rounds enough that a pool of 4 stays busy on a short book


def segment_size(book: Book) -> int:
    """Small enough that a pool stays busy on a short book, large enough that
    a flush (and a time to first byte) is paid rarely. A segment's text is its
    cache key, so the size depends on neither --concurrency nor the exact
    length of the book: changing either must not move the cuts."""
    total = sum(len(p) for chapter in book.chapters for p in chapter.paragraphs)
    return next((size for size in SEGMENT_SIZES if total // SEGMENTS_PER_BOOK >= size), SEGMENT_SIZES[-1])


def spoken_title(title: str) -> str:
    # A title without closing punctuation would run into the first sentence.
    return title if title[-1:] in ".!?…:" else title + "."


# A run of a paragraph: its text, who speaks it (None: the narrator), whether it ends its paragraph.
Piece = tuple[str, str | None, bool]
# Who speaks a chapter's paragraphs: (chapter index, paragraphs, whether the first is its title) -> runs.
Voicing = Callable[[int, list[str], bool], list[Piece]]


def plan(book: Book, *, speak_titles: bool = True, max_chars: int | None = None,
         voicing: Voicing | None = None) -> list[Segment]:
    """Cut each chapter at paragraph boundaries into segments of at most
    `max_chars`. A paragraph longer than the largest segment is cut at
    sentence ends (at clause ends, or else spaces, inside a sentence longer
    still) into pieces of at most that, so the whole pool works on it and a
    retry sends only a part again; only its last piece ends the paragraph,
    so no cue or pause falls at a cut. Cuts
    are made chapter by chapter and greedily, so editing a paragraph leaves
    every other chapter's segments as they were, and in its own chapter
    those before it; those after it too unless the edit changes its length
    by more than its segment has room for."""
    limit = max_chars or segment_size(book)
    segments: list[Segment] = []
    for number, chapter in enumerate(book.chapters):
        title = [spoken_title(chapter.title)] if speak_titles and chapter.title else []
        paragraphs = title + list(chapter.paragraphs)
        pieces: list[Piece] = (voicing(number, paragraphs, bool(title)) if voicing
                               else [(p, None, True) for p in paragraphs])
        groups = _group([cut for piece in pieces for cut in _cut_long(piece, limit)], limit)
        for i, group in enumerate(groups):
            ends = tuple(end for _, _, end in group)
            segments.append(Segment(len(segments), number, tuple(text for text, _, _ in group),
                                    ends_chapter=i == len(groups) - 1, voice=group[0][1],
                                    ends=None if all(ends) else ends))
    return segments


_CLAUSE = re.compile(r"[,;:\u2014\u2013]\S*\s+")
_SPACE = re.compile(r"\s+")


def _cut_long(piece: Piece, limit: int) -> list[Piece]:
    """A piece longer than any segment (SEGMENT_SIZES[0]) as pieces of at
    most `limit` (but for a single word longer still), cut after sentence
    ends, else clause ends, else spaces; the last keeps whether the piece
    ends its paragraph. Paragraphs of ordinary length are left whole, as
    they always were: their segments and keys do not change."""
    text, voice, ends = piece
    if len(text) <= max(limit, SEGMENT_SIZES[0]):
        return [piece]
    cuts = []
    start = 0
    while len(text) - start > limit:
        window = start + limit + 1
        cut = (_last_before(sentence_ends(text, start, window), start, limit)
               or _last_before((m.end() for m in _CLAUSE.finditer(text, start, window)), start, limit)
               or _last_before((m.end() for m in _SPACE.finditer(text, start, window)), start, limit)
               or _next_space(text, start + limit))
        cuts.append(text[start:cut].strip())
        start = cut
    cuts.append(text[start:].strip())
    pieces = [c for c in cuts if c]
    return [(c, voice, ends and i == len(pieces) - 1) for i, c in enumerate(pieces)]


def _last_before(ends: Iterable[int], start: int, limit: int) -> int | None:
    """The last of `ends` that leaves a piece of at most `limit` from `start`, if any lies past `start`."""
    found = [end for end in ends if start < end <= start + limit]
    return found[-1] if found else None


def _next_space(text: str, at: int) -> int:
    space = _SPACE.search(text, at)
    return space.end() if space else len(text)


def _group(pieces: list[Piece], limit: int) -> list[list[Piece]]:
    """Pieces in order, a group at most `limit` characters and of one voice."""
    groups: list[list[Piece]] = []
    size = 0
    for piece in pieces:
        if groups and size + len(piece[0]) <= limit and groups[-1][-1][1] == piece[1]:
            groups[-1].append(piece)
            size += len(piece[0]) + 2
        else:
            groups.append([piece])
            size = len(piece[0])
    return groups
