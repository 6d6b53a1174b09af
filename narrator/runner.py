"""Narrate one book, in the order the data path runs:
read -> plan -> synthesize (the cache, then the pool) -> assemble (chapter
files, the book, captions, M4B) -> manifest.

The I/O shell around the pure core: each step is a call into the package
that owns it. Segments already in the cache are not sent; finished segments
go to the cache as they arrive; the book and its captions are written only
when every segment is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from narrator.audio import m4b
from narrator.book import assemble, manifest
from narrator.book.cache import BookSegments, SegmentCache
from narrator.book.lock import FolderLock
from narrator.book.plan import PlannedBook
from narrator.book.plan import plan_book as cut_into_segments
from narrator.book.timeline import segment_audio
from narrator.client.budget import Budget
from narrator.client.pool import PoolConfig, PoolStats, SessionPool
from narrator.errors import BudgetError, NarratorError, ServiceError, StrictError, os_errors
from narrator.model import Book, Segment
from narrator.progress import Progress
from narrator.protocol.events import Chunks, Dialect
from narrator.settings import LOCAL_HOST, NarrateOptions, key_dialect, service_dialect, service_key
from narrator.text import read_document

DEFAULT_RETRY_SHARE = 0.25  # of the book's characters: what retries may cost, unless an option says


@dataclass
class Spent:
    """What a narration sent, found in the cache and retried, finished or
    not: a job's report counts what was paid for even when a book fails."""

    characters_sent: int = 0
    cached_characters: int = 0
    cached_segments: int = 0
    retries: int = 0


@dataclass
class BookResult:
    mp3: Path
    captions: dict[str, Path]  # format -> the whole book's caption file
    segments: int
    cues: int
    audio_seconds: float
    characters_sent: int
    retries: int
    wall_seconds: float
    estimated_chapters: list[str] = field(default_factory=list)
    interpolated_words: int = 0  # timed between their neighbours: the alignment left them out
    book_characters: int = 0
    reused_segments: int = 0  # found in the cache: finished by an earlier run, or shared with another book
    cached_characters: int = 0  # the text of those: what was not sent again
    short_segments: list[int] = field(default_factory=list)
    concurrency: str = ""
    chapter_files: list[Path] = field(default_factory=list)
    m4b: Path | None = None
    read_along: Path | None = None
    warnings: list[str] = field(default_factory=list)  # what is not as it should be in the files

    @property
    def waste(self) -> float:
        """Characters sent over characters in the book: 1.0 is nothing sent twice."""
        return self.characters_sent / self.book_characters if self.book_characters else 0.0


# -- read -> plan -----------------------------------------------------------


def read_and_plan(path: Path, options: NarrateOptions) -> PlannedBook:
    return replace(plan_book(read_document(path), options), source=path)


def plan_book(book: Book, options: NarrateOptions) -> PlannedBook:
    """The chapters chosen (--chapters, else the prose) cut into segments.
    No connection and no key needed: a segment's key depends on neither."""
    # Built once there is a segment to key, and once per voice.
    dialect = functools.cache(lambda voice: key_dialect(options.voiced(voice)))
    return cut_into_segments(book, chapters=options.chapters, speak_titles=options.speak_titles,
                             key=lambda text, voice: dialect(voice).segment_key(text),
                             sent=lambda text: dialect(None).sent_characters(text),
                             lexicon=options.lexicon(), ssml=options.reads_ssml(), voices=options.voices,
                             narrator=options.voice)


def book_digest(planned: PlannedBook, options: NarrateOptions) -> str:
    """What the finished book files were made from: the plan, and the files asked for."""
    return manifest.digest(planned, [
        list(options.captions), options.caption_style, options.speak_titles, options.chapter_files,
        list(vars(options.pauses).values()), options.acx, options.m4b, options.read_along,
        _read_along_source(planned) if options.read_along else None,
    ])


