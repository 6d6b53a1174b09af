"""Book to segments: the units the pool schedules, retries and stores."""

from __future__ import annotations

from narrator.model import Book, Segment

MIN_SEGMENT_CHARS = 300
MAX_SEGMENT_CHARS = 1200
SEGMENTS_PER_SESSION = 8  # the last round leaves sessions idle: more, smaller rounds waste less


def segment_size(book: Book, concurrency: int) -> int:
    """Small enough that every session gets several segments, large enough
    that a flush (and a time to first byte) is paid rarely."""
    total = sum(len(p) for chapter in book.chapters for p in chapter.paragraphs)
    target = total // max(1, concurrency * SEGMENTS_PER_SESSION)
    return max(MIN_SEGMENT_CHARS, min(MAX_SEGMENT_CHARS, target))


def spoken_title(title: str) -> str:
    # A title without closing punctuation would run into the first sentence.
    return title if title[-1:] in ".!?…:" else title + "."


def plan(book: Book, *, concurrency: int = 4, speak_titles: bool = True, max_chars: int | None = None) -> list[Segment]:
    """Cut each chapter at paragraph boundaries into segments of about
    `max_chars`; a paragraph is never split, so a cue never spans two."""
    limit = max_chars or segment_size(book, concurrency)
    segments: list[Segment] = []
    for number, chapter in enumerate(book.chapters):
        paragraphs = ([spoken_title(chapter.title)] if speak_titles and chapter.title else []) + list(chapter.paragraphs)
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
