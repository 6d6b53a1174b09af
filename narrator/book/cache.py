"""The segment cache: every finished segment's audio frames and timed words,
addressed by its key (everything that decides its sound: see
`Dialect.segment_key`).

One entry is one file, `segments/ab/<key>.seg`: a header line, one line of
JSON (sizes, the frames' SHA-256, the timings) and the MP3 frames. It is
written to a private temporary name and renamed into place, so a reader sees
a whole entry or none, whatever instant a writer is killed at. A reader
checks the size and the digest; an entry that fails is deleted and counts as
missing, so it is made again and never joined into a book. A whole entry is
never replaced: when two runs finish the same segment, the first one's stays,
so a book being joined never sees its segments change under it.

Segments finish out of order; keeping them on disk rather than in memory
keeps memory flat however long the book is, and nothing finished is lost if
a later segment fails or the process dies.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypedDict, cast

from narrator.book.timeline import SegmentAudio, TimedWord, ended, unsaid
from narrator.errors import AudioError
from narrator.files import atomic_write, remove_inside
from narrator.model import Segment

MAGIC = b"NARRATOR-SEGMENT 1\n"
STRAY_AFTER_SECONDS = 3600  # a temporary file this old belongs to a writer that died


def default_root() -> Path:
    """$NARRATOR_CACHE, else the user's cache folder (XDG_CACHE_HOME or ~/.cache)."""
    if os.environ.get("NARRATOR_CACHE"):
        return Path(os.environ["NARRATOR_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "narrator"


class _Meta(TypedDict):
    """What every entry's JSON line holds."""

    bytes: int  # of the MP3 frames after it
    sha256: str  # of those frames
    characters: int
    samples: int
    sample_rate: int
    estimated: bool
    words: list[tuple[str, float, float, bool]]  # text, start, end (ms), ends_paragraph


class SegmentMeta(_Meta, total=False):
    """An entry's JSON line, with what older entries lack."""

    interpolated: int  # words the alignment left out, timed between their neighbours


@dataclass(frozen=True)
class Entry:
    key: str
    path: Path
    meta: SegmentMeta
    offset: int  # where the frames start in the file

    @property
    def words(self) -> list[TimedWord]:
        estimated = self.meta["estimated"]
        return [TimedWord(*w, estimated=estimated) for w in self.meta["words"]]


@dataclass(frozen=True)
class Usage:
    entries: int
    bytes: int
    characters: int  # text the entries hold: what they saved being sent again


class SegmentCache:
    def __init__(self, root: Path | None = None):
        self.root = root or default_root()
        self._segments = self.root / "segments"

    def _path(self, key: str) -> Path:
        return self._segments / key[:2] / f"{key}.seg"

    def put(self, key: str, audio: SegmentAudio, characters: int) -> None:
        meta: SegmentMeta = {
            "bytes": len(audio.frames),
            "sha256": hashlib.sha256(audio.frames).hexdigest(),
            "characters": characters,
            "samples": audio.samples,
            "sample_rate": audio.sample_rate,
            "estimated": audio.estimated,
            "interpolated": audio.interpolated,
            "words": [(w.text, w.start, w.end, w.ends_paragraph) for w in audio.words],
        }
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = MAGIC + json.dumps(meta).encode() + b"\n" + audio.frames
        atomic_write(path, data, replace=self._is_damaged)

    def get(self, key: str, *, verify: bool = True) -> Entry | None:
        """The entry for `key`, or None when there is none or it is damaged
        (then it is deleted). `verify=False` checks sizes but not the digest:
        enough to count what is finished, not to join into a book."""
        entry, damaged = self._inspect(self._path(key), verify)
        if damaged:
            remove_inside(self.root, self._path(key))
        return entry

    def _inspect(self, path: Path, verify: bool) -> tuple[Entry | None, bool]:
        """(the entry, None) or (None, whether what is there is damaged). Only a
        file read and found wrong is damaged: an error opening it (too many open
        files, say) is not a reason to delete finished work."""
        try:
            with open(path, "rb") as f:
                entry = _read_header(path.stem, path, f)
                if entry is None:
                    return None, True
                whole = os.fstat(f.fileno()).st_size == entry.offset + entry.meta["bytes"]
                if whole and verify:
                    whole = _digest(f, entry.meta["bytes"]) == entry.meta["sha256"]
        except OSError:
            return None, False
        return (entry, False) if whole else (None, True)

    def _is_damaged(self, path: Path) -> bool:
        return self._inspect(path, verify=True)[1]

    def copy_frames(self, entry: Entry, out: BinaryIO) -> None:
        """Append the entry's frames to `out`, checking them again as they pass:
        an entry damaged since it was looked up stops the book, never joins it."""
        digest = hashlib.sha256()
        with open(entry.path, "rb") as f:
            f.seek(entry.offset)
            while chunk := f.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != entry.meta["sha256"]:
            remove_inside(self.root, entry.path)
            raise AudioError(f"a cached segment changed on disk while the book was joined "
                             f"({entry.path}): it is removed; run again to make it anew")

    def keys(self) -> Iterator[str]:
        if self._segments.is_dir():
            for path in self._segments.glob("*/*.seg"):
                yield path.stem

    def usage(self, keys: Iterable[str] | None = None) -> Usage:
        """Entries, bytes on disk and characters held: of the whole cache, or of `keys` only.
        It only looks: nothing is deleted, even what is damaged."""
        entries = size = characters = 0
        for key in self.keys() if keys is None else keys:
            entry, _ = self._inspect(self._path(key), verify=False)
            if entry is not None:
                entries += 1
                size += entry.offset + entry.meta["bytes"]
                characters += entry.meta["characters"]
        return Usage(entries, size, characters)

    def prune(self, keep: set[str], *, dry_run: bool = False) -> Usage:
        """Remove every entry whose key is not in `keep`, and temporary files
        left by writers that died; returns what was (or would be) removed."""
        gone = self.usage(set(self.keys()) - keep)
        if not dry_run:
            for key in set(self.keys()) - keep:
                remove_inside(self.root, self._path(key))
            self._remove_strays()
        return gone

    def _remove_strays(self) -> None:
        cutoff = time.time() - STRAY_AFTER_SECONDS
        for part in self._segments.glob("*/.*.part") if self._segments.is_dir() else ():
            try:
                if part.lstat().st_mtime < cutoff:
                    remove_inside(self.root, part)
            except OSError:
                pass  # another run removed or finished it


def _read_header(key: str, path: Path, f: BinaryIO) -> Entry | None:
    if f.read(len(MAGIC)) != MAGIC:
        return None
    line = f.readline(1 << 24)
    try:
        meta = json.loads(line)
        if not (isinstance(meta, dict) and isinstance(meta.get("bytes"), int)
                and isinstance(meta.get("sha256"), str)):
            return None
    except ValueError:
        return None
    # Sizes and digest checked; the rest is as this module wrote it.
    return Entry(key, path, cast(SegmentMeta, meta), len(MAGIC) + len(line))


def _digest(f: BinaryIO, size: int) -> str:
    digest = hashlib.sha256()
    while size > 0 and (chunk := f.read(min(size, 1 << 20))):
        digest.update(chunk)
        size -= len(chunk)
    return digest.hexdigest()


class BookSegments:
    """One book's segments, in order, as the assembler reads them. Holds
    only their keys: each entry's header (its words among it) is read when
    asked for, so memory does not grow with the book."""

    def __init__(self, cache: SegmentCache, keys: list[str], segments: Sequence[Segment] = ()):
        self._cache = cache
        self._keys = keys
        # Segments whose words are not simply what was sent, by index: a lexicon changed them (they
        # are shown as written), or they are runs of paragraphs (only a paragraph's last word ends it).
        self._shaped = {segment.index: segment for segment in segments if segment.reshaped}

    def __len__(self) -> int:
        return len(self._keys)

    def _entry(self, index: int) -> Entry:
        # verify=False: copying the frames checks their digest.
        entry = self._cache.get(self._keys[index], verify=False)
        if entry is None:
            raise AudioError(f"segment {index + 1} left the cache while the book was joined "
                             "(a prune at the same time?): run again to make it anew")
        return entry

    def meta(self, index: int) -> SegmentMeta:
        return self._entry(index).meta

    def words(self, index: int) -> list[TimedWord]:
        """The segment's words as written, on its audio's clock. The cache keeps
        them as sent, so another book that sends the same text shares the entry."""
        words = self._entry(index).words
        segment = self._shaped.get(index)
        if segment is None:
            return words
        if segment.said:
            words = unsaid(words, segment.paragraphs, segment.said)
        return ended(words, segment.paragraphs, segment.ends) if segment.ends else words

    def copy_frames(self, index: int, out: BinaryIO) -> None:
        self._cache.copy_frames(self._entry(index), out)

    def frames(self, index: int) -> bytes:
        buffer = io.BytesIO()
        self.copy_frames(index, buffer)
        return buffer.getvalue()

    def head(self, index: int, size: int = 4) -> bytes:
        """The first bytes of the segment's frames (its first frame header)."""
        entry = self._entry(index)
        with open(entry.path, "rb") as f:
            f.seek(entry.offset)
            return f.read(size)
