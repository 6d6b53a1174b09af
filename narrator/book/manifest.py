"""The manifest beside a book's files (`OUT/.STEM.narrator.json`): the
digest of what they were made from, and which files they are. Equal
digests, same files: the book is up to date and nothing is made again."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from narrator.book.plan import PlannedBook
from narrator.files import atomic_write


def digest(planned: PlannedBook, choices: Sequence[object]) -> str:
    """What a book's files are made from: its segments (text and sound
    settings, through their keys), tags, cover and chapter titles, and the
    `choices` that shape the files (formats, pauses, mastering...)."""
    book = planned.book
    cover = hashlib.sha256(book.cover.data).hexdigest() if book.cover else None
    basis = [planned.keys, book.title, book.author, book.language, cover, [c.title for c in book.chapters],
             *choices]
    return hashlib.sha256(json.dumps(basis).encode()).hexdigest()


def _path(out_dir: Path, stem: str) -> Path:
    return out_dir / f".{stem}.narrator.json"


def _read(out_dir: Path, stem: str) -> dict[str, Any]:
    try:
        manifest = json.loads(_path(out_dir, stem).read_bytes())
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def recorded_files(out_dir: Path, stem: str) -> list[Path]:
    """The files the last complete run made for this book (names inside the output folder only)."""
    names = _read(out_dir, stem).get("files", [])
    return [out_dir / name for name in names if isinstance(name, str) and ".." not in Path(name).parts]


def is_up_to_date(out_dir: Path, stem: str, made_from: str) -> bool:
    """Whether the book's files are all there and were made from exactly `made_from`."""
    recorded = _read(out_dir, stem).get("digest")
    return recorded == made_from and all(p.is_file() for p in recorded_files(out_dir, stem))


def forget(out_dir: Path, stem: str) -> list[Path]:
    """Drop the manifest before files are replaced, so files half replaced by
    a run that fails never pass for the old ones; gives the files it listed."""
    earlier = recorded_files(out_dir, stem)
    _path(out_dir, stem).unlink(missing_ok=True)
    return earlier


def record(out_dir: Path, stem: str, made_from: str, written: list[Path]) -> None:
    names = [str(path.relative_to(out_dir)) for path in written]
    manifest = {"digest": made_from, "files": names}
    atomic_write(_path(out_dir, stem), json.dumps(manifest, ensure_ascii=False).encode())


def remove_unmade(paths: Iterable[Path]) -> None:
    """Files an earlier run made and this one did not (a renamed chapter, a
    caption format no longer asked for), and their folders once empty."""
    paths = set(paths)
    for path in paths:
        path.unlink(missing_ok=True)
    for folder in {path.parent for path in paths}:
        with contextlib.suppress(OSError):  # only when empty: a user's own files stay, and their folder
            folder.rmdir()
