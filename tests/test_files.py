"""Files that appear whole or not at all (narrator/files.py), on a real disk."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from narrator.files import atomic_write, written_whole


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_writer_that_fails_leaves_the_earlier_file_and_no_part(tmp_path):
    book = tmp_path / "book.mp3"
    book.write_bytes(b"the earlier book")
    with pytest.raises(RuntimeError), written_whole(book) as part:
        part.write_bytes(b"half a bo")
        raise RuntimeError("killed")
    assert book.read_bytes() == b"the earlier book"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.mp3"]


def test_a_part_left_by_a_killed_run_is_overwritten_by_the_next(tmp_path):
    book = tmp_path / "book.mp3"
    (tmp_path / "book.mp3.part").write_bytes(b"what a killed run left, and longer than the book")
    with written_whole(book) as part, open(part, "wb") as out:
        out.write(b"whole")
    assert book.read_bytes() == b"whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.mp3"]


def test_the_first_whole_entry_stays_when_replace_says_no(tmp_path):
    entry = tmp_path / "entry.seg"
    atomic_write(entry, b"first", replace=lambda path: False)
    atomic_write(entry, b"second", replace=lambda path: False)
    assert entry.read_bytes() == b"first"
    atomic_write(entry, b"third")
    assert entry.read_bytes() == b"third"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry.seg"]


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_take_the_users_umask(tmp_path, umask, expected):
    """A process started under a umask writes both kinds of file with the mode that umask gives."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from narrator.files import atomic_write, written_whole\n"
        "folder = Path(sys.argv[1])\n"
        "atomic_write(folder / 'report.json', b'{}')\n"
        "with written_whole(folder / 'book.mp3') as part:\n"
        "    part.write_bytes(b'audio')\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, timeout=60,
                   preexec_fn=lambda: os.umask(umask))
    assert mode(tmp_path / "report.json") == expected
    assert mode(tmp_path / "book.mp3") == expected
