"""What every benchmark stands on: generated books, `narrator serve` and
`narrator narrate` as real subprocesses, and what each process cost (CPU,
peak memory, wall time, from os.wait4)."""

from __future__ import annotations

import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

# espeak-ng (en-us, default rate) speaks this generated prose at about 18.5 characters a
# second (measured: 17.5-18.5 for it, tests/helpers.py prose and samples/lighthouse.md).
CHARS_PER_SECOND = 18.5
WORD_SECONDS = 6.3 / CHARS_PER_SECOND  # the generated prose has 6.3 characters a word, space included
FORMAT = "mp3_22050_32"
VOICE = "en-us"
NARRATOR = [sys.executable, "-m", "narrator"]
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

RESULT_LINE = re.compile(
    r": (?P<minutes>[\d.]+) min, (?P<segments>\d+) segments, (?P<cues>\d+) cues, "
    r"(?P<characters>[\d,]+) characters sent for [\d,]+ \(waste (?P<waste>[\d.]+)\), "
    r"(?P<retries>\d+) retries, (?P<seconds>[\d.]+) s$"
)

# --- the book -------------------------------------------------------------

_NOUNS = ["harbour", "lantern", "morning", "river", "stone", "window", "garden", "letter", "evening",
          "bridge", "shadow", "candle", "market", "orchard", "meadow", "pocket", "whistle", "ladder",
          "thunder", "kettle", "compass", "ferry", "chimney", "hedgerow", "sparrow", "blanket", "attic",
          "valley", "rooftop", "station", "carriage", "island", "cottage", "workshop"]
_ADJECTIVES = ["quiet", "narrow", "golden", "patient", "crooked", "distant", "silver", "early", "hollow",
               "gentle", "weathered", "small"]
_VERBS = ["waited", "watched", "remembered", "carried", "followed", "crossed", "mended", "opened", "gathered",
          "listened", "wandered", "counted"]
_LINKS = ["and", "but", "while", "because", "until", "so", "although"]


def _sentence(rng: random.Random) -> str:
    """Original prose: a clause or two, with commas, different every time."""
    def clause() -> str:
        words = ["the", rng.choice(_ADJECTIVES), rng.choice(_NOUNS), rng.choice(_VERBS)]
        if rng.random() < 0.6:
            words += ["by the", rng.choice(_NOUNS)]
        return " ".join(words)

    text = clause()
    if rng.random() < 0.7:
        text += ", " + rng.choice(_LINKS) + " " + clause()
    if rng.random() < 0.3:
        text += ", " + rng.choice(_ADJECTIVES) + " and " + rng.choice(_ADJECTIVES)
    return text[0].upper() + text[1:] + rng.choice(".!?...")


def write_book(path: Path, audio_seconds: float, *, seed: int = 1, chapters: int | None = None) -> int:
    """Stream a Markdown book of about `audio_seconds` of espeak speech to
    `path`, one paragraph at a time, in `chapters` chapters (default: about
    one per 20 minutes); returns the characters of prose written."""
    target = int(audio_seconds * CHARS_PER_SECOND)
    chapters = chapters or max(3, min(40, round(audio_seconds / 1200)))
    per_chapter = target / chapters
    rng = random.Random(seed)
    written = 0
    with path.open("w", encoding="utf-8") as out:
        out.write("---\ntitle: A Generated Book\nauthor: Bench Mark\n---\n\n# A Generated Book\n\n")
        for number in range(1, chapters + 1):
            out.write(f"## Chapter {number}\n\n")
            goal = min(target, round(per_chapter * number))
            first = True
            while written < goal or first:  # every chapter gets some prose
                first = False
                paragraph = " ".join(_sentence(rng) for _ in range(rng.randint(2, 6)))
                out.write(paragraph + "\n\n")
                written += len(paragraph)
    return written


# --- processes ------------------------------------------------------------


@dataclass
class Usage:
    exit_code: int
    wall_seconds: float
    cpu_seconds: float  # user + system, this process and any children it waited for
    peak_rss_mb: float


def measure(proc: subprocess.Popen, started: float) -> Usage:
    """Reap `proc` with wait4 to get its own resource usage."""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    rss = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return Usage(proc.returncode, wall, usage.ru_utime + usage.ru_stime, rss)


