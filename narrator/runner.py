"""Narrate one book: read, plan, run the segments through the pool, assemble.

The I/O shell around the pure core. Segments already in the cache are not
sent; finished segments go to the cache as they arrive; the book and its
captions are written only when every segment is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from narrator import problems
from narrator.audio import m4b
from narrator.book import assemble
from narrator.book.cache import BookSegments, SegmentCache
from narrator.book.layout import Pauses
from narrator.book.lock import FolderLock
from narrator.book.timeline import segment_audio
from narrator.captions.formats import CAPTION_FORMATS, CAPTION_STYLES
from narrator.client.budget import Budget
from narrator.client.pool import PoolConfig, PoolStats, SessionPool
from narrator.errors import BudgetError, ConfigError, DocumentError, ErrorKind, NarratorError, ServiceError
from narrator.files import atomic_write
from narrator.keys import api_key
from narrator.model import Book, Segment
from narrator.progress import Progress
from narrator.protocol import elevenlabs as codec
from narrator.protocol import sarvam
from narrator.protocol.events import Dialect
from narrator.server.app import EmbeddedServer
from narrator.text import read_document
from narrator.text.segments import plan
from narrator.text.select import select_chapters

PROVIDERS = ("local", "elevenlabs", "sarvam")
DEFAULT_CAPTIONS = ("srt", "vtt")
LOCAL_HOST = "127.0.0.1"
KEY_NAMES = {"elevenlabs": "ELEVENLABS_API_KEY", "sarvam": "SARVAM_API_KEY"}


@dataclass(frozen=True)
class NarrateOptions:
    out_dir: Path
    provider: str = "local"
    voice: str | None = None  # None: the provider's default voice and model
    model: str | None = None
    endpoint: str | None = None
    concurrency: int = 4
    output_format: str | None = None  # ElevenLabs' output_format; None: mp3_44100_128
    speak_titles: bool = True
    stall_timeout: float = 30.0
    progress: bool = True
    captions: tuple[str, ...] = DEFAULT_CAPTIONS  # which caption files to write
    caption_style: str = "sentence"
    chapters: str | None = None  # --chapters: which of the book's chapters; None: its prose
    chapter_files: bool = True
    pauses: Pauses = Pauses()
    acx: bool = False  # master the audio to pass ACX's checks
    m4b: bool = False  # also an M4B audiobook, through ffmpeg
    region: str | None = None  # a name in codec.REGIONS, instead of endpoint
    # Everything else sent to the service (language, seed, voice settings, schedule...).
    # Its voice, model and output_format are replaced by the fields above.
    stream: codec.StreamSettings = codec.StreamSettings()
    # Sarvam's settings; its speaker and model are replaced by voice and model above.
    sarvam_settings: sarvam.SarvamSettings = sarvam.SarvamSettings()

    def __post_init__(self) -> None:
        # A bad setting stops here, before a document is read or a folder made.
        if self.provider not in PROVIDERS:
            raise ConfigError(f"unknown provider {self.provider!r}; choose one of {', '.join(PROVIDERS)}")
        self._check_provider_options()
        problems.raise_first([
            problems.range_problem("concurrency", self.concurrency, (1, 64), whole=True),
            problems.range_problem("timeout", self.stall_timeout, (1, 600), unit=" seconds"),
            problems.choice_problem("caption-style", self.caption_style, CAPTION_STYLES),
            *self._pause_problems(),
        ])
        for name in self.captions:
            if name not in CAPTION_FORMATS:
                raise ConfigError(f"caption format {name!r} is not one of {', '.join(CAPTION_FORMATS)}")
        self.service_settings()
        self.service_endpoint()

    def _pause_problems(self) -> list[str | None]:
        """Pause lengths in seconds; with --acx, within what ACX asks."""
        lead_in, chapter = ((0.5, 1), (1, 5)) if self.acx else ((0, 10), (0, 30))
        acx = " (ACX asks for this; drop --acx to go outside it)" if self.acx else ""
        return [
            problems.range_problem("lead-in", self.pauses.lead_in, lead_in, unit=f" seconds{acx}"),
            problems.range_problem("chapter-pause", self.pauses.chapter, chapter, unit=f" seconds{acx}"),
            problems.range_problem("paragraph-pause", self.pauses.paragraph, (0, 10), unit=" seconds", optional=True),
        ]

    @property
    def mastered(self) -> bool:
        """Whether the audio is decoded, edited and encoded again (rather than its frames copied)."""
        return self.acx or self.pauses.paragraph is not None

    def _check_provider_options(self) -> None:
        if self.provider == "local" and (self.endpoint or self.region):
            raise ConfigError("--endpoint and --region say where a cloud service is: give --provider elevenlabs or "
                              "sarvam with them (local starts its own server)")
        if self.provider == "sarvam":
            if self.stream != codec.StreamSettings() or self.output_format or self.region:
                raise ConfigError("ElevenLabs options (voice settings, --format, --region, --seed, ...) do not apply to "
                                  "--provider sarvam: use --pace, --pitch, --loudness, --sample-rate and --bitrate")
        elif self.sarvam_settings != sarvam.SarvamSettings():
            raise ConfigError("--pace, --pitch, --loudness, --sample-rate, --bitrate and --preprocessing apply to "
                              "--provider sarvam only")

    def service_settings(self) -> codec.StreamSettings | sarvam.SarvamSettings:
        """What goes to the service, with the provider's defaults; a ConfigError names a bad option."""
        if self.provider == "sarvam":
            settings = replace(self.sarvam_settings, speaker=self.voice or self.sarvam_settings.speaker,
                               model=self.model or self.sarvam_settings.model)
            sarvam.validate(settings)
            return settings
        local = self.provider == "local"
        return codec.validate(replace(
            self.stream,
            voice=self.voice or ("en-us" if local else "JBFqnCBsd6RMkjVDRZzb"),
            model=self.model or (None if local else "eleven_multilingual_v2"),
            output_format=self.output_format or "mp3_44100_128",
        ))

    def speaking_speed(self) -> float:
        if self.provider == "sarvam":
            return self.sarvam_settings.pace
        return self.stream.voice_settings.speed or 1.0

    def service_endpoint(self) -> str:
        if self.provider == "sarvam":
            return self.endpoint or sarvam.DEFAULT_ENDPOINT
        if self.region and self.endpoint:
            raise ConfigError("--region and --endpoint both say where to connect: give only one of them")
        if self.region is None:
            return self.endpoint or codec.DEFAULT_ENDPOINT
        if self.region not in codec.REGIONS:
            raise ConfigError(f"--region {self.region!r} is not one of {', '.join(codec.REGIONS)}")
        return codec.REGIONS[self.region]


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
    book_characters: int = 0
    reused_segments: int = 0  # found in the cache: finished by an earlier run, or shared with another book
    cached_characters: int = 0  # the text of those: what was not sent again
    short_segments: list[int] = field(default_factory=list)
    concurrency: str = ""
    chapter_files: list[Path] = field(default_factory=list)
    m4b: Path | None = None

    @property
    def srt(self) -> Path | None:
        return self.captions.get("srt")

    @property
    def vtt(self) -> Path | None:
        return self.captions.get("vtt")

    @property
    def waste(self) -> float:
        """Characters sent over characters in the book: 1.0 is nothing sent twice."""
        return self.characters_sent / self.book_characters if self.book_characters else 0.0


