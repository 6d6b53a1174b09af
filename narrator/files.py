"""Files that appear whole or not at all, whenever the process dies.

One mechanism for every file narrator writes: the content goes to a
temporary name of this writer's own beside the target (two runs finishing
one file never write into each other), is flushed to disk, and only then
takes the target's name. An earlier file stays until the new one is whole.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


def _always(path: Path) -> bool:
    return True


@contextlib.contextmanager
def written_whole(path: Path, *, replace: Callable[[Path], bool] = _always) -> Iterator[Path]:
    """Yields a temporary path to write (by name: ffmpeg writes it too).
    When the block ends well it is fsynced and becomes `path`; when it does
    not, it is removed. An existing `path` is replaced only if
    `replace(path)` says so (the cache keeps the first whole entry)."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:16]}.", suffix=".part")
    part = Path(name)
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide books, reports and manifests from other readers
        os.close(fd)
        yield part
        with open(part, "rb+") as written:
            os.fsync(written.fileno())
        try:
            os.link(part, path)  # never over an existing file: that is replace()'s call
        except FileExistsError:
            if replace(path):
                os.replace(part, path)
        except OSError:  # a file system without hard links (some network and FAT ones)
            if not path.exists() or replace(path):
                os.replace(part, path)
    finally:
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)


def atomic_write(path: Path, data: bytes, *, replace: Callable[[Path], bool] = _always) -> None:
    """`data` at `path`, whole or not at all."""
    with written_whole(path, replace=replace) as part:
        part.write_bytes(data)
