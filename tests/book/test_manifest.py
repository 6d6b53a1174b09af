"""A run deletes only what it can prove it made: whatever a manifest in the
output folder says, nothing outside it changes (real files, real runs)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from narrator.book.cache import SegmentCache
from tests.helpers import SAMPLES
from tests.test_cli import narrator


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# Each way a name can reach out of OUT, planted alone: (name, what it would delete).
REACHES = {
    "absolute": (lambda outside: str(outside / "victim.txt"), "victim.txt"),
    "dot-dot": (lambda outside: "../outside/lonely/only.txt", "lonely/only.txt"),
    "through a linked folder": (lambda outside: "link/through-link.txt", "through-link.txt"),
    "a link to a file outside": (lambda outside: "alias.mp3", "victim.txt"),
}


def plant(out: Path, outside: Path, name: str) -> None:
    (outside / "lonely").mkdir(parents=True)
    (outside / "victim.txt").write_text("mine")
    (outside / "lonely" / "only.txt").write_text("alone in its folder")
    (outside / "through-link.txt").write_text("reached through a link")
    (out / "link").symlink_to(outside, target_is_directory=True)
    (out / "alias.mp3").symlink_to(outside / "victim.txt")
    manifest = out / ".short-note.narrator.json"
    recorded = json.loads(manifest.read_text())
    recorded["files"].append(name)
    manifest.write_text(json.dumps(recorded))


@pytest.mark.parametrize("reach", sorted(REACHES))
def test_a_planted_manifest_deletes_nothing_outside_the_output(tmp_path, reach):
    out, outside = tmp_path / "out", tmp_path / "outside"
    made = narrator("narrate", SAMPLES / "short-note.md", "-o", out)
    assert made.returncode == 0, made.stderr
    name, target = REACHES[reach]
    plant(out, outside, name(outside))
    before = snapshot(outside)

    # A run that makes the book again, and removes what the last run made and this one did not.
    again = narrator("narrate", SAMPLES / "short-note.md", "-o", out, "--captions", "srt", "--force")
    assert again.returncode == 0, again.stderr
    assert (outside / target).is_file()
    assert snapshot(outside) == before
    assert (outside / "lonely").is_dir() and (out / "alias.mp3").is_symlink() and (out / "link").is_symlink()
    assert "the manifest names files outside" in again.stderr


def test_files_a_trusted_manifest_names_are_still_removed(tmp_path):
    out = tmp_path / "out"
    assert narrator("narrate", SAMPLES / "short-note.md", "-o", out).returncode == 0
    assert (out / "short-note.vtt").is_file()
    again = narrator("narrate", SAMPLES / "short-note.md", "-o", out, "--captions", "srt")
    assert again.returncode == 0, again.stderr
    assert not (out / "short-note.vtt").exists() and (out / "short-note.srt").is_file()


def test_without_chapter_files_only_the_scaffolding_goes(tmp_path):
    out = tmp_path / "out"
    scaffolding = out / ".short-note.chapters"  # where the chapter files are made when none are kept
    scaffolding.mkdir(parents=True)
    (scaffolding / "notes.txt").write_text("the user's own")
    done = narrator("narrate", SAMPLES / "short-note.md", "-o", out, "--no-chapter-files")
    assert done.returncode == 0, done.stderr
    assert [p.name for p in scaffolding.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("planted", [".narrator.lock", "short-note.mp3.part", "short-note"])
def test_a_planted_link_is_never_written_through(tmp_path, planted):
    """The lock, a part file's name, the chapter folder: a link there never
    lets a write land outside the output folder."""
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    target = outside if planted == "short-note" else outside / "precious.txt"
    (out / planted).symlink_to(target)
    before = snapshot(outside)
    done = narrator("narrate", SAMPLES / "short-note.md", "-o", out)
    assert snapshot(outside) == before
    assert "Traceback" not in done.stderr
    if planted == "short-note.mp3.part":
        assert done.returncode == 0 and (out / "short-note.mp3").is_file()
    else:
        assert done.returncode == 13 and "a link" in done.stderr


def test_cache_prune_removes_nothing_through_a_link_out_of_the_cache(tmp_path, fresh_cache):
    outside = tmp_path / "outside"
    outside.mkdir()
    stranger = outside / ("ab" + "0" * 62 + ".seg")
    stranger.write_bytes(b"not narrator's")
    segments = SegmentCache().root / "segments"
    segments.mkdir(parents=True)
    os.symlink(outside, segments / "ab")
    done = narrator("cache", "prune", "--all")
    assert done.returncode == 0, done.stderr
    assert stranger.read_bytes() == b"not narrator's"
