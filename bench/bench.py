"""Benchmarks for narrator. Not part of the test suite.

    python bench/bench.py throughput [--minutes 20] [--concurrency 5] [--capacity 5] [--json]
    python bench/bench.py client [--hours 1 [10 ...]] [--concurrency 4] [--json]

throughput: narrate a generated book through `narrator serve` pretending to
be a cloud service (time to first byte, generation speed, generations at
once) and compare the wall time of `narrator narrate` with the best any
client could do against that service: its busy time divided by its capacity.

client: narrate a generated book through a plain `narrator serve` in a
separate process, and measure only the `narrator narrate` process: CPU
seconds per hour of audio, peak resident memory, wall time.

Every number comes from real subprocesses (`python -m narrator ...`) run by
the same interpreter as this script; see bench/README.md.
"""

from __future__ import annotations

import argparse
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


def write_book(path: Path, audio_seconds: float, *, seed: int = 1) -> int:
    """Stream a Markdown book of about `audio_seconds` of espeak speech to
    `path`, one paragraph at a time; returns the characters of prose written."""
    target = int(audio_seconds * CHARS_PER_SECOND)
    chapters = max(3, min(40, round(audio_seconds / 1200)))  # about one per 20 minutes
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


def _wait(proc: subprocess.Popen, started: float) -> Usage:
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
            usage = _wait(self.proc, self.started)
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
            usage = _wait(proc, started)
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