@dataclass(frozen=True)
class PlannedBook:
    """A book's segments and their cache keys: what a run would send, or find."""

    book: Book
    segments: list[Segment]
    keys: list[str]

    @property
    def characters(self) -> int:
        return sum(len(s.text) for s in self.segments)

    def unfinished(self, cache: SegmentCache) -> list[Segment]:
        """The segments the cache has no whole entry for (sizes checked, not digests)."""
        return [s for s in self.segments if cache.get(self.keys[s.index], verify=False) is None]


def plan_book(book: Book, options: NarrateOptions) -> PlannedBook:
    """The chapters chosen (--chapters, else the prose) cut into segments.
    No connection and no key needed: the key depends on neither."""
    book = select_chapters(book, options.chapters)
    segments = plan(book, speak_titles=options.speak_titles)
    if not segments:
        raise DocumentError(f"{book.title}: the chapters chosen hold nothing to speak")
    dialect = _key_dialect(options)
    return PlannedBook(book, segments, [dialect.segment_key(s.text) for s in segments])


def book_digest(planned: PlannedBook, options: NarrateOptions) -> str:
    """What the finished book files were made from: their segments (text and
    sound settings), tags, cover, chapter titles, pauses, mastering and the
    files asked for. Equal digests, same files."""
    book = planned.book
    cover = hashlib.sha256(book.cover.data).hexdigest() if book.cover else None
    basis = [planned.keys, book.title, book.author, book.language, cover, [c.title for c in book.chapters],
             list(options.captions), options.caption_style, options.speak_titles, options.chapter_files,
             list(vars(options.pauses).values()), options.acx, options.m4b]
    return hashlib.sha256(json.dumps(basis).encode()).hexdigest()


def _manifest_path(out_dir: Path, stem: str) -> Path:
    return out_dir / f".{stem}.narrator.json"


def _manifest(out_dir: Path, stem: str) -> dict:
    try:
        manifest = json.loads(_manifest_path(out_dir, stem).read_bytes())
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _recorded_files(out_dir: Path, stem: str) -> list[Path]:
    """The files the last complete run made for this book (names inside the output folder only)."""
    names = _manifest(out_dir, stem).get("files", [])
    return [out_dir / name for name in names if isinstance(name, str) and ".." not in Path(name).parts]


