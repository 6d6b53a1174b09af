"""Which chapters to narrate: `--chapters` specs and the `narrator chapters` listing.

Chapter numbers count every chapter of the book, front and back matter
included, so a chapter skipped by default can still be picked by number.
"""

from __future__ import annotations

import re
from dataclasses import replace

from narrator.errors import ConfigError, DocumentError
from narrator.model import Book

# "5", "3-7", "9-" (to the end), "-4" (from the start).
_PART = re.compile(r"(\d+)?\s*(-)?\s*(\d+)?")


def select_chapters(book: Book, spec: str | None) -> Book:
    """The book with only the chapters to narrate, in book order.

    spec None: every chapter that is not front or back matter. Otherwise a
    comma-separated list of 1-based numbers and ranges: "3-7", "1,3,9-", "-4".
    """
    if spec is None:
        chapters = tuple(chapter for chapter in book.chapters if not chapter.matter)
        if not chapters:
            raise DocumentError(
                f"{book.title}: every chapter is front or back matter "
                f"({', '.join(sorted({c.matter for c in book.chapters if c.matter}))}); "
                "pick some with --chapters (run `narrator chapters BOOK` to list them)"
            )
        return replace(book, chapters=chapters)
    numbers = parse_chapter_spec(spec, len(book.chapters))
    return replace(book, chapters=tuple(book.chapters[number - 1] for number in numbers))


def parse_chapter_spec(spec: str, count: int) -> list[int]:
    """The chapter numbers a spec names, ascending and each once."""
    chosen: set[int] = set()
    for part in spec.split(","):
        first, last = _bounds(part.strip(), spec, count)
        chosen.update(range(first, last + 1))
    return sorted(chosen)


def _bounds(part: str, spec: str, count: int) -> tuple[int, int]:
    match = _PART.fullmatch(part)
    if match is None or not match.group(1) and not match.group(3):
        raise _spec_error(spec, part, "is not a chapter number or range", count)
    start, dash, end = match.groups()
    if start and end and not dash:
        raise _spec_error(spec, part, "is not a chapter number or range", count)
    first = int(start) if start else 1
    last = int(end) if end else (count if dash else first)
    if first < 1 or last < 1:
        raise _spec_error(spec, part, "is out of range: chapters are numbered from 1", count)
    if first > count:
        raise _spec_error(spec, part, "is out of range", count)
    if first > last:
        raise _spec_error(spec, part, "is backwards (write the lower number first)", count)
    if last > count:
        raise _spec_error(spec, part, "is out of range", count)
    return first, last


def _spec_error(spec: str, part: str, problem: str, count: int) -> ConfigError:
    chapters = f"{count} chapter{'' if count == 1 else 's'}"
    return ConfigError(
        f"--chapters {spec!r}: {part!r} {problem}; the book has {chapters} "
        "(run `narrator chapters BOOK` to list them)"
    )


def chapter_listing(book: Book) -> list[str]:
    """One line per chapter, numbered as --chapters counts them:
    ` 3  The Storm  (12,345 characters)` or ` 1  Cover  (skipped: cover)`."""
    width = max(2, len(str(len(book.chapters))))
    lines = []
    for number, chapter in enumerate(book.chapters, 1):
        if chapter.matter:
            note = f"skipped: {chapter.matter}"
        else:
            characters = sum(len(paragraph) for paragraph in chapter.paragraphs)
            note = f"{characters:,} character{'' if characters == 1 else 's'}"
        lines.append(f"{number:>{width}}  {chapter.title}  ({note})")
    return lines
