"""The manifest beside a book's files (`OUT/.STEM.narrator.json`): the
digest of what they were made from, and which files they are. Equal
digests, same files: the book is up to date and nothing is made again."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from narrator.book.plan import PlannedBook
from narrator.files import atomic_write, name_inside, remove_empty_folders, remove_inside

log = logging.getLogger("narrator")


def digest(planned: PlannedBook, choices: Sequence[object]) -> str:
    """What a book's files are made from: its segments (text and sound
    settings, through their keys), tags, cover and chapter titles, and the
    `choices` that shape the files (formats, pauses, mastering...)."""
    book = planned.book
    cover = hashlib.sha256(book.cover.data).hexdigest() if book.cover else None
    # A segment's key is what it sends; where a lexicon or a change of voice makes that differ from
    # what is written (and shown in captions), the written words and paragraph ends count too.
    shaped = [[s.index, s.paragraphs, s.ends] for s in planned.segments if s.reshaped]
    basis = [planned.keys, book.title, book.author, book.language, cover, [c.title for c in book.chapters],
             *choices, *([shaped] if shaped else [])]
    return hashlib.sha256(json.dumps(basis).encode()).hexdigest()


def _path(out_dir: Path, stem: str) -> Path:
    return out_dir / f".{stem}.narrator.json"


def _read(out_dir: Path, stem: str) -> dict[str, Any]:
    try:
        manifest = json.loads(_path(out_dir, stem).read_bytes())
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def recorded_files(out_dir: Path, stem: str) -> list[Path] | None:
    """The files the last complete run made for this book, or None when the
    manifest names anything that is not a place inside the output folder
    (an absolute path, `..`, a link out): then it is not narrator's, and
    none of it is trusted."""
    return _files(out_dir, stem, _read(out_dir, stem))


def _files(out_dir: Path, stem: str, recorded: dict[str, Any]) -> list[Path] | None:
    names = recorded.get("files", [])
    if not isinstance(names, list):
        return None
    paths = [name_inside(out_dir, name) for name in names]
    if None in paths:
        log.warning("%s: the manifest names files outside %s; it is ignored and nothing it names is removed",
                    _path(out_dir, stem), out_dir)
        return None
    return [path for path in paths if path is not None]


def is_up_to_date(out_dir: Path, stem: str, made_from: str) -> bool:
    """Whether the book's files are all there and were made from exactly `made_from`."""
    recorded = _read(out_dir, stem)
    if recorded.get("digest") != made_from:
        return False
    files = _files(out_dir, stem, recorded)
    return files is not None and all(p.is_file() for p in files)


def recorded_warnings(out_dir: Path, stem: str) -> list[str]:
    """The warnings the book's files were made with (short audio, estimated captions)."""
    warnings = _read(out_dir, stem).get("warnings", [])
    return [w for w in warnings if isinstance(w, str)] if isinstance(warnings, list) else []


def forget(out_dir: Path, stem: str) -> list[Path]:
    """Drop the manifest before files are replaced, so files half replaced by
    a run that fails never pass for the old ones; gives the files it listed."""
    earlier = recorded_files(out_dir, stem) or []
    _path(out_dir, stem).unlink(missing_ok=True)
    return earlier


def record(out_dir: Path, stem: str, made_from: str, written: list[Path], warnings: list[str]) -> None:
    """What the files were made from, which they are, and what was not as it should be in them."""
    names = [str(path.relative_to(out_dir)) for path in written]
    manifest = {"digest": made_from, "files": names, "warnings": warnings}
    atomic_write(_path(out_dir, stem), json.dumps(manifest, ensure_ascii=False).encode())


def remove_unmade(out_dir: Path, paths: Iterable[Path]) -> None:
    """Files an earlier run made and this one did not (a renamed chapter, a
    caption format no longer asked for), and their folders once empty:
    regular files inside the output folder only, checked again as they go."""
    paths = set(paths)
    for path in paths:
        remove_inside(out_dir, path)
    remove_empty_folders(out_dir, {path.parent for path in paths})
