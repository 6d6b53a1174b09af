"""Files that appear whole or not at all, whenever the process dies, and
files removed only when narrator can prove it made them.

One mechanism for every file narrator writes: the content goes to a
temporary name beside the target, is flushed to disk, and only then takes
the target's name (and that name is flushed too). An earlier file stays
until the new one is whole.

Output and cache folders get shared, synced and unpacked from archives, so
what a file in them says (a manifest's list, a link) is never trusted to
name what to delete: only a regular file, not a link, whose folder stays
inside the root once every link is followed.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePath


def _always(path: Path) -> bool:
    return True


@contextlib.contextmanager
def written_whole(path: Path, *, private: bool = False,
                  replace: Callable[[Path], bool] = _always) -> Iterator[Path]:
    """Yields a temporary path to write (by name: ffmpeg writes it too).
    When the block ends well it is fsynced and becomes `path`; when it does
    not, it is removed.

    The temporary name is `NAME.part`, which the next run overwrites if a
    kill left it behind: right for book files, whose folder has one writer
    (its lock). `private` gives a name of this writer's own instead, for
    files several processes may finish at once (cache entries, reports). An
    existing `path` is replaced only if `replace(path)` says so (the cache
    keeps the first whole entry)."""
    part = _private_name(path) if private else path.with_name(path.name + ".part")
    if not private:
        part.unlink(missing_ok=True)  # a killed run's part, or a link planted there: never written through
    try:
        yield part
        with open(part, "rb+") as written:
            os.fsync(written.fileno())
        _place(part, path, replace)
    finally:
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)


def atomic_write(path: Path, data: bytes, *, replace: Callable[[Path], bool] = _always) -> None:
    """`data` at `path`, whole or not at all, under a private temporary name."""
    with written_whole(path, private=True, replace=replace) as part:
        part.write_bytes(data)


def _private_name(path: Path) -> Path:
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:16]}.", suffix=".part")
    try:
        # mkstemp's 0600 would hide reports and manifests from the user's other readers: the umask decides.
        with contextlib.suppress(OSError):  # a file system without modes (some FAT and network ones)
            os.fchmod(fd, 0o666 & ~_UMASK)
    finally:
        os.close(fd)
    return Path(name)


def _place(part: Path, path: Path, replace: Callable[[Path], bool]) -> None:
    try:
        os.link(part, path)  # never over an existing file: that is replace()'s call
    except FileExistsError:
        if replace(path):
            os.replace(part, path)
    except OSError:  # a file system without hard links (some network and FAT ones)
        if not path.exists() or replace(path):
            os.replace(part, path)
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """The new name itself survives a power cut."""
    with contextlib.suppress(OSError):  # not every platform or file system opens folders
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def inside(root: Path, path: Path) -> bool:
    """Whether `path`, every link in it followed, is `root` or lies under it."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError, ValueError):  # a loop of links, an unreadable folder, a NUL in a name
        return False


def name_inside(root: Path, name: object) -> Path | None:
    """`root / name` when `name` could only mean a place inside `root`: a
    relative path without `..` that stays inside once links are followed."""
    if not isinstance(name, str) or not name:
        return None
    relative = PurePath(name)
    if relative.is_absolute() or ".." in relative.parts:
        return None
    path = root / relative
    return path if inside(root, path) else None


def remove_inside(root: Path, path: Path) -> bool:
    """Delete `path` if it is a regular file (not a link) in a folder inside
    `root`; anything else stays. Whether it was deleted."""
    try:
        if not stat.S_ISREG(path.lstat().st_mode) or not inside(root, path.parent):
            return False
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def remove_empty_folders(root: Path, folders: Iterable[Path]) -> None:
    """Each folder strictly inside `root` (not a link), if it is empty: a
    user's own files stay, and so does their folder."""
    for folder in folders:
        if folder.is_symlink() or not inside(root, folder) or folder.resolve() == root.resolve():
            continue
        with contextlib.suppress(OSError):
            folder.rmdir()


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once, at import, before any thread could race the two calls
