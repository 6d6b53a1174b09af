"""The plain data that flows through narrator: books, segments, timed words."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Chapter:
    title: str
    paragraphs: tuple[str, ...]
    # Not prose: a cover page, table of contents, copyright page... (its
    # epub:type, e.g. "toc"). Left out unless chosen with --chapters.
    matter: str | None = None
    # Where it came from in an EPUB (its spine document's zip path): a read-along book wraps it there.
    document: str | None = field(default=None, compare=False)
    # Its paragraphs as inline XHTML (emphasis kept), when the reader kept it,
    # for a page that shows them; not what the chapter says, so not compared.
    markup: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Cover:
    data: bytes
    mime: str  # image/jpeg or image/png


@dataclass(frozen=True)
class Book:
    title: str
    author: str | None
    chapters: tuple[Chapter, ...]
    language: str | None = None  # BCP 47, from the document's metadata
    cover: Cover | None = None


@dataclass(frozen=True)
class Said:
    """A paragraph as sent, when a pronunciation lexicon changed it: its text,
    and for each word of the paragraph how many words of `text` say it (the
    words of a grapheme of several share its replacement: the first counts
    it all, the others 0)."""

    text: str
    counts: tuple[int, ...]  # in the words spoken: `spoken`, else `text`
    spoken: str | None = None  # what the voice says, when `text` holds SSML tags it reads, not says


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
    said: tuple[Said, ...] | None = None  # the paragraphs as sent, when a lexicon changed them
    voice: str | None = None  # who speaks it; None: the narrator (--voice, or the provider's default)
    # Per paragraph, whether it ends a paragraph of the book; None: all do. A
    # paragraph whose voice changes is cut into runs, and only its last ends it.
    ends: tuple[bool, ...] | None = None

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def sent(self) -> tuple[str, ...]:
        """The paragraphs as sent to the service: what keys, bills and sounds."""
        return tuple(s.text for s in self.said) if self.said else self.paragraphs

    @property
    def sent_text(self) -> str:
        return "\n\n".join(self.sent)

    @property
    def reshaped(self) -> bool:
        """Whether its words as written are not simply its words as sent: a
        lexicon changed them, or it holds runs of paragraphs (voices, cuts)."""
        return bool(self.said or self.ends)

    @property
    def spoken_text(self) -> str:
        return "\n\n".join(self.spoken)

    @property
    def spoken(self) -> tuple[str, ...]:
        """The paragraphs as the voice says them: as sent, but for SSML tags the service reads."""
        return tuple(s.spoken or s.text for s in self.said) if self.said else self.paragraphs


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
    estimated: bool = False  # its time was spread by characters: the service sent none
