"""Running job files unattended: `narrator run` and `narrator status`.

Each job runs in turn under the lock of its output folder; each of its books
is narrated unless its files are up to date (made from exactly the segments
and settings planned now). A job's failure is recorded beside its output
and the run goes on with the next job; an exhausted quota, or the run's own
budget, stops the run. Nothing here decides a retry or touches a socket:
that is the runner's and the pool's.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from narrator.book.cache import SegmentCache
from narrator.book.lock import FolderLock
from narrator.book.manifest import recorded_warnings
from narrator.book.plan import PlannedBook
from narrator.client.budget import Budget
from narrator.errors import (
    BudgetError,
    ErrorKind,
    ExitCode,
    LocalIOError,
    LockedError,
    NarratorError,
    ServiceError,
    StrictError,
    os_errors,
)
from narrator.files import atomic_write
from narrator.jobs import pricing
from narrator.jobs.estimate import quota_warning
from narrator.jobs.jobfile import Job, find_jobs, load_job
from narrator.keys import redact
from narrator.runner import Spent, is_up_to_date, narrate_planned, read_and_plan

log = logging.getLogger("narrator")

# What a job came to, and the exit code it asks for; the run exits with the first that applies.
STOPPED_ON_QUOTA, OVER_BUDGET, FAILED, STRICT, LOCKED, DONE, WARNED = (
    "stopped on quota", "over budget", "failed", "failed on warnings", "locked", "done", "done with warnings")
EXIT_ORDER = ((STOPPED_ON_QUOTA, ExitCode.QUOTA), (OVER_BUDGET, ExitCode.BUDGET),
              (FAILED, ExitCode.JOBS_FAILED), (STRICT, ExitCode.STRICT), (LOCKED, ExitCode.LOCKED))


@dataclass
class BookReport:
    input: str
    made: bool  # False: its files were up to date, nothing was sent
    characters_sent: int = 0
    characters_from_cache: int = 0
    audio_seconds: float = 0.0
    retries: int = 0
    warnings: list[str] = field(default_factory=list)  # short audio, estimated captions


@dataclass
class JobReport:
    job: str
    state: str = DONE
    error: str | None = None
    books: list[BookReport] = field(default_factory=list)
    wall_seconds: float = 0.0
    billed_characters: int = 0
    price_plan: str = ""
    estimated_cost_usd: float = 0.0

    @property
    def name(self) -> str:
        return Path(self.job).stem

    @property
    def warnings(self) -> list[str]:
        return [f"{Path(book.input).name}: {w}" for book in self.books for w in book.warnings]

    def total(self, name: str):
        return sum(getattr(book, name) for book in self.books)

    def as_dict(self) -> dict:
        data = asdict(self)
        for name in ("characters_sent", "characters_from_cache", "audio_seconds", "retries"):
            data[name] = round(self.total(name), 3)
        return data

    def line(self) -> str:
        """The one line a log reader needs."""
        made = sum(book.made for book in self.books)
        head = f"{self.name}: {self.state}"
        if self.error or self.warnings:
            head += f" ({self.error or '; '.join(self.warnings)})"
        if not made:
            return head + ("; every book up to date, nothing sent"
                           if self.state == DONE and self.books else "")
        return (f"{head}; {made} of {len(self.books)} books made, "
                f"{self.total('audio_seconds') / 60:.1f} min of audio, "
                f"{self.total('characters_sent'):,} characters sent, "
                f"{self.total('characters_from_cache'):,} from the cache, "
                f"{self.total('retries')} retries, {self.wall_seconds:.1f} s, "
                f"about ${self.estimated_cost_usd:.2f} ({self.price_plan} plan)")


@dataclass
class RunReport:
    started: str
    jobs: list[JobReport] = field(default_factory=list)
    finished: str = ""
    exit_code: int = 0

    def write(self, path: Path) -> None:
        data = {"started": self.started, "finished": self.finished, "exit_code": self.exit_code,
                "jobs": [job.as_dict() for job in self.jobs]}
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, (json.dumps(data, indent=2) + "\n").encode())


def run_jobs(targets: list[Path], *, max_characters: int | None = None, prices: dict | None = None,
             progress: bool = True, on_job=lambda report: None) -> RunReport:
    """Run every job found in `targets`, in order; `on_job` hears each report as it is made."""
    prices = prices or pricing.default_prices()
    report = RunReport(started=_now())
    budget = Budget(max_characters)
    cache = SegmentCache()
    for path in find_jobs(*targets):
        job_report = _run_job(path, cache, budget, prices, progress)
        report.jobs.append(job_report)
        on_job(job_report)
        if job_report.state == STOPPED_ON_QUOTA or budget.closed:
            break
    report.finished = _now()
    states = {job.state for job in report.jobs}
    report.exit_code = next((int(code) for state, code in EXIT_ORDER if state in states), 0)
    return report


def _run_job(path: Path, cache: SegmentCache, run_budget: Budget, prices: dict, progress: bool) -> JobReport:
    report = JobReport(str(path))
    started = time.monotonic()
    try:
        job = load_job(path, progress=progress)
    except NarratorError as error:
        report.state, report.error = FAILED, redact(str(error))
        return report
    try:
        # An unknown plan fails before, not after.
        pricing.estimate_price(job.options.provider, job.plan, 0, prices)
        with os_errors(), FolderLock(job.output, command=f"narrator run {path}"):
            _run_books(job, report, cache, Budget(job.budget, parent=run_budget))
    except NarratorError as error:
        report.state, report.error = _state_of(error), redact(str(error))
    report.wall_seconds = time.monotonic() - started
    model = job.options.service_settings().model
    report.billed_characters = pricing.billed_characters(job.options.provider, model,
                                                         report.total("characters_sent"))
    with contextlib.suppress(NarratorError):  # an unknown plan: the job failed for it already
        report.price_plan, report.estimated_cost_usd = pricing.estimate_price(
            job.options.provider, job.plan, report.billed_characters, prices)
    if report.state != LOCKED:  # the record is the lock holder's to write
        _record(job, report)
    return report


def _run_books(job: Job, report: JobReport, cache: SegmentCache, budget: Budget) -> None:
    """Every book of the job; a book that fails is logged and the others go on,
    unless no other book could do better (quota, key, budget)."""
    failure: NarratorError | None = None
    for document in job.inputs:
        spent = Spent()
        try:
            planned = read_and_plan(document, job.options)
            result = narrate_planned(planned, document.stem, job.options, cache=cache, budget=budget,
                                     spent=spent,
                                     before_sending=_quota_check(job, cache) if job.check_quota else None)
        except NarratorError as error:
            report.books.append(BookReport(str(document), False, spent.characters_sent,
                                           spent.cached_characters, retries=spent.retries,
                                           warnings=recorded_warnings(job.output, document.stem)
                                           if isinstance(error, StrictError) else []))
            if (_state_of(error) not in (FAILED, STRICT)
                    or (isinstance(error, ServiceError) and error.kind is ErrorKind.AUTH)):
                raise
            log.warning("%s: %s", document, redact(str(error)))
            # A real failure says more than a book refused for its warnings.
            failure = error if failure is None or isinstance(failure, StrictError) else failure
            continue
        if result is None:  # up to date
            report.books.append(BookReport(str(document), made=False,
                                           warnings=recorded_warnings(job.output, document.stem)))
            continue
        report.books.append(BookReport(str(document), True, result.characters_sent, result.cached_characters,
                                       result.audio_seconds, result.retries, result.warnings))
    if report.warnings and report.state == DONE:
        report.state = WARNED
    if failure is not None:
        raise failure


def _state_of(error: NarratorError) -> str:
    if isinstance(error, ServiceError) and error.kind is ErrorKind.QUOTA:
        return STOPPED_ON_QUOTA
    if isinstance(error, BudgetError):
        return OVER_BUDGET
    if isinstance(error, LockedError):
        return LOCKED
    if isinstance(error, StrictError):
        return STRICT
    return FAILED


def _quota_check(job: Job, cache: SegmentCache) -> Callable[[PlannedBook], None]:
    """Warns, before a book is made, when what it would send does not fit the remaining quota."""

    def warn(planned: PlannedBook) -> None:
        to_send = planned.characters_of(planned.unfinished(cache))
        billed = pricing.billed_characters(job.options.provider, job.options.service_settings().model,
                                           to_send)
        warning = quota_warning(job.options, billed)
        if warning:
            log.warning("%s: %s", job.path, warning)

    return warn


def _record(job: Job, report: JobReport) -> None:
    """The job's last outcome beside its output, for `status` to tell; an
    output folder that cannot hold it (a file stands there, say) is logged."""
    record = {"state": report.state, "error": report.error, "at": _now()}
    try:
        job.output.mkdir(parents=True, exist_ok=True)
        atomic_write(_record_path(job.output, job.path), json.dumps(record).encode())
    except OSError as error:
        log.warning("%s: %s", job.path, LocalIOError.of(error, "could not record the outcome"))


def _record_path(output: Path, job_path: Path) -> Path:
    return output / f".{job_path.stem}.narrator-job.json"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# `narrator status`


def job_status(path: Path, cache: SegmentCache) -> str:
    """One line: done (with warnings, if any), pending, partial (segments
    finished of all), or failed (why)."""
    try:
        job = load_job(path, progress=False)
        books = [read_and_plan(d, job.options) for d in job.inputs]
    except NarratorError as error:
        return f"{path.stem}: failed ({redact(str(error))})"
    stale = [(d, b) for d, b in zip(job.inputs, books) if not is_up_to_date(b, job.options, d.stem)]
    if not stale:
        up_to_date = f"{len(books)} book{'s' if len(books) != 1 else ''} up to date"
        warnings = [f"{d.name}: {w}" for d in job.inputs for w in recorded_warnings(job.output, d.stem)]
        if warnings:
            return f"{path.stem}: done with warnings: {'; '.join(warnings)} ({up_to_date})"
        return f"{path.stem}: done ({up_to_date})"
    total = sum(len(b.segments) for _, b in stale)
    finished = total - sum(len(b.unfinished(cache)) for _, b in stale)
    counts = f"{finished} of {total} segments finished in {len(stale)} of {len(books)} books"
    last = _last_record(job.output, path)
    if last.get("state") not in (None, DONE, WARNED):
        return f"{path.stem}: {last['state']} ({last.get('error')}); {counts}"
    if finished == total:
        return f"{path.stem}: pending ({counts}: only the book files are to be made, nothing to send)"
    return f"{path.stem}: {'partial' if finished else 'pending'} ({counts})"


def _last_record(output: Path, job_path: Path) -> dict:
    try:
        return json.loads(_record_path(output, job_path).read_bytes())
    except (OSError, ValueError):
        return {}