def is_up_to_date(planned: PlannedBook, options: NarrateOptions, stem: str) -> bool:
    """Whether the book files in the output folder were made from exactly this plan."""
    digest = _manifest(options.out_dir, stem).get("digest")
    files = _recorded_files(options.out_dir, stem)
    return digest == book_digest(planned, options) and all(p.is_file() for p in files)


def _record(options: NarrateOptions, stem: str, planned: PlannedBook, written: list[Path]) -> None:
    """The manifest: the digest the files were made from, and which files they are."""
    names = [str(path.relative_to(options.out_dir)) for path in written]
    manifest = {"digest": book_digest(planned, options), "files": names}
    atomic_write(_manifest_path(options.out_dir, stem), json.dumps(manifest, ensure_ascii=False).encode())


def narrate_file(path: Path, options: NarrateOptions, *, cache: SegmentCache | None = None,
                 budget: Budget | None = None, force: bool = False) -> BookResult | None:
    """The book's files, or None when they are up to date (made from this text with these settings)."""
    book = read_document(path)
    planned = plan_book(book, options)  # a bad --chapters stops here, before any folder exists
    _key_dialect(options)  # a bad endpoint too
    _check_tools(options)
    if options.provider != "local":
        _service_key(options)
    with FolderLock(options.out_dir, command="narrator narrate"):  # after reading: a bad document makes no folder
        if not force and is_up_to_date(planned, options, path.stem):
            return None
        return narrate_in_process(planned, path.stem, options, cache=cache, budget=budget)


@dataclass(frozen=True)
class _Narrated:
    """Every segment of a book in the cache, and what it took to get them there."""

    planned: PlannedBook
    cache: SegmentCache
    stats: PoolStats
    sent_segments: int
    cached_characters: int
    started: float


async def narrate_book(book: Book, stem: str, options: NarrateOptions, *, cache: SegmentCache | None = None,
                       budget: Budget | None = None) -> BookResult:
    """Narrate inside a running event loop (beside a server, say), then write the files."""
    planned = plan_book(book, options)
    return _finish(await _narrate_segments(planned, stem, options, cache, budget), stem, options)


def narrate_in_process(planned: PlannedBook, stem: str, options: NarrateOptions, *,
                       cache: SegmentCache | None = None, budget: Budget | None = None) -> BookResult:
    """Narrate an already planned book in an event loop of its own, then write
    the files outside it: Ctrl-C while a long book is joined or mastered stops
    it at once, which a loop running synchronous code would not allow until the end."""
    return _finish(asyncio.run(_narrate_segments(planned, stem, options, cache, budget)), stem, options)


async def _narrate_segments(planned: PlannedBook, stem: str, options: NarrateOptions, cache: SegmentCache | None,
                            budget: Budget | None) -> _Narrated:
    started = time.monotonic()
    _check_tools(options)  # before anything is paid for
    cache = cache or SegmentCache()
    segments, keys = planned.segments, planned.keys
    progress = Progress(stem, planned.characters, enabled=options.progress)

    async def on_done(segment: Segment, chunks) -> None:
        # Parsing and the fsynced write run in a thread: the other sessions keep streaming meanwhile.
        audio = await asyncio.to_thread(segment_audio, segment.paragraphs, chunks)
        await asyncio.to_thread(cache.put, keys[segment.index], audio, len(segment.text))
        progress.advance(len(segment.text), audio.duration_ms / 1000)

    try:
        async with _dialect(options) as dialect:
            # Checked in full (the digest too): a damaged entry is made again now, not found at the end.
            todo = [s for s in segments if await asyncio.to_thread(cache.get, keys[s.index]) is None]
            cached = planned.characters - sum(len(s.text) for s in todo)
            progress.advance(cached, 0.0)
            pool = SessionPool(PoolConfig(dialect, options.concurrency, options.stall_timeout,
                                          speed=options.speaking_speed(), budget=budget or Budget(None)))
            try:
                await pool.run(todo, on_done)
            except ServiceError as error:
                raise _keeping_work(error, planned, cache, pool.stats, cached) from error
    finally:
        progress.close()
    if pool.stats.failed:
        raise _keeping_work(_failed_segments(pool.stats.failed), planned, cache, pool.stats, cached)
    if pool.stats.over_budget:
        raise _keeping_work(BudgetError("stopped before crossing the character budget"), planned, cache, pool.stats, cached)
    return _Narrated(planned, cache, pool.stats, len(todo), cached, started)