def _read_along_source(planned: PlannedBook) -> str:
    """What a read-along book is made of besides what is spoken: the document
    itself (an EPUB's styles, images and pages; a page's emphasis)."""
    if planned.source is not None:
        with os_errors():
            return hashlib.sha256(planned.source.read_bytes()).hexdigest()
    chapters = (planned.whole or planned.book).chapters
    return hashlib.sha256(json.dumps([chapter.markup for chapter in chapters]).encode()).hexdigest()


def is_up_to_date(planned: PlannedBook, options: NarrateOptions, stem: str) -> bool:
    return manifest.is_up_to_date(options.out_dir, stem, book_digest(planned, options))


# -- the whole path ---------------------------------------------------------


def narrate_file(path: Path, options: NarrateOptions, *, cache: SegmentCache | None = None,
                 budget: Budget | None = None, force: bool = False) -> BookResult | None:
    """`narrator narrate` for one document: its files, or None when they are up to date."""
    # A bad document or --chapters stops here, before any folder exists.
    planned = read_and_plan(path, options)
    check_ready(options)
    # Locked after reading: a bad document makes no folder.
    with os_errors(), FolderLock(options.out_dir, command="narrator narrate"):
        return narrate_planned(planned, path.stem, options, cache=cache, budget=budget, force=force)


def check_ready(options: NarrateOptions) -> None:
    """What would stop a narration later, checked before anything is made or paid for."""
    if options.m4b:
        m4b.find_ffmpeg()
    if options.provider != "local":
        service_key(options)


def narrate_planned(planned: PlannedBook, stem: str, options: NarrateOptions, *,
                    cache: SegmentCache | None = None, budget: Budget | None = None,
                    spent: Spent | None = None, force: bool = False,
                    before_sending: Callable[[PlannedBook], None] | None = None) -> BookResult | None:
    """A planned book's files, or None when they are up to date. The caller
    holds the output folder's lock; `spent` hears what was sent even when
    this raises; `before_sending` hears the book when it is to be made."""
    if not force and is_up_to_date(planned, options, stem):
        _strictly(options, stem, manifest.recorded_warnings(options.out_dir, stem))
        return None
    if before_sending is not None:
        before_sending(planned)
    started, cache, spent = time.monotonic(), cache or SegmentCache(), spent or Spent()
    check_ready(options)
    with os_errors():  # a full disk, a file-size limit, a folder that is a file: one line, work kept
        # Segments are made in an event loop of their own; the files are written
        # outside it, so Ctrl-C while a long book is joined or mastered stops it at once.
        stats = asyncio.run(synthesize(planned, stem, options, cache, budget or Budget(None), spent))
        entries = BookSegments(cache, planned.keys, planned.segments)
        estimated = _estimated_chapters(planned, entries)
        warnings = book_warnings(planned, estimated, stats, options)
        files = write_files(planned, entries, stem, options, warnings)
    _strictly(options, stem, warnings)
    result = _result(planned, estimated, files, stats, spent, started, warnings)
    return replace(result, interpolated_words=sum(entries.meta(s.index).get("interpolated", 0)
                                                  for s in planned.segments))


# -- synthesize: the cache, then the pool -------------------------------------