def startup() -> Usage:
    """`narrator --version`: the interpreter and narrator's imports, nothing narrated."""
    started = time.monotonic()
    proc = subprocess.Popen([*NARRATOR, "--version"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return _wait(proc, started)


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


def _workdir(keep: bool):
    if keep:
        path = Path(tempfile.mkdtemp(prefix="narrator-bench-"))
        print(f"bench: keeping {path}", file=sys.stderr)
        return _Kept(path)
    return tempfile.TemporaryDirectory(prefix="narrator-bench-")


class _Kept:
    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> str:
        return str(self.path)

    def __exit__(self, *exc) -> None:
        pass


# --- throughput -----------------------------------------------------------


def throughput(args) -> dict:
    with _workdir(args.keep) as tmp:
        tmp = Path(tmp)
        book = tmp / "book.md"
        characters = write_book(book, args.minutes * 60, seed=args.seed)
        pretend = ("--ttfb-ms", str(args.ttfb_ms), "--speed", str(args.speed),
                   "--capacity", str(args.capacity))
        usage, figures, stats, _ = narrate_through_server(book, tmp / "out", args.concurrency, *pretend)
    ideal = stats["generating_seconds"] / args.capacity
    return {
        "mode": "throughput",
        "minutes_requested": args.minutes,
        "characters": characters,
        "concurrency": args.concurrency,
        "capacity": args.capacity,
        "ttfb_ms": args.ttfb_ms,
        "speed": args.speed,
        "audio_minutes": round(stats["audio_seconds"] / 60, 3),
        "wall_seconds": round(usage.wall_seconds, 3),
        "ideal_seconds": round(ideal, 3),
        "ratio": round(ideal / usage.wall_seconds, 4),
        "narrate_cpu_seconds": round(usage.cpu_seconds, 3),
        "narrate": figures,
        "server": stats,
    }


def print_throughput(r: dict) -> None:
    print(f"book         {r['characters']} characters, {r['audio_minutes']:.1f} min of audio, "
          f"{r['narrate']['segments']} segments, {r['server']['connections']} connections")
    print(f"service      ttfb {r['ttfb_ms']} ms, speed {r['speed']:g}x, capacity {r['capacity']}; "
          f"client concurrency {r['concurrency']}")
    print(f"wall         {r['wall_seconds']:.2f} s")
    print(f"ideal        {r['ideal_seconds']:.2f} s  "
          f"(generating {r['server']['generating_seconds']:.1f} s / capacity)")
    verdict = "ok" if r["ratio"] >= 0.9 else "BELOW TARGET 0.9"
    print(f"ratio        {r['ratio']:.3f}  ideal/wall  [{verdict}]")


# --- faults ---------------------------------------------------------------

ISSUE_FAULTS = "drop=0.1,close1011=0.05,http429=0.2,stall=0.05,garbage=0.05,nullalign=0.2"


def faults(args) -> dict:
    """One book through a misbehaving server that stays up, run again until
    it is whole (a segment can fail on protocol errors): what it cost."""
    with _workdir(args.keep) as tmp:
        tmp = Path(tmp)
        book = tmp / "book.md"
        characters = write_book(book, args.hours * 3600, seed=args.seed)
        server = Server("--faults", f"{args.faults},seed={args.seed}")
        runs = []
        try:
            while len(runs) < args.runs and not (runs and runs[-1]["exit_code"] == 0):
                usage, figures = narrate(book, tmp / "out", server.url, args.concurrency,
                                         "--timeout", str(args.timeout), may_fail=True)
                runs.append({"exit_code": usage.exit_code, "wall_seconds": round(usage.wall_seconds, 3),
                             **figures})
        finally:
            stats, _ = server.stop()
    return {"mode": "faults", "faults": args.faults, "seed": args.seed, "characters": characters,
            "runs": runs, "server": stats, "waste": round(stats["characters"] / characters, 3)}


def print_faults(r: dict) -> None:
    print(f"book         {r['characters']} characters; faults {r['faults']}, seed {r['seed']}")
    for i, run in enumerate(r["runs"], 1):
        said = run.get("error") or f"{run['segments']} segments, {run['retries']} retries"
        print(f"run {i}        exit {run['exit_code']}, {run['wall_seconds']:.1f} s: {said}")
    injected = ", ".join(f"{n} {name}" for name, n in sorted(r["server"]["faults"].items()))
    print(f"injected     {injected}")
    print(f"waste        {r['server']['characters']} characters generated for {r['characters']}: "
          f"{r['waste']:.2f}")


# --- client cost ----------------------------------------------------------


def client(args) -> dict:
    base = startup()
    rows = []
    for hours in args.hours:
        with _workdir(args.keep) as tmp:
            tmp = Path(tmp)
            book = tmp / "book.md"
            made = time.monotonic()
            characters = write_book(book, hours * 3600, seed=args.seed)
            made = time.monotonic() - made
            usage, figures, stats, server_usage = narrate_through_server(book, tmp / "out", args.concurrency)
            # The same command again with the book files gone: every segment comes from the
            # cache, each checked by its digest, and the book is joined anew. Nothing is sent.
            for made_file in (tmp / "out").glob("book.*"):
                made_file.unlink()
            rejoin, _, rejoin_stats, _ = narrate_through_server(book, tmp / "out", args.concurrency)
            assert rejoin_stats["characters"] == 0, "the second run sent text: the cache did not serve it"
        audio_hours = stats["audio_seconds"] / 3600
        rows.append({
            "hours_requested": hours,
            "characters": characters,
            "book_seconds_to_write": round(made, 3),
            "audio_hours": round(audio_hours, 4),
            "wall_seconds": round(usage.wall_seconds, 3),
            "cpu_seconds": round(usage.cpu_seconds, 3),
            "cpu_seconds_per_audio_hour": round(usage.cpu_seconds / audio_hours, 2) if audio_hours else None,
            # the same without the fixed cost of starting (interpreter and imports)
            "net_cpu_seconds_per_audio_hour":
                round((usage.cpu_seconds - base.cpu_seconds) / audio_hours, 2) if audio_hours else None,
            "peak_rss_mb": round(usage.peak_rss_mb, 1),
            "server_cpu_seconds": round(server_usage.cpu_seconds, 3),
            "from_cache": {"wall_seconds": round(rejoin.wall_seconds, 3),
                           "cpu_seconds": round(rejoin.cpu_seconds, 3),
                           "peak_rss_mb": round(rejoin.peak_rss_mb, 1)},
            "server_peak_rss_mb": round(server_usage.peak_rss_mb, 1),
            "narrate": figures,
            "server": stats,
        })
    return {"mode": "client", "concurrency": args.concurrency, "format": FORMAT,
            "startup": {"cpu_seconds": round(base.cpu_seconds, 3), "peak_rss_mb": round(base.peak_rss_mb, 1)},
            "rows": rows}


def mastering(args) -> dict:
    """A book narrated once at the cloud's default format; then its files
    made again from the cache, copied (the default) and mastered (--acx),
    and the mastered folder checked: what the audiobook steps cost alone."""
    rows = []
    for hours in args.hours:
        with _workdir(args.keep) as tmp:
            tmp = Path(tmp)
            book, out = tmp / "book.md", tmp / "out"
            write_book(book, hours * 3600, seed=args.seed)
            server = Server()
            try:
                narrate(book, out, server.url, args.concurrency, audio_format="mp3_44100_128")
                runs = {}
                for name, options in (("copied", ()), ("acx", ("--acx",))):
                    for made in out.glob(".book.*"):
                        made.unlink()  # the manifest: without it the files are made again
                    usage, figures = narrate(book, out, server.url, args.concurrency, *options,
                                             audio_format="mp3_44100_128")
                    assert figures["characters"] == 0, "the cache did not serve the book"
                    runs[name] = usage
            finally:
                server.stop()
            started = time.monotonic()
            proc = subprocess.Popen([*NARRATOR, "check", str(out / "book")], stdout=subprocess.DEVNULL,
                                    stdin=subprocess.DEVNULL)
            check = _wait(proc, started)
        audio_hours = figures["minutes"] / 60
        rows.append({"hours_requested": hours, "audio_hours": round(audio_hours, 3), **{
            name: {"wall_seconds": round(u.wall_seconds, 2), "cpu_seconds": round(u.cpu_seconds, 2),
                   "cpu_seconds_per_audio_hour": round(u.cpu_seconds / audio_hours, 1),
                   "peak_rss_mb": round(u.peak_rss_mb, 1)}
            for name, u in (*runs.items(), ("check", check))}, "check_exit": check.exit_code})
    return {"mode": "mastering", "format": "mp3_44100_128", "rows": rows}


def print_mastering(r: dict) -> None:
    print(f"book files made again from the cache ({r['format']}), "
          "and `narrator check` of the --acx chapter files")
    for row in r["rows"]:
        for name in ("copied", "acx", "check"):
            u = row[name]
            print(f"  {row['audio_hours']:.2f} audio h  {name:>6}: wall {u['wall_seconds']:.1f} s, "
                  f"CPU {u['cpu_seconds']:.1f} s ({u['cpu_seconds_per_audio_hour']:.1f} s per audio hour), "
                  f"peak RSS {u['peak_rss_mb']:.1f} MB")
        print(f"  check exit code: {row['check_exit']}")


def print_client(r: dict) -> None:
    header = ("hours", "characters", "audio h", "wall s", "CPU s", "CPU s/audio h", "net", "peak RSS MB",
              "server CPU s", "from cache: wall s", "CPU s", "RSS MB")
    table = [header] + [
        (f"{row['hours_requested']:g}", str(row["characters"]), f"{row['audio_hours']:.3f}",
         f"{row['wall_seconds']:.1f}", f"{row['cpu_seconds']:.1f}",
         f"{row['cpu_seconds_per_audio_hour']:.1f}", f"{row['net_cpu_seconds_per_audio_hour']:.1f}",
         f"{row['peak_rss_mb']:.1f}",
         f"{row['server_cpu_seconds']:.1f}", f"{row['from_cache']['wall_seconds']:.1f}",
         f"{row['from_cache']['cpu_seconds']:.1f}", f"{row['from_cache']['peak_rss_mb']:.1f}")
        for row in r["rows"]
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    print(f"narrate client only, concurrency {r['concurrency']}, {r['format']}; "
          f"startup alone (narrator --version): {r['startup']['cpu_seconds']:.2f} CPU s, "
          f"{r['startup']['peak_rss_mb']:.1f} MB")
    for line in table:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths)))