def _finish(narrated: _Narrated, stem: str, options: NarrateOptions) -> BookResult:
    planned, stats = narrated.planned, narrated.stats
    entries = BookSegments(narrated.cache, planned.keys)
    files = _write_files(planned, entries, stem, options)
    estimated = {s.chapter for s in planned.segments if entries.meta(s.index)["estimated"]}
    return BookResult(
        files.mp3, files.captions, len(planned.segments), files.cues, files.duration_ms / 1000,
        characters_sent=stats.characters_sent,
        retries=stats.retries,
        wall_seconds=time.monotonic() - narrated.started,
        estimated_chapters=[planned.book.chapters[i].title for i in sorted(estimated)],
        book_characters=planned.characters,
        reused_segments=len(planned.segments) - narrated.sent_segments,
        cached_characters=narrated.cached_characters,
        short_segments=sorted(stats.short_segments),
        concurrency=stats.concurrency,
        chapter_files=files.chapter_paths,
        m4b=files.m4b,
    )


def _write_files(planned: PlannedBook, entries: BookSegments, stem: str, options: NarrateOptions) -> assemble.BookFiles:
    """The chapter files, the whole book, captions and (if asked) the M4B, then the manifest saying so.

    The old manifest goes first: files half replaced by a run that fails
    must not pass for the old ones. What the last run made and this one did
    not (a renamed chapter, a caption format no longer asked for) is removed."""
    options.out_dir.mkdir(parents=True, exist_ok=True)
    earlier = _recorded_files(options.out_dir, stem)
    _manifest_path(options.out_dir, stem).unlink(missing_ok=True)
    outputs = assemble.Outputs(options.out_dir, stem, options.captions, options.caption_style, options.chapter_files)
    render: assemble.Renderer = assemble.copy_chapter
    if options.mastered:
        from narrator.acx.chapters import (
            mastered_chapter,  # numpy's filters and a decoder: only when mastering
        )

        render = mastered_chapter
    files = assemble.write_book(entries, planned.segments, planned.book, outputs, options.pauses, render)
    if options.m4b:
        files.m4b = options.out_dir / f"{stem}.m4b"
        m4b.write_m4b(files.mp3, planned.book, files.marks, files.m4b)
    _record(options, stem, planned, files.written)
    _remove_unmade(set(earlier) - set(files.written))
    return files


def _remove_unmade(paths: set[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
    for folder in {path.parent for path in paths}:
        with contextlib.suppress(OSError):  # only when empty: a user's own files stay, and their folder
            folder.rmdir()


def _check_tools(options: NarrateOptions) -> None:
    if options.m4b:
        m4b.find_ffmpeg()


def _failed_segments(failed) -> ServiceError:
    first_segment, first_error = min(failed, key=lambda f: f[0].index)
    others = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
    return ServiceError(first_error.kind, f"segment {first_segment.index + 1}{others} failed: {first_error}")


def _keeping_work(error: NarratorError, planned: PlannedBook, cache: SegmentCache, stats: PoolStats,
                  cached: int) -> NarratorError:
    """The same error, saying what is finished and kept for the next run, and
    carrying what this run sent (a job's report counts it)."""
    left = planned.unfinished(cache)
    if len(left) < len(planned.segments):
        message = (
            f"{error}; {len(planned.segments) - len(left)} of {len(planned.segments)} segments are finished and kept "
            f"in the cache ({sum(len(s.text) for s in left):,} characters remain): run the same command again to "
            "narrate only the rest"
        )
        error = ServiceError(error.kind, message) if isinstance(error, ServiceError) else type(error)(message)
    error.characters_sent, error.cached_characters, error.retries = stats.characters_sent, cached, stats.retries
    return error


def _key_dialect(options: NarrateOptions) -> Dialect:
    """The dialect as far as a segment's key sees it: no key, and for `local`
    the embedded server's host (its port changes every run; the key omits it)."""
    settings = options.service_settings()
    if options.provider == "local":
        return codec.dialect(f"ws://{LOCAL_HOST}", settings, None)
    codec_module = sarvam if options.provider == "sarvam" else codec
    return codec_module.dialect(options.service_endpoint(), settings, None)


@contextlib.asynccontextmanager
async def _dialect(options: NarrateOptions):
    """Where to connect: the embedded server started here for `local`, or the
    service named by --endpoint or --region with its key from the environment."""
    settings = options.service_settings()
    if options.provider == "local":
        async with EmbeddedServer(LOCAL_HOST) as server:
            yield codec.dialect(server.url, settings, None)
        return
    codec_module = sarvam if options.provider == "sarvam" else codec
    yield codec_module.dialect(options.service_endpoint(), settings, _service_key(options))


def _service_key(options: NarrateOptions) -> str:
    name = KEY_NAMES[options.provider]
    key = api_key(name)
    if not key:
        raise ServiceError(ErrorKind.AUTH, f"{name} is not set (environment or .env): set it to use --provider {options.provider}")
    return key
