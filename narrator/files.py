"""Files that appear whole or not at all."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def written_whole(path: Path) -> Iterator[Path]:
    """Yields `path.part` to write; renamed to `path` when the block ends
    well, removed when it does not, so `path` is never half a file and an
    earlier `path` stays until the new one is complete."""
    part = path.with_name(path.name + ".part")
    try:
        yield part
    except BaseException:
        with contextlib.suppress(OSError):  # the part may never have been made (a name too long, say)
            part.unlink(missing_ok=True)
        raise
    os.replace(part, path)