# --- command line ---------------------------------------------------------


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)

    def common(p) -> None:
        p.add_argument("--json", action="store_true", help="Print one JSON object instead of the table.")
        p.add_argument("--seed", type=int, default=1, help="Seed of the generated prose.")
        p.add_argument("--keep", action="store_true",
                       help="Keep the temp folder (book, output, narrate log).")

    t = sub.add_parser("throughput", help="Wall time against a slow cloud stand-in, compared with the ideal.")
    t.add_argument("--minutes", type=float, default=20.0, help="Minutes of audio in the generated book.")
    t.add_argument("--concurrency", type=int, default=5, help="narrate --concurrency.")
    t.add_argument("--capacity", type=int, default=5, help="serve --capacity: generations at once.")
    t.add_argument("--ttfb-ms", type=int, default=300, help="serve --ttfb-ms.")
    t.add_argument("--speed", type=float, default=5.0, help="serve --speed: audio seconds per second.")
    common(t)

    c = sub.add_parser("client", help="CPU and memory of the narrate process alone.")
    c.add_argument("--hours", type=float, nargs="+", default=[1.0],
                   help="Hours of audio; several give several rows.")
    c.add_argument("--concurrency", type=int, default=4, help="narrate --concurrency.")
    common(c)

    m = sub.add_parser("mastering", help="Chapter files copied and mastered (--acx) from the cache; check.")
    m.add_argument("--hours", type=float, nargs="+", default=[1.0],
                   help="Hours of audio; several give several rows.")
    m.add_argument("--concurrency", type=int, default=4, help="narrate --concurrency.")
    common(m)

    f = sub.add_parser("faults", help="A book through `serve --faults`, run again until whole: the waste.")
    f.add_argument("--hours", type=float, default=1.0, help="Hours of audio in the generated book.")
    f.add_argument("--faults", default=ISSUE_FAULTS, help="serve --faults, without the seed.")
    f.add_argument("--runs", type=int, default=3, help="At most this many runs.")
    f.add_argument("--timeout", type=float, default=5.0,
                   help="narrate --timeout: seconds before a stall is retried.")
    f.add_argument("--concurrency", type=int, default=4, help="narrate --concurrency.")
    common(f)

    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # clean up the subprocesses as for Ctrl-C
    if args.mode == "throughput":
        if args.capacity < 1 or args.speed <= 0:
            parser.error("throughput needs --capacity >= 1 and --speed > 0 to have an ideal")
        result = throughput(args)
        print(json.dumps(result)) if args.json else print_throughput(result)
    elif args.mode == "faults":
        result = faults(args)
        print(json.dumps(result)) if args.json else print_faults(result)
    elif args.mode == "mastering":
        result = mastering(args)
        print(json.dumps(result)) if args.json else print_mastering(result)
    else:
        result = client(args)
        print(json.dumps(result)) if args.json else print_client(result)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("bench: interrupted")
