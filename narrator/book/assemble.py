"""Finished segments, in book order, to chapter files, the whole book and captions.

Each chapter is written once, to its own MP3: room tone, its segments'
frames copied untouched (or, when mastering, decoded, cut into paragraphs,
levelled and encoded again) and room tone. The whole book is then its
chapters' frames copied after a tag whose chapter marks come from those
files' frame counts, so every mark is exactly where its file starts.
Everything streams through `.part` files renamed into place when complete:
a failed join leaves the previous files as they were.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import BinaryIO

from narrator.audio.mp3 import FrameHeader, parse_header
from narrator.audio.silence import silence_frames
from narrator.audio.tags import ChapterMark, book_tag, chapter_tag
from narrator.book import layout
from narrator.book.cache import BookSegments
from narrator.book.layout import ChapterAudio, Pauses
from narrator.captions.formats import write_caption_file
from narrator.errors import AudioError, LocalIOError
from narrator.files import inside, remove_empty_folders, remove_inside, written_whole
from narrator.model import Book, Segment, Word


@dataclass(frozen=True)
class Outputs:
    """What to write for one book, and where."""

    out_dir: Path
    stem: str
    captions: tuple[str, ...]
    style: str
    chapter_files: bool  # keep OUT/STEM/NN - Title.mp3 (and captions) besides the whole book

    @property
    def book_mp3(self) -> Path:
        return self.out_dir / f"{self.stem}.mp3"

    @property
    def chapter_dir(self) -> Path:
        # Hidden while not kept: the chapter files are only the whole book's parts then.
        return self.out_dir / (self.stem if self.chapter_files else f".{self.stem}.chapters")

    def caption_paths(self, folder: Path, stem: str) -> dict[str, Path]:
        return {fmt: folder / f"{stem}.{fmt}" for fmt in self.captions}


@dataclass
class BookFiles:
    mp3: Path
    captions: dict[str, Path]
    chapters: list[ChapterAudio]
    chapter_paths: list[Path] = field(default_factory=list)
    chapter_captions: list[Path] = field(default_factory=list)
    cues: int = 0
    m4b: Path | None = None
    read_along: Path | None = None

    @property
    def written(self) -> list[Path]:
        extras = [path for path in (self.m4b, self.read_along) if path]
        return [self.mp3, *self.captions.values(), *self.chapter_paths, *self.chapter_captions, *extras]

    @property
    def duration_ms(self) -> float:
        return sum(c.duration_ms for c in self.chapters)

    @property
    def marks(self) -> list[ChapterMark]:
        return [ChapterMark(*mark) for mark in layout.book_marks(self.chapters)]


# A chapter renderer writes one chapter's audio frames to `out` and says where its pieces went.
Renderer = Callable[[BookSegments, Sequence[Segment], str, Pauses, BinaryIO], ChapterAudio]


def write_book(entries: BookSegments, segments: Sequence[Segment], book: Book, outputs: Outputs,
               pauses: Pauses, render: Renderer) -> BookFiles:
    groups = layout.chapters_of(segments)
    folder = outputs.chapter_dir
    if folder.is_symlink() or not inside(outputs.out_dir, folder):
        raise LocalIOError(f"{folder}: a link out of {outputs.out_dir} stands where the chapter folder "
                           "should be; remove it, then run again")
    folder.mkdir(parents=True, exist_ok=True)
    chapters: list[ChapterAudio] = []
    paths: list[Path] = []
    captions: list[Path] = []
    tag_sizes: list[int] = []
    for number, group in enumerate(groups, 1):
        title = book.chapters[group[0].chapter].title
        path = folder / f"{layout.chapter_file_stem(number, len(groups), title)}.mp3"
        tag = chapter_tag(book, title, number, len(groups))
        with written_whole(path) as part, open(part, "wb") as out:
            out.write(tag)
            chapters.append(render(entries, group, title, pauses, out))
        paths.append(path)
        tag_sizes.append(len(tag))
        if outputs.chapter_files:
            chapter_captions = outputs.caption_paths(folder, path.stem)
            _write_captions(chapter_captions, outputs.style, chapters[-1].duration_ms,
                            partial(layout.place_words, chapters[-1], entries.words))
            captions += chapter_captions.values()
    _check_rates(chapters)
    files = BookFiles(outputs.book_mp3, outputs.caption_paths(outputs.out_dir, outputs.stem), chapters, paths,
                      captions)
    _join_chapters(book, files, tag_sizes)
    files.cues = _write_captions(files.captions, outputs.style, files.duration_ms,
                                 partial(book_words, entries, chapters))
    return files


def drop_scaffolding(files: BookFiles, outputs: Outputs) -> None:
    """The chapter files, when they were only the book's scaffolding (not
    asked for): only they go, and their folder if it is left empty."""
    if outputs.chapter_files:
        return
    for path in files.chapter_paths:
        remove_inside(outputs.out_dir, path)
    remove_empty_folders(outputs.out_dir, [outputs.chapter_dir])
    files.chapter_paths = []


def book_words(entries: BookSegments, chapters: Iterable[ChapterAudio]) -> Iterator[Word]:
    """Every word on the whole book's timeline, one chapter's words at a time.
    A chapter's offset is its integer sample count before it, so nothing drifts."""
    for chapter, start in layout.chapter_starts(chapters):
        yield from layout.place_words(chapter, entries.words, start * 1000 / chapter.sample_rate)


