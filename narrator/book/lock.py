"""One run at a time per output folder.

The lock is an `fcntl.flock` on `FOLDER/.narrator.lock`. The kernel drops a
flock when the process holding it dies, however it dies (kill -9, a power cut
of the process), so a stale lock needs no cleanup, no timeout and no guess
about whether its holder is still alive: the next run simply takes it. The
file also holds a small JSON record of the holder (pid, host, start time,
command) so a refused run can say who it is waiting for; the record is only
ever informative, never what decides.

flock is per open file description: two FolderLock objects in one process
exclude each other just as two processes do.

Limitation: flock is local to one machine. On NFS it is either emulated with
POSIX locks or not shared between hosts at all, so two runs on different hosts
writing into one network folder are not kept apart.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

from narrator.errors import LocalIOError, LockedError

LOCK_NAME = ".narrator.lock"

log = logging.getLogger("narrator")


class FolderLock:
    """`with FolderLock(folder): ...` holds `folder` for this run, or raises LockedError."""

    def __init__(self, folder: Path, command: str | None = None):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.command = command
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this FolderLock")
        self.folder.mkdir(parents=True, exist_ok=True)
        # No O_TRUNC: until we hold the lock, the record belongs to the holder.
        # No link followed: a planted link must not let the record land outside the folder.
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except OSError as error:
            if error.errno != errno.ELOOP:
                raise
            raise LocalIOError(f"{self.path} is a link, not narrator's lock: "
                               "remove it, then run again") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_record(fd)
            os.close(fd)
            raise LockedError(f"{self.folder} is being narrated by {_describe(holder)}: "
                              "this run leaves it alone; try again when that one ends") from None
        except BaseException:
            os.close(fd)
            raise
        # A record still here was left by a run that died holding the lock:
        # a clean release empties it (see release).
        previous = _read_record(fd)
        if previous and previous.get("host") == socket.gethostname() and _dead(previous.get("pid")):
            log.info("taking over the lock on %s left by pid %s, which is no longer running",
                     self.folder, previous["pid"])
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": self.command,
        }
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode() + b"\n", 0)
            os.fsync(fd)
        except OSError:
            pass  # the record only explains a refusal; holding the lock is what counts
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            # Empty the record while still holding the lock, so the next run
            # does not mistake a clean exit for a holder that died.
            os.ftruncate(fd, 0)
        except OSError:
            pass
        # The file itself stays. Deleting it would race: a run waiting on (or
        # about to lock) the old inode would then hold a lock on a file no
        # longer in the folder, while a third run creates a fresh file and
        # locks that one too -- two holders at once.
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_record(fd: int) -> dict[str, object] | None:
    """The holder's record, or None when it is empty, half written or not JSON."""
    try:
        record = json.loads(os.pread(fd, 4096, 0))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _dead(pid: object) -> bool:
    """Whether `pid` (on this host) names no running process."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    return False


def _describe(holder: dict[str, object] | None) -> str:
    if not holder or not isinstance(holder.get("pid"), int):
        return "another run"
    # The holder may not have written its own record yet: one naming a dead
    # process on this host is the previous holder's, not the current one's.
    if holder.get("host") == socket.gethostname() and _dead(holder["pid"]):
        return "another run"
    since = holder.get("started", "?")
    return f"another run (pid {holder['pid']} on {holder.get('host', '?')} since {since})"
