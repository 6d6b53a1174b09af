"""The one exception tree. Every expected failure is a NarratorError.

The CLI prints `str(error)` on one line and exits with `error.exit_code`;
whether a service error is retried is decided here, from its kind, and
nowhere else.
"""

from __future__ import annotations

import contextlib
import enum
import errno
from collections.abc import Iterator
from dataclasses import dataclass


class ExitCode(enum.IntEnum):
    """Documented process exit codes (docs/providers.md, "Exit codes")."""

    OK = 0
    USAGE = 2  # click's own code for bad options
    CONFIG = 3
    DOCUMENT = 4
    SERVICE = 5
    AUTH = 6
    QUOTA = 7
    AUDIO = 8
    LOCKED = 9  # another run holds the book or the jobs folder
    JOBS_FAILED = 10  # `narrator run`: some jobs failed, the others are done
    BUDGET = 11  # stopped before crossing --max-characters or a job's budget
    CHECK_FAILED = 12  # `narrator check`: some file breaks an ACX rule
    IO = 13  # the machine's own files, folders or ports: full disk, permissions, a port in use
    STRICT = 14  # --strict: the book was made, but with warnings (short audio, estimated captions)
    INTERRUPTED = 130


class NarratorError(Exception):
    exit_code = ExitCode.SERVICE


class ConfigError(NarratorError):
    """Bad options, missing keys, unusable endpoints."""

    exit_code = ExitCode.CONFIG


class DocumentError(NarratorError):
    """A document that cannot be read or holds no prose."""

    exit_code = ExitCode.DOCUMENT


class AudioError(NarratorError):
    """Audio that cannot be parsed or assembled."""

    exit_code = ExitCode.AUDIO


class LocalIOError(NarratorError):
    """The operating system refused a file, folder or port: one line naming
    the path and the cause, and what to do."""

    exit_code = ExitCode.IO

    @classmethod
    def of(cls, error: OSError, doing: str = "") -> LocalIOError:
        cause = (error.strerror or str(error) or type(error).__name__).rstrip(".")
        where = str(error.filename) if error.filename is not None else ""
        if error.filename2 is not None:
            where += f" -> {error.filename2}"
        what = ": ".join(part for part in (doing, where) if part)
        advice = _OS_ADVICE.get(error.errno or 0, "")
        return cls(f"{what}: {cause}{advice}" if what else f"{cause}{advice}")


_KEPT = "; finished segments are kept in the cache"
_OS_ADVICE = {
    errno.ENOSPC: f"{_KEPT}: free some space, then run the same command again",
    errno.EDQUOT: f"{_KEPT}: free some space, then run the same command again",
    errno.EFBIG: f" (a file-size limit){_KEPT}: raise the limit (ulimit -f), then run the same command again",
    errno.EACCES: ": check the permissions of that path",
    errno.EPERM: ": check the permissions of that path",
    errno.EROFS: ": the file system is read-only; choose another output folder",
    errno.ENOTDIR: ": a file stands where a folder should be; choose another output folder",
    errno.EISDIR: ": a folder stands where a file should be",
    errno.EADDRINUSE: ": another program listens there; choose another --port (0 picks a free one)",
}


@contextlib.contextmanager
def os_errors(doing: str = "") -> Iterator[None]:
    """Operating-system failures inside the block leave as one-line LocalIOErrors."""
    try:
        yield
    except OSError as error:
        raise LocalIOError.of(error, doing) from error


class StrictError(NarratorError):
    """--strict: a book made with warnings (audio still short, captions
    estimated) counts as failed. Its files are written all the same."""

    exit_code = ExitCode.STRICT


class LockedError(NarratorError):
    """Another live run holds the lock on this output or jobs folder."""

    exit_code = ExitCode.LOCKED


class BudgetError(NarratorError):
    """Sending the next segment would cross the character budget."""

    exit_code = ExitCode.BUDGET


class RetryCapError(NarratorError):
    """Sending a failed segment again would cross what retries may cost
    (--max-retry-characters): the run stops there, its finished work kept."""

    exit_code = ExitCode.SERVICE

    def __init__(self, last: ServiceError):
        super().__init__(str(last))
        self.last = last


class ErrorKind(enum.Enum):
    AUTH = "auth"
    QUOTA = "quota"
    RATE_LIMIT = "rate-limit"
    TRANSIENT = "transient"
    PROTOCOL = "protocol"
    INPUT = "input"


RETRYABLE = frozenset({ErrorKind.RATE_LIMIT, ErrorKind.TRANSIENT, ErrorKind.PROTOCOL})
# A protocol error (a frame we cannot read, a message too big) rarely heals:
# one more try tells a corrupted frame from a service we do not understand.
PROTOCOL_ATTEMPTS = 2
# Kinds that end the whole run at once: no other segment can succeed either.
FATAL = frozenset({ErrorKind.AUTH, ErrorKind.QUOTA, ErrorKind.INPUT})

_KIND_EXIT = {
    ErrorKind.AUTH: ExitCode.AUTH,
    ErrorKind.QUOTA: ExitCode.QUOTA,
}


class ServiceError(NarratorError):
    """A failure talking to a text-to-speech service, classified by kind."""

    def __init__(self, kind: ErrorKind, message: str):
        super().__init__(message)
        self.kind = kind

    @property
    def exit_code(self) -> ExitCode:  # type: ignore[override]
        return _KIND_EXIT.get(self.kind, ExitCode.SERVICE)

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE


def is_retryable(error: BaseException) -> bool:
    """Whether an error's kind is ever worth another attempt."""
    return isinstance(error, ServiceError) and error.retryable


@dataclass(frozen=True)
class Failure:
    """One failed attempt at a segment: its kind, and whether the segment's
    text had gone on the wire, so the service may bill it. A refused
    handshake or a rate-limit refusal costs nothing; a drop, a close, a
    stall or a garbled frame after the text was sent may."""

    kind: ErrorKind
    billed: bool


# By default a segment is given up after this many failures that may have been
# billed: one the service fails the same way every time must not cost the book twice.
BILLED_ATTEMPTS = 3
# Failures that cost nothing are retried, with backoff, for this many stall
# timeouts (two minutes at the default 30 s): a service refusing work longer is down.
UNBILLED_RETRY_STALLS = 4


def should_retry(error: BaseException, failures: list[Failure], waited: float, *,
                 billed_attempts: int = BILLED_ATTEMPTS, unbilled_seconds: float = 120.0) -> bool:
    """The single retry decision for one segment, given its failures so far
    (this one included), the seconds since its first failure, how many
    billed failures it may have and how long unbilled ones may go on."""
    if not is_retryable(error):
        return False
    if sum(f.kind is ErrorKind.PROTOCOL for f in failures) >= PROTOCOL_ATTEMPTS:
        return False
    if sum(f.billed for f in failures) >= billed_attempts:
        return False
    return failures[-1].billed or waited < unbilled_seconds


def is_billed(kind: ErrorKind, sent: bool) -> bool:
    """Whether a failure may cost characters: the text was sent, and the service did not refuse the work."""
    return sent and kind is not ErrorKind.RATE_LIMIT


def is_fatal(error: BaseException) -> bool:
    """Whether an error stops the whole run rather than one segment."""
    return isinstance(error, ServiceError) and error.kind in FATAL
