"""Book to segments: the units the pool schedules, retries and stores."""

from __future__ import annotations

from narrator.model import Book, Segment

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


def plan(book: Book, *, speak_titles: bool = True, max_chars: int | None = None) -> list[Segment]:
    """Cut each chapter at paragraph boundaries into segments of at most
    `max_chars`; a paragraph is never split, so a cue never spans two. Cuts
    are made chapter by chapter and greedily, so editing a paragraph leaves
    every other chapter's segments as they were, and in its own chapter
    those before it; those after it too unless the edit changes its length
    by more than its segment has room for."""
    limit = max_chars or segment_size(book)
    segments: list[Segment] = []
    for number, chapter in enumerate(book.chapters):
        title = [spoken_title(chapter.title)] if speak_titles and chapter.title else []
        paragraphs = title + list(chapter.paragraphs)
        groups = _group(paragraphs, limit)
        for i, group in enumerate(groups):
            segments.append(Segment(len(segments), number, tuple(group), ends_chapter=i == len(groups) - 1))
    return segments


def _group(paragraphs: list[str], limit: int) -> list[list[str]]:
    groups: list[list[str]] = []
    size = 0
    for paragraph in paragraphs:
        if groups and size + len(paragraph) <= limit:
            groups[-1].append(paragraph)
            size += len(paragraph) + 2
        else:
            groups.append([paragraph])
            size = len(paragraph)
    return groups