async def synthesize(planned: PlannedBook, stem: str, options: NarrateOptions, cache: SegmentCache,
                     budget: Budget, spent: Spent) -> PoolStats:
    """Every segment into the cache: found there, or made through the pool.
    A stop (a fatal service error, failed segments, the budget) raises, saying what is kept."""
    progress = Progress(stem, planned.characters, enabled=options.progress)
    preparing: list[asyncio.Task[None]] = []

    async def on_done(segment: Segment, chunks: Chunks) -> None:
        # Parsing and the fsynced write run in a thread: the other sessions keep streaming meanwhile.
        audio = await asyncio.to_thread(segment_audio, segment.spoken, chunks)
        await asyncio.to_thread(cache.put, planned.keys[segment.index], audio, len(segment.sent_text))
        progress.advance(planned.sent[segment.index], audio.duration_ms / 1000)
        if not preparing and not options.mastered:
            # The room tone the book will be joined with, made while the service is still busy.
            preparing.append(asyncio.create_task(
                asyncio.to_thread(assemble.prepare_room_tone, audio.frames[:4096], options.pauses)))

    stopped: NarratorError | None = None
    try:
        async with _connect(options) as dialect_for:
            dialect = dialect_for(None)
            # Checked in full (the digest too): a damaged entry is made again now, not found at the end.
            # Each key once: runs of the same words in the same voice ("Yes," said Ada) are one entry.
            unique = list({planned.keys[s.index]: s for s in reversed(planned.segments)}.values())[::-1]
            todo = [s for s in unique if await asyncio.to_thread(cache.get, planned.keys[s.index]) is None]
            spent.cached_segments = len(planned.segments) - len(todo)
            spent.cached_characters = planned.characters - planned.characters_of(todo)
            progress.advance(spent.cached_characters, 0.0)
            pool = SessionPool(PoolConfig(dialect, options.concurrency, options.stall_timeout,
                                          speed=options.speaking_speed(), budget=budget,
                                          retry_budget=Budget(retry_cap(planned, options)),
                                          billed_attempts=options.segment_tries, voiced=dialect_for))
            try:
                await pool.run(todo, on_done)
            except ServiceError as error:
                stopped = error
            finally:
                spent.characters_sent, spent.retries = pool.stats.characters_sent, pool.stats.retries
                await asyncio.gather(*preparing, return_exceptions=True)  # joining makes it anew if it failed
    finally:
        progress.close()
    stopped = stopped or _failed_segments(planned, pool.stats, options) or _over_budget(pool.stats)
    if stopped is not None:
        raise _keeping_work(stopped, planned, cache)
    return pool.stats


@contextlib.asynccontextmanager
async def _connect(options: NarrateOptions) -> AsyncIterator[Callable[[str | None], Dialect]]:
    """Where to connect, as each voice's dialect (None: the narrator's): the
    embedded server started here for `local`, or the service named by
    --endpoint or --region with its key from the environment."""
    if options.provider != "local":
        key = service_key(options)
        yield functools.cache(lambda voice: service_dialect(options.voiced(voice), key=key))
        return
    from narrator.server.app import EmbeddedServer  # espeak-ng and the server: only when narrating locally

    async with EmbeddedServer(LOCAL_HOST) as server:
        yield functools.cache(lambda voice: service_dialect(options.voiced(voice), url=server.url))


def retry_cap(planned: PlannedBook, options: NarrateOptions) -> int:
    """What sending failed segments again may cost: --max-retry-characters, else a quarter of the book."""
    if options.max_retry_characters is not None:
        return options.max_retry_characters
    return math.ceil(planned.characters * DEFAULT_RETRY_SHARE)


def _failed_segments(planned: PlannedBook, stats: PoolStats, options: NarrateOptions) -> ServiceError | None:
    """The segments given up, the first named by its chapter and first words,
    and what they cost; or the retry budget that stopped the run."""
    if not stats.failed:
        return None
    segment, error = min(stats.failed, key=lambda f: f[0].index)
    chapter = planned.book.chapters[segment.chapter].title
    words = " ".join(segment.text.split()[:6])
    others = f" and {len(stats.failed) - 1} more" if len(stats.failed) > 1 else ""
    cost = sum(stats.sent_for[s.index] for s, _ in stats.failed)
    named = (f"segment {segment.index + 1} (chapter {chapter!r}, \"{words}...\"){others} failed: {error}; "
             f"sending {'it' if not others else 'them'} cost {cost:,} characters")
    if stats.retries_capped:
        cap = retry_cap(planned, options)
        named = (f"stopped: sending failed segments again would cost more than {cap:,} characters "
                 f"(--max-retry-characters; a quarter of the book unless set); {named}")
    return ServiceError(error.kind, named)


def _over_budget(stats: PoolStats) -> BudgetError | None:
    return BudgetError("stopped before crossing the character budget") if stats.over_budget else None


