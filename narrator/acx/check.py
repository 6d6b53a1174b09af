"""`narrator check`: decode MP3 files and judge them against the ACX rules.

One file, or a folder: every *.mp3 in it in name order (`.part` files are
unfinished writes and never match; hidden files are skipped), plus the
chapter files of a whole-book `STEM.mp3` kept beside it in the folder
`STEM/`, as `narrator` writes them.
Each file is read once: its frames' headers give the stream facts as the
frames pass on to be decoded, block by block, for the levels.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from narrator.acx.rules import Levels, RuleResult, StreamFacts, channel_name, judge, judge_book
from narrator.audio.mp3 import FrameHeader, parse_header
from narrator.audio.pcm import decode_batches, read_frames
from narrator.errors import AudioError, DocumentError, ExitCode

__all__ = [
    "BookReport",
    "FileReport",
    "check_file",
    "check_paths",
    "format_report",
    "measure",
    "report_json",
]


@dataclass(frozen=True)
class FileReport:
    name: str  # as shown: relative to the folder checked
    path: Path
    facts: StreamFacts | None = None
    results: tuple[RuleResult, ...] = ()
    error: str | None = None  # the file could not be read; then it fails

    @property
    def passed(self) -> bool:
        return self.error is None and all(r.passed for r in self.results)

    @property
    def failures(self) -> list[RuleResult]:
        return [r for r in self.results if not r.passed]


@dataclass(frozen=True)
class BookReport:
    files: tuple[FileReport, ...]
    book: tuple[RuleResult, ...]  # rules across files: channels

    @property
    def passed(self) -> bool:
        return all(f.passed for f in self.files) and all(r.passed for r in self.book)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.passed else ExitCode.CHECK_FAILED


class _Watch:
    """Stream facts from the frame headers as the frames pass to the decoder."""

    def __init__(self) -> None:
        self.first: FrameHeader | None = None
        self.bitrates: set[int] = set()
        self.samples = 0

    def frames(self, frames: Iterable[bytes]) -> Iterator[bytes]:
        for frame in frames:
            header = parse_header(frame)
            assert header is not None, "FrameReader yields whole frames"
            self.first = self.first or header
            self.bitrates.add(header.bitrate)
            self.samples += header.samples
            yield frame

    def facts(self) -> StreamFacts:
        first = self.first
        assert first is not None, "facts of a stream with frames"
        return StreamFacts(first.sample_rate, first.channels, frozenset(self.bitrates),
                           self.samples / first.sample_rate, first.layer)


def measure(path: Path) -> tuple[StreamFacts, Levels]:
    """One pass over the file: its frames' facts and its decoded levels."""
    with open(path, "rb") as head:
        if head.read(4) == b"PK\x03\x04":  # an EPUB or other zip: it may store MP3s, but it is none
            raise AudioError(f"{path}: a zip archive (an EPUB?), not an MP3 file")
    watch, levels = _Watch(), None
    for block in decode_batches(watch.frames(read_frames(path))):
        if levels is None:
            assert watch.first is not None, "a decoded block's frames have passed the watch"
            levels = Levels(watch.first.sample_rate, block.shape[1])
        levels.add(block)
    if watch.first is None or levels is None:
        raise AudioError(f"{path}: no MPEG audio frames found: this is not an MP3 file")
    return watch.facts(), levels


def check_file(path: Path, name: str | None = None) -> FileReport:
    """Judge one MP3 file; AudioError if it cannot be read as one."""
    try:
        facts, levels = measure(path)
    except AudioError as error:
        message = str(error)
        raise AudioError(message if str(path) in message else f"{path}: {message}") from None
    return FileReport(name or path.name, path, facts, tuple(judge(levels, facts)))


def _checked(path: Path, name: str) -> FileReport:
    """In a folder, one unreadable file fails that file, not the whole check."""
    try:
        return check_file(path, name)
    except AudioError as error:
        return FileReport(name, path, error=str(error))


def _is_mp3(path: Path) -> bool:
    # Hidden names are other programs' leftovers (macOS "._" files) or a
    # run's own scratch; `.part` files end in .part and never match.
    return path.suffix.lower() == ".mp3" and not path.name.startswith(".") and path.is_file()


def folder_files(folder: Path) -> list[Path]:
    """The folder's MP3s in name order, each whole-book STEM.mp3 followed by
    the chapter files in STEM/."""
    files = []
    for path in sorted(p for p in folder.iterdir() if _is_mp3(p)):
        files.append(path)
        chapters = folder / path.stem
        if chapters.is_dir():
            files += sorted(p for p in chapters.iterdir() if _is_mp3(p))
    return files


def check_paths(path: str | Path) -> BookReport:
    """Check one MP3 file or a folder of them; the channels rule spans them all."""
    path = Path(path)
    if not path.exists():
        raise DocumentError(f"{path}: no such file or folder: give an MP3 file or a folder of them")
    if path.is_dir():
        files = folder_files(path)
        if not files:
            raise DocumentError(f"{path}: no .mp3 files in this folder: "
                                "give the folder narrator wrote the book to")
        # One file at a time: each one's decoding already uses both cores.
        reports = tuple(_checked(f, f.relative_to(path).as_posix()) for f in files)
    else:
        reports = (check_file(path),)
    readable = {r.name: r.facts.channels for r in reports if r.facts is not None}
    return BookReport(reports, (judge_book(readable),) if readable else ())


