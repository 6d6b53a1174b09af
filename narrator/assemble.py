"""Finished segments, in book order, to the book MP3 and its captions.

Everything streams: frames are copied segment by segment into a temporary
file renamed into place when complete, and words flow one segment at a time
into the caption builder. Times are placed by counting samples.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from mutagen.id3 import ID3, TALB, TIT2, TPE1, TCON

from narrator.captions import build_cues, write_srt, write_vtt
from narrator.errors import AudioError
from narrator.model import Book, Word
from narrator.cache import BookSegments


@dataclass(frozen=True)
class Timeline:
    samples: int
    sample_rate: int

    @property
    def duration_ms(self) -> int:
        return self.samples * 1000 // self.sample_rate


def measure(store: BookSegments, count: int) -> Timeline:
    samples, rate = 0, None
    for index in range(count):
        meta = store.meta(index)
        if rate not in (None, meta["sample_rate"]):
            raise AudioError(f"segment {index + 1} is at {meta['sample_rate']} Hz, the book at {rate} Hz: they cannot be joined")
        rate = meta["sample_rate"]
        samples += meta["samples"]
    return Timeline(samples, rate or 1)


def write_book_mp3(store: BookSegments, count: int, path: Path, book: Book) -> None:
    part = path.with_name(path.name + ".part")
    with open(part, "wb") as out:
        for index in range(count):
            store.copy_frames(index, out)
    tag = ID3()
    tag.add(TIT2(encoding=3, text=book.title))
    tag.add(TALB(encoding=3, text=book.title))
    tag.add(TCON(encoding=3, text="Audiobook"))
    if book.author:
        tag.add(TPE1(encoding=3, text=book.author))
    tag.save(part)
    os.replace(part, path)


def book_words(store: BookSegments, count: int) -> Iterator[Word]:
    """Each segment's words moved to where the segment starts in the book.
    The offset is an integer sample count, so nothing drifts."""
    samples = 0
    for index in range(count):
        meta = store.meta(index)
        offset_ms = samples * 1000 / meta["sample_rate"]
        for text, start, end, last in meta["words"]:
            yield Word(text, round(offset_ms + start), round(offset_ms + end), last)
        samples += meta["samples"]


def write_captions(store: BookSegments, count: int, timeline: Timeline, srt: Path | None, vtt: Path | None) -> int:
    cues = 0
    for path, writer in ((srt, write_srt), (vtt, write_vtt)):
        if path is None:
            continue
        part = path.with_name(path.name + ".part")
        with open(part, "w", encoding="utf-8", newline="\n") as out:
            cues = writer(build_cues(book_words(store, count), audio_end_ms=timeline.duration_ms), out)
        os.replace(part, path)
    return cues
