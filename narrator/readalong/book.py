"""A narrated book's read-along EPUB: which document each narrated chapter
is, what it spoke and when, gathered from the plan and the chapter files."""

from __future__ import annotations

from pathlib import Path

from narrator.book import layout
from narrator.book.assemble import BookFiles
from narrator.book.cache import BookSegments
from narrator.book.layout import ChapterAudio
from narrator.book.plan import PlannedBook
from narrator.errors import DocumentError
from narrator.model import Book, Chapter, Segment
from narrator.readalong.generate import chapter_document, generated_epub
from narrator.readalong.pages import NarratedChapter
from narrator.readalong.writer import write_read_along


def read_along_path(out_dir: Path, stem: str) -> Path:
    return out_dir / f"{stem}.read-along.epub"


def write_book_read_along(planned: PlannedBook, entries: BookSegments, files: BookFiles, *, out_dir: Path,
                          stem: str, granularity: str, narrator: str) -> tuple[Path, list[str]]:
    """OUT/STEM.read-along.epub, from the chapter files `files` holds (still
    on disk), and warnings: chapters whose pages could not be highlighted."""
    out = read_along_path(out_dir, stem)
    whole = planned.whole or planned.book
    from_epub = planned.source is not None and all(chapter.document for chapter in planned.book.chapters)
    source, name = _source(planned, whole, from_epub)
    if planned.source is not None and out.resolve() == planned.source.resolve():
        raise DocumentError(f"{out}: is the document being narrated; it is never overwritten")
    groups = layout.chapters_of(planned.segments)
    documents = [_document(planned.book.chapters[group[0].chapter], whole, from_epub) for group in groups]
    # One chapter's words at a time, made as the writer comes to it.
    chapters = (_narrated(document, group, planned.book.chapters[group[0].chapter], audio, path, entries)
                for document, group, audio, path
                in zip(documents, groups, files.chapters, files.chapter_paths))
    toc = [(chapter.document, chapter.title) for chapter in whole.chapters if chapter.document and from_epub]
    skipped = write_read_along(source, name, documents, chapters, out, granularity, narrator, toc)
    if not skipped:
        return out, []
    return out, [f"read-along highlights left out of {len(skipped)} page(s) that are not well-formed XHTML: "
                 f"{', '.join(skipped[:3])}{' ...' if len(skipped) > 3 else ''}"]


def _narrated(document: str, group: list[Segment], chapter: Chapter, audio: ChapterAudio, path: Path,
              entries: BookSegments) -> NarratedChapter:
    paragraphs = _paragraphs(group)
    return NarratedChapter(document, paragraphs, title_spoken=len(paragraphs) > len(chapter.paragraphs),
                           words=list(layout.place_words(audio, entries.words)), audio=path)


def _paragraphs(group: list[Segment]) -> tuple[str, ...]:
    """The chapter's spoken paragraphs, whole again where voices cut them into runs."""
    paragraphs: list[str] = []
    open_ = False
    for segment in group:
        for piece, end in zip(segment.paragraphs, segment.ends or (True,) * len(segment.paragraphs)):
            if open_:
                paragraphs[-1] += " " + piece
            else:
                paragraphs.append(piece)
            open_ = not end
    return tuple(paragraphs)


def _document(chapter: Chapter, whole: Book, from_epub: bool) -> str:
    """The zip path of the chapter's page: its own in the EPUB narrated, or the generated one."""
    document = chapter.document if from_epub else chapter_document(_number(whole, chapter))
    assert document is not None
    return document


def _source(planned: PlannedBook, whole: Book, from_epub: bool) -> tuple[bytes, str]:
    """The EPUB the read-along book is made from: the one narrated, or one made from the document."""
    if from_epub and planned.source is not None:  # (mypy: from_epub says it is not None)
        return planned.source.read_bytes(), planned.source.name
    return generated_epub(whole), f"{whole.title}.epub"


def _number(whole: Book, chapter: object) -> int:
    """The chapter's place in the whole book (chosen chapters are the same objects)."""
    return next(i for i, c in enumerate(whole.chapters) if c is chapter)
