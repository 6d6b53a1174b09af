"""Finished segments on disk: audio frames plus timed words, written atomically.

Segments finish out of order; keeping them on disk rather than in memory
keeps memory flat however long the book is, and nothing finished is lost
if a later segment fails.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from narrator.errors import AudioError
from narrator.timeline import SegmentAudio, TimedWord


def atomic_write(path: Path, data: bytes) -> None:
    part = path.with_name(path.name + ".part")
    with open(part, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(part, path)


class SegmentStore:
    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)  # the output folder too

    def _paths(self, index: int) -> tuple[Path, Path]:
        stem = self.root / f"segment-{index:06d}"
        return stem.with_suffix(".mp3"), stem.with_suffix(".json")

    def put(self, index: int, audio: SegmentAudio, key: str = "") -> None:
        frames, meta = self._paths(index)
        atomic_write(frames, audio.frames)
        record = {
            "key": key,
            "bytes": len(audio.frames),
            "samples": audio.samples,
            "sample_rate": audio.sample_rate,
            "estimated": audio.estimated,
            "words": [[w.text, w.start, w.end, w.ends_paragraph] for w in audio.words],
        }
        # The metadata is written last: its presence means the segment is whole.
        atomic_write(meta, json.dumps(record).encode())

    def has(self, index: int, key: str) -> bool:
        """Whether segment `index` is finished for exactly this text and these
        settings, with its audio file whole."""
        frames, meta = self._paths(index)
        try:
            record = json.loads(meta.read_bytes())
            return record.get("key") == key and frames.stat().st_size == record.get("bytes")
        except (OSError, ValueError):
            return False

    def meta(self, index: int) -> dict:
        try:
            return json.loads(self._paths(index)[1].read_bytes())
        except (OSError, ValueError) as exc:
            raise AudioError(f"segment {index + 1} is missing from {self.root}: run again to re-make it") from exc

    def words(self, index: int) -> list[TimedWord]:
        return [TimedWord(*w) for w in self.meta(index)["words"]]

    def copy_frames(self, index: int, out) -> None:
        with open(self._paths(index)[0], "rb") as f:
            shutil.copyfileobj(f, out, 1 << 20)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
