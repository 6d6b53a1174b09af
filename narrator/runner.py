"""Narrate one book: read, plan, run the segments through the pool, assemble.

The I/O shell around the pure core. Finished segments go to a work folder
beside the output as they arrive; the book and its captions are written
only when every segment is there, and the work folder is removed after.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from narrator import assemble
from narrator.client.pool import PoolConfig, SessionPool
from narrator.errors import ConfigError, ErrorKind, ServiceError
from narrator.keys import api_key
from narrator.model import Book, Segment
from narrator.plan import plan
from narrator.progress import Progress
from narrator.protocol import elevenlabs as codec
from narrator.readers import read_document
from narrator.server.app import EmbeddedServer
from narrator.store import SegmentStore
from narrator.timeline import segment_audio

PROVIDERS = ("local", "elevenlabs")


@dataclass(frozen=True)
class NarrateOptions:
    out_dir: Path
    provider: str = "local"
    voice: str | None = None
    model: str | None = None
    endpoint: str | None = None
    concurrency: int = 4
    output_format: str = "mp3_44100_128"
    speak_titles: bool = True
    stall_timeout: float = 30.0
    progress: bool = True


@dataclass
class BookResult:
    mp3: Path
    srt: Path
    vtt: Path
    segments: int
    cues: int
    audio_seconds: float
    characters_sent: int
    retries: int
    wall_seconds: float
    estimated_chapters: list[str] = field(default_factory=list)


def narrate_file(path: Path, options: NarrateOptions) -> BookResult:
    book = read_document(path)
    return asyncio.run(narrate_book(book, path.stem, options))


async def narrate_book(book: Book, stem: str, options: NarrateOptions) -> BookResult:
    started = time.monotonic()
    segments = plan(book, concurrency=options.concurrency, speak_titles=options.speak_titles)
    options.out_dir.mkdir(parents=True, exist_ok=True)
    store = SegmentStore(options.out_dir / f".{stem}.narrator-work")
    progress = Progress(stem, sum(len(s.text) for s in segments), enabled=options.progress)
    estimated: set[int] = set()

    async def on_done(segment: Segment, chunks) -> None:
        # Parsing and the fsynced writes run in a thread: the other sessions keep streaming meanwhile.
        audio = await asyncio.to_thread(segment_audio, segment.paragraphs, chunks)
        await asyncio.to_thread(store.put, segment.index, audio)
        if audio.estimated:
            estimated.add(segment.chapter)
        progress.advance(len(segment.text), audio.duration_ms / 1000)

    try:
        async with _dialect(options) as dialect:
            pool = SessionPool(PoolConfig(dialect, options.concurrency, options.stall_timeout))
            await pool.run(segments, on_done)
    finally:
        progress.close()
    mp3, srt, vtt = (options.out_dir / f"{stem}{suffix}" for suffix in (".mp3", ".srt", ".vtt"))
    timeline = assemble.measure(store, len(segments))
    assemble.write_book_mp3(store, len(segments), mp3, book)
    cues = assemble.write_captions(store, len(segments), timeline, srt, vtt)
    store.remove()
    return BookResult(
        mp3, srt, vtt, len(segments), cues, timeline.duration_ms / 1000,
        characters_sent=pool.stats.characters_sent,
        retries=pool.stats.retries,
        wall_seconds=time.monotonic() - started,
        estimated_chapters=[book.chapters[i].title for i in sorted(estimated)],
    )


@contextlib.asynccontextmanager
async def _dialect(options: NarrateOptions):
    """Where to connect: the embedded server started here for `local`, or the
    service named by --endpoint with its key from the environment."""
    if options.provider not in PROVIDERS:
        raise ConfigError(f"unknown provider {options.provider!r}; choose one of {', '.join(PROVIDERS)}")
    settings = codec.StreamSettings(
        voice=options.voice or ("en-us" if options.provider == "local" else "JBFqnCBsd6RMkjVDRZzb"),
        model=options.model or (None if options.provider == "local" else "eleven_multilingual_v2"),
        output_format=options.output_format,
    )
    if options.provider == "local":
        async with EmbeddedServer() as server:
            yield codec.dialect(server.url, settings, None)
        return
    key = api_key("ELEVENLABS_API_KEY")
    if not key:
        raise ServiceError(ErrorKind.AUTH, "ELEVENLABS_API_KEY is not set (environment or .env): set it to use --provider elevenlabs")
    yield codec.dialect(options.endpoint or codec.DEFAULT_ENDPOINT, settings, key)