def _keeping_work(error: NarratorError, planned: PlannedBook, cache: SegmentCache) -> NarratorError:
    """The same error, saying what is finished and kept for the next run."""
    left = planned.unfinished(cache)
    if len(left) == len(planned.segments):
        return error
    message = (
        f"{error}; {len(planned.segments) - len(left)} of {len(planned.segments)} segments "
        f"are finished and kept in the cache ({planned.characters_of(left):,} characters remain): "
        "run the same command again to narrate only the rest"
    )
    if isinstance(error, ServiceError):
        return ServiceError(error.kind, message)
    return BudgetError(message)


# -- assemble -> manifest -----------------------------------------------------


def write_files(planned: PlannedBook, entries: BookSegments, stem: str, options: NarrateOptions,
                warnings: list[str]) -> assemble.BookFiles:
    """The chapter files, the whole book, captions and (if asked) the M4B, then the manifest saying so."""
    options.out_dir.mkdir(parents=True, exist_ok=True)
    earlier = manifest.forget(options.out_dir, stem)
    outputs = assemble.Outputs(options.out_dir, stem, options.captions, options.caption_style,
                               options.chapter_files)
    render: assemble.Renderer = assemble.copy_chapter
    if options.mastered:
        from narrator.acx.chapters import (
            mastered_chapter,  # numpy's filters and a decoder: only when mastering
        )

        render = mastered_chapter
    files = assemble.write_book(entries, planned.segments, planned.book, outputs, options.pauses, render)
    try:
        if options.read_along:
            from narrator.readalong.book import write_book_read_along  # lxml: only when asked for

            files.read_along, unhighlighted = write_book_read_along(
                planned, entries, files, out_dir=options.out_dir, stem=stem, granularity=options.read_along,
                narrator=options.narrator())
            warnings += unhighlighted
    finally:  # the chapter files the EPUB was made from go even if making it failed (a full disk)
        assemble.drop_scaffolding(files, outputs)
    if options.m4b:
        files.m4b = options.out_dir / f"{stem}.m4b"
        m4b.write_m4b(files.mp3, planned.book, files.marks, files.m4b)
    manifest.record(options.out_dir, stem, book_digest(planned, options), files.written, warnings)
    manifest.remove_unmade(options.out_dir, set(earlier) - set(files.written))
    return files


def book_warnings(planned: PlannedBook, estimated: list[int], stats: PoolStats,
                  options: NarrateOptions) -> list[str]:
    """What is not as it should be in a book's files: audio still short after
    a second request, captions (and read-along highlights) whose times were
    estimated (in the chapters `estimated` numbers)."""
    warnings = []
    if stats.short_segments:
        chapters = sorted({planned.segments[i].chapter for i in stats.short_segments})
        named = ", ".join(repr(planned.book.chapters[c].title) for c in chapters)
        warnings.append(f"{_count(len(stats.short_segments), 'short segment')} in {named}")
    if estimated:
        timed = "captions and read-along highlights" if options.read_along else "captions"
        warnings.append(f"{timed} estimated in {_count(len(estimated), 'chapter')}")
    return warnings


def _strictly(options: NarrateOptions, stem: str, warnings: list[str]) -> None:
    if options.strict and warnings:
        raise StrictError(f"{stem}: made with warnings: {'; '.join(warnings)} (--strict); "
                          "its files are written")


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"


def _estimated_chapters(planned: PlannedBook, entries: BookSegments) -> list[int]:
    return sorted({s.chapter for s in planned.segments if entries.meta(s.index)["estimated"]})


def _result(planned: PlannedBook, estimated: list[int], files: assemble.BookFiles, stats: PoolStats,
            spent: Spent, started: float, warnings: list[str]) -> BookResult:
    return BookResult(
        files.mp3, files.captions, len(planned.segments), files.cues, files.duration_ms / 1000,
        characters_sent=spent.characters_sent,
        retries=spent.retries,
        wall_seconds=time.monotonic() - started,
        estimated_chapters=[planned.book.chapters[i].title for i in estimated],
        book_characters=planned.characters,
        reused_segments=spent.cached_segments,
        cached_characters=spent.cached_characters,
        short_segments=sorted(stats.short_segments),
        concurrency=stats.concurrency,
        chapter_files=files.chapter_paths,
        m4b=files.m4b,
        read_along=files.read_along,
        warnings=warnings,
    )