# ---- the report a person reads ------------------------------------------------

_COLUMNS = (("rms", "RMS dB"), ("peak", "peak dB"), ("noise-floor", "floor dB"), ("head", "head s"),
            ("tail", "tail s"))
_FORMAT_RULES = ("sample-rate", "bitrate", "cbr", "layer")


def _clock(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _cell(result: RuleResult | None) -> str:
    if result is None:
        return ""
    value = result.measured
    if value is None:
        text = "none"
    elif isinstance(value, str):
        text = value
    elif value == float("-inf"):
        text = "-inf"
    else:
        text = f"{value:.2f}" if result.unit == "s" else f"{value:.1f}"
    return text if result.passed else text + "!"


def _format_cell(report: FileReport, facts: StreamFacts) -> str:
    kbps = sorted(b // 1000 for b in facts.bitrates)
    rate = f"{facts.sample_rate / 1000:g} kHz {channel_name(facts.channels)}"
    bits = f"{kbps[0]}k CBR" if facts.cbr else f"VBR {kbps[0]}-{kbps[-1]}k"
    layer = "" if facts.layer == 3 else f" layer {'I' * facts.layer}"
    bad = any(not r.passed for r in report.results if r.rule in _FORMAT_RULES)
    return f"{rate} {bits}{layer}" + ("!" if bad else "")


def _table(files: Sequence[FileReport]) -> list[str]:
    readable = [(f, f.facts) for f in files if f.facts is not None]
    if not readable:
        return []
    head = ["file", "length"] + [title for _, title in _COLUMNS] + ["format"]
    rows = []
    for f, facts in readable:
        by_rule = {r.rule: r for r in f.results}
        length = _clock(facts.duration) + ("" if by_rule["length"].passed else "!")
        cells = [_cell(by_rule.get(rule)) for rule, _ in _COLUMNS]
        rows.append([f.name, length, *cells, _format_cell(f, facts)])
    rows.append(["allowed", "<=2:00:00", "-23..-18", "<=-3", "<=-60", "0.5..1", "1..5",
                 "44.1 kHz >=192k CBR"])
    widths = [max(len(row[i]) for row in [head] + rows) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        # Names and formats read left to right; numbers line up on the right.
        parts = [c.ljust(w) if i in (0, len(cells) - 1) else c.rjust(w)
                 for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()

    return [line(head)] + [line(row) for row in rows] + ["(! = outside the allowed range)"]


def format_report(report: BookReport) -> list[str]:
    """Lines for a terminal: one PASS/FAIL line per file naming what fails and
    by how much, a table of every measured value, the book rule, a verdict."""
    lines = []
    for f in report.files:
        if f.error:
            reason = f.error.removeprefix(f"{f.path}: ")  # the name is already on the line
            lines.append(f"FAIL  {f.name}: unreadable: {reason}")
        elif f.passed:
            lines.append(f"PASS  {f.name}")
        else:
            lines.append(f"FAIL  {f.name}: " + "; ".join(r.detail for r in f.failures))
    table = _table(report.files)
    if table:
        lines += [""] + table
    if len(report.files) > 1:  # one file always agrees with itself
        lines += [""] + [("" if r.passed else "FAIL  ") + r.detail for r in report.book]
    failing = sum(not f.passed for f in report.files)
    total = len(report.files)
    if report.passed:
        lines.append(f"All {total} files pass the ACX checks." if total > 1
                     else "The file passes the ACX checks.")
    else:
        book = "" if all(r.passed for r in report.book) else " and the book's files do not match"
        lines.append(f"{failing} of {total} files fail the ACX checks{book}.")
    return lines


def _rule_json(result: RuleResult) -> dict:
    measured = result.measured
    if isinstance(measured, float) and measured in (float("inf"), float("-inf")):
        measured = None  # JSON has no infinity; detail says "digital silence"
    off_by = result.off_by if result.off_by is None or abs(result.off_by) != float("inf") else None
    return {"rule": result.rule, "passed": result.passed, "measured": measured, "unit": result.unit,
            "allowed": result.allowed, "off_by": off_by, "detail": result.detail}


def report_json(report: BookReport) -> dict:
    """The same report as plain data, for `--json`."""
    files = []
    for f in report.files:
        entry: dict = {"file": f.name, "path": str(f.path), "passed": f.passed, "error": f.error}
        if f.facts is not None:
            entry["stream"] = {"sample_rate": f.facts.sample_rate, "channels": f.facts.channels,
                               "bitrates_kbps": sorted(b // 1000 for b in f.facts.bitrates),
                               "cbr": f.facts.cbr, "duration_s": round(f.facts.duration, 3),
                               "layer": f.facts.layer}
        entry["rules"] = [_rule_json(r) for r in f.results]
        files.append(entry)
    return {"passed": report.passed, "files": files, "book": [_rule_json(r) for r in report.book]}