def prepare_room_tone(first_frame: bytes, pauses: Pauses) -> None:
    """Make the room tone a chapter will need in the format of this frame (a
    finished segment's first) and keep it: called while the service still
    generates, so joining the book does not wait for it."""
    header = parse_header(first_frame)
    if header is not None:
        _room_tone(header, pauses)


def _room_tone(header: FrameHeader, pauses: Pauses) -> tuple[tuple[bytes, ...], int, int]:
    """Frames of room tone in `header`'s format, and how many go before and after a chapter."""
    head = layout.frames_for(pauses.lead_in, header.sample_rate, header.samples)
    tail = layout.frames_for(pauses.chapter, header.sample_rate, header.samples)
    return silence_frames(header, max(head, tail)), head, tail


def copy_chapter(entries: BookSegments, group: Sequence[Segment], title: str, pauses: Pauses,
                 out: BinaryIO) -> ChapterAudio:
    """Room tone, the segments' frames as the service sent them, room tone."""
    header = parse_header(entries.head(group[0].index))
    if header is None:
        raise AudioError(f"segment {group[0].index + 1} does not start with an MPEG audio frame: "
                         "run again to make it anew")
    silence, head, tail = _room_tone(header, pauses)
    out.write(b"".join(silence[:head]))
    sizes: list[tuple[int, int]] = []
    for segment in group:
        meta = entries.meta(segment.index)
        if meta["sample_rate"] != header.sample_rate:
            raise AudioError(f"segment {segment.index + 1} is at {meta['sample_rate']} Hz, the book at "
                             f"{header.sample_rate} Hz: they cannot be joined")
        entries.copy_frames(segment.index, out)
        sizes.append((segment.index, meta["samples"]))
    out.write(b"".join(silence[:tail]))
    pieces, end = layout.copied_pieces(sizes, head * header.samples)
    return ChapterAudio(title, pieces, end + tail * header.samples, header.sample_rate, header.sample_rate)


def _check_rates(chapters: Sequence[ChapterAudio]) -> None:
    rates = {c.sample_rate for c in chapters}
    if len(rates) > 1:
        listed = ", ".join(map(str, sorted(rates)))
        raise AudioError(f"the chapters came out at different sample rates ({listed} Hz): "
                         "they cannot be joined into one book")


def _join_chapters(book: Book, files: BookFiles, tag_sizes: Sequence[int]) -> None:
    """The whole book: its tag (chapter marks, cover), then each chapter file's frames
    (what follows its tag)."""
    with written_whole(files.mp3) as part, open(part, "wb") as out:
        out.write(book_tag(book, files.marks))
        for path, tag_size in zip(files.chapter_paths, tag_sizes):
            with open(path, "rb") as chapter:
                chapter.seek(tag_size)
                shutil.copyfileobj(chapter, out, 1 << 20)


def _write_captions(paths: dict[str, Path], style: str, duration_ms: float,
                    words: Callable[[], Iterator[Word]]) -> int:
    """Each format from its own pass over the words; how many cues (words, if only JSON)."""
    counts: dict[str, int] = {}
    for fmt, path in paths.items():
        with written_whole(path) as part, open(part, "w", encoding="utf-8", newline="\n") as out:
            counts[fmt] = write_caption_file(fmt, words(), out, style=style, audio_end_ms=int(duration_ms))
    cues = [count for fmt, count in counts.items() if fmt != "json"]
    return cues[0] if cues else counts.get("json", 0)
