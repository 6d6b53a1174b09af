"""The plain data that flows through narrator: books, segments, timed words."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chapter:
    title: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class Book:
    title: str
    author: str | None
    chapters: tuple[Chapter, ...]


@dataclass(frozen=True)
class Segment:
    """The unit of scheduling, retry and (later) caching.

    Paragraphs of one chapter, in order. Every segment is sent with a flush
    at its end, so a chapter's last segment always ends in a flush.
    """

    index: int
    chapter: int
    paragraphs: tuple[str, ...]
    ends_chapter: bool

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


@dataclass(frozen=True)
class Word:
    """A word of the source text, placed on the book's timeline (milliseconds).

    `text` keeps the punctuation attached to the word ("world," "end.").
    `ends_paragraph` marks the last word of a paragraph: no cue spans two.
    """

    text: str
    start_ms: int
    end_ms: int
    ends_paragraph: bool = False