class Server:
    """`narrator serve --port 0 ...` in a subprocess: its URL, then its statistics."""

    def __init__(self, *options: str):
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [*NARRATOR, "serve", "--port", "0", *options],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        threading.Thread(target=self._drain, daemon=True).start()
        self.url = self._wait_ready()

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                raise SystemExit(f"bench: the server did not say it was listening within "
                                 f"{READY_TIMEOUT:g} s") from None
            if line is None:
                raise SystemExit("bench: the server exited before listening:\n" + "".join(self.stderr[-20:]))
            match = re.search(r"listening on (wss?://\S+)", line)
            if match:
                return match.group(1)

    def stop(self) -> tuple[dict, Usage]:
        """SIGINT, then the JSON line it prints on the way out."""
        self.proc.send_signal(signal.SIGINT)
        timer = threading.Timer(STOP_TIMEOUT, self.proc.kill)  # a server that will not stop
        timer.start()
        try:
            out = self.proc.stdout.read()
            usage = measure(self.proc, self.started)
        finally:
            timer.cancel()
        for line in reversed(out.splitlines()):
            if line.startswith("{"):
                return json.loads(line), usage
        raise SystemExit(f"bench: the server printed no statistics (exit {usage.exit_code}):\n{out}"
                         + "".join(self.stderr[-20:]))

    def kill(self) -> None:
        if self.proc.returncode is None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def narrate(book: Path, out_dir: Path, url: str, concurrency: int, *options: str, audio_format: str = FORMAT,
            may_fail: bool = False) -> tuple[Usage, dict]:
    """`narrator narrate` against `url` as a client of an ElevenLabs-like
    service; its usage and the figures from its result line (with
    `may_fail`, a run that failed gives its error line as figures["error"])."""
    # A segment cache of this output's own: a second run of the same command (faults) resumes
    # from it, and no other benchmark, nor the user's cache, serves anything.
    env = dict(os.environ, ELEVENLABS_API_KEY="bench",
               NARRATOR_CACHE=str(out_dir.parent / f"{out_dir.name}.cache"))
    log = out_dir.parent / f"{out_dir.name}.log"
    command = [*NARRATOR, "narrate", str(book), "-o", str(out_dir), "--provider", "elevenlabs",
               "--endpoint", url, "--voice", VOICE, "--concurrency", str(concurrency),
               "--format", audio_format, *options]
    with log.open("w+", encoding="utf-8") as output:
        started = time.monotonic()
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                                env=env, cwd=out_dir.parent)
        try:
            usage = measure(proc, started)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        output.seek(0)
        text = output.read()
    if usage.exit_code != 0 and may_fail:
        return usage, {"error": next((line for line in text.splitlines() if "narrator: error:" in line), "")}
    if usage.exit_code != 0:
        tail = "\n".join(text.splitlines()[-20:])
        raise SystemExit(f"bench: narrate exited {usage.exit_code}:\n{tail}")
    for line in text.splitlines():
        match = RESULT_LINE.search(line)
        if match:
            figures = {k: float(v) if "." in v else int(v.replace(",", ""))
                       for k, v in match.groupdict().items()}
            break
    else:
        raise SystemExit(f"bench: no result line from narrate:\n{text[-2000:]}")
    for suffix in (".mp3", ".srt", ".vtt"):
        if not (out_dir / f"{book.stem}{suffix}").is_file():
            raise SystemExit(f"bench: narrate wrote no {book.stem}{suffix}")
    figures["mp3_bytes"] = (out_dir / f"{book.stem}.mp3").stat().st_size
    return usage, figures


def compile_narrator() -> None:
    """Bytecode for narrator's own modules, as `pip install` writes it. An
    editable install run with PYTHONDONTWRITEBYTECODE (as CI machines often
    are) would otherwise compile every module at every start, about 45 ms
    that no installed copy pays."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "narrator"], check=True,
                   cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.DEVNULL)


def startup() -> Usage:
    """`narrator --version`: the interpreter and narrator's imports, nothing narrated."""
    started = time.monotonic()
    proc = subprocess.Popen([*NARRATOR, "--version"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return measure(proc, started)


def narrate_through_server(book: Path, out_dir: Path, concurrency: int, *serve_options: str):
    """Start `narrator serve`, narrate through it, stop it whatever happens;
    returns narrate's usage and figures, and the server's stats and usage."""
    server = Server(*serve_options)
    try:
        usage, figures = narrate(book, out_dir, server.url, concurrency)
    finally:
        try:
            stats, server_usage = server.stop()
        except BaseException:
            server.kill()
            raise
    return usage, figures, stats, server_usage


def workdir(keep: bool):
    if keep:
        path = Path(tempfile.mkdtemp(prefix="narrator-bench-"))
        print(f"bench: keeping {path}", file=sys.stderr)
        return Kept(path)
    return tempfile.TemporaryDirectory(prefix="narrator-bench-")


class Kept:
    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> str:
        return str(self.path)

    def __exit__(self, *exc) -> None:
        pass
