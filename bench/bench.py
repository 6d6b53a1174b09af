"""Benchmarks for narrator. Not part of the test suite.

    python bench/bench.py throughput [--minutes 20] [--concurrency 5] [--capacity 5] [--json]
    python bench/bench.py client [--hours 1 [10 ...]] [--concurrency 4] [--json]
    python bench/bench.py faults [--hours 1] [--seed 7]
    python bench/bench.py mastering [--hours 1]
    python bench/bench.py readalong [--hours 1] [--runs 3] [--chapters N]

throughput: narrate a generated book through `narrator serve` pretending to
be a cloud service (time to first byte, generation speed, generations at
once) and compare the wall time of `narrator narrate` with the best any
client could do against that service: its busy time divided by its capacity.

client: narrate a generated book through a plain `narrator serve` in a
separate process, and measure only the `narrator narrate` process: CPU
seconds per hour of audio, peak resident memory, wall time.

faults: a book through a misbehaving server, run again until it is whole:
what the faults cost. mastering: the book files made again from the cache,
copied and with --acx, and `narrator check` of them. readalong: the book
made again from the cache with --read-along and without it: the time, size
and memory the read-along EPUB adds.

Every number comes from real subprocesses (`python -m narrator ...`) run by
the same interpreter as this script (bench/harness.py); see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from harness import (  # bench/ is the script's folder, first on sys.path
    FORMAT,
    NARRATOR,
    WORD_SECONDS,
    Server,
    Usage,
    compile_narrator,
    measure,
    narrate,
    narrate_through_server,
    startup,
    workdir,
    write_book,
)

# --- throughput -----------------------------------------------------------


def throughput(args) -> dict:
    with workdir(args.keep) as tmp:
        tmp = Path(tmp)
        book = tmp / "book.md"
        seconds = args.words * WORD_SECONDS if args.words else args.minutes * 60
        characters = write_book(book, seconds, seed=args.seed, chapters=args.chapters)
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
    # A short note cannot keep every slot busy to the end: its few segments are each a big share.
    target = 0.85 if r["audio_minutes"] < 10 else 0.95
    verdict = "ok" if r["ratio"] >= target else f"BELOW TARGET {target}"
    print(f"ratio        {r['ratio']:.3f}  ideal/wall  [{verdict}]")


# --- faults ---------------------------------------------------------------

ISSUE_FAULTS = "drop=0.1,close1011=0.05,http429=0.2,stall=0.05,garbage=0.05,nullalign=0.2"


def faults(args) -> dict:
    """One book through a misbehaving server that stays up, run again until
    it is whole (a segment can fail on protocol errors): what it cost."""
    with workdir(args.keep) as tmp:
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
        with workdir(args.keep) as tmp:
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
        with workdir(args.keep) as tmp:
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
            check = measure(proc, started)
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


# --- read-along -----------------------------------------------------------

READ_ALONG = (("sentence", ("--read-along", "sentence")), ("without", ()), ("word", ("--read-along", "word")))


def readalong(args) -> dict:
    """A book narrated once; then joined again from the cache, each time
    into a fresh output folder: with --read-along sentence, without it, with
    --read-along word, `--runs` times in turn. What the read-along EPUB adds
    in time, size and memory to the same join (medians of the runs)."""
    rows = []
    for hours in args.hours:
        with workdir(args.keep) as tmp:
            tmp = Path(tmp)
            book, out = tmp / "book.md", tmp / "out"
            characters = write_book(book, hours * 3600, seed=args.seed, chapters=args.chapters)
            server = Server()
            try:
                narrate(book, out, server.url, args.concurrency)  # fills the cache, out.cache beside out
                runs: dict[str, list[Usage]] = {name: [] for name, _ in READ_ALONG}
                epubs = {}
                for _ in range(args.runs):
                    for name, options in READ_ALONG:
                        # A fresh folder: no manifest says the book is up to date, so it is joined anew.
                        shutil.rmtree(out)
                        usage, figures = narrate(book, out, server.url, args.concurrency, *options)
                        assert figures["characters"] == 0, "the cache did not serve the book"
                        runs[name].append(usage)
                        if options:
                            epubs[name] = _epub_sizes(out / f"{book.stem}.read-along.epub")
            finally:
                server.stop()
        base = runs["without"]
        rows.append({"hours_requested": hours, "characters": characters,
                     "audio_hours": round(figures["minutes"] / 60, 3), "mp3_bytes": figures["mp3_bytes"],
                     "without": _run(base), **{name: {**_run(runs[name], base), **epub}
                                               for name, epub in epubs.items()}})
    return {"mode": "readalong", "format": FORMAT, "runs": args.runs, "chapters": args.chapters, "rows": rows}


def _median(usages: list[Usage]) -> Usage:
    return Usage(0, *(statistics.median(getattr(u, figure) for u in usages)
                      for figure in ("wall_seconds", "cpu_seconds", "peak_rss_mb")))


def _run(usages: list[Usage], base: list[Usage] | None = None) -> dict:
    """A join's cost, the median of its runs; with `base` (its runs without
    --read-along), what it added."""
    usage = _median(usages)
    run = {"wall_seconds": round(usage.wall_seconds, 2), "cpu_seconds": round(usage.cpu_seconds, 2),
           "peak_rss_mb": round(usage.peak_rss_mb, 1),
           "wall_seconds_each": [round(u.wall_seconds, 2) for u in usages]}
    if base:
        without = _median(base)
        added = usage.wall_seconds - without.wall_seconds
        run.update(added_seconds=round(added, 2),
                   added_cpu_seconds=round(usage.cpu_seconds - without.cpu_seconds, 2),
                   share_of_join=round(added / without.wall_seconds, 3),
                   added_peak_rss_mb=round(usage.peak_rss_mb - without.peak_rss_mb, 1))
    return run


def _epub_sizes(path: Path) -> dict:
    """The EPUB's size, the chapter MP3s stored in it, and its highlights (a
    <par> of an overlay each)."""
    with zipfile.ZipFile(path) as epub:
        audio = [m for m in epub.infolist() if m.filename.endswith(".mp3")]
        assert audio and all(m.compress_type == zipfile.ZIP_STORED for m in audio), "MP3s not stored"
        pars = sum(epub.read(m).count(b"<par ") for m in epub.infolist() if m.filename.endswith(".smil"))
    size = path.stat().st_size
    audio_bytes = sum(m.compress_size for m in audio)
    return {"epub_bytes": size, "audio_members": len(audio), "audio_bytes": audio_bytes,
            "non_audio_bytes": size - audio_bytes, "highlights": pars}


def print_readalong(r: dict) -> None:
    header = ("hours", "audio h", "chapters", "highlight", "join s", "added s", "share", "CPU s", "added",
              "book MP3 MB", "EPUB MB", "non-audio kB", "highlights", "peak RSS MB", "without")
    table = [header] + [
        (f"{row['hours_requested']:g}", f"{row['audio_hours']:.3f}", str(ra["audio_members"]), name,
         f"{row['without']['wall_seconds']:.2f}", f"{ra['added_seconds']:+.2f}", f"{ra['share_of_join']:.0%}",
         f"{row['without']['cpu_seconds']:.2f}", f"{ra['added_cpu_seconds']:+.2f}",
         f"{row['mp3_bytes'] / 1e6:.1f}", f"{ra['epub_bytes'] / 1e6:.1f}",
         f"{ra['non_audio_bytes'] / 1e3:.0f}", str(ra["highlights"]), f"{ra['peak_rss_mb']:.1f}",
         f"{row['without']['peak_rss_mb']:.1f}")
        for row in r["rows"] for name, ra in ((n, row[n]) for n in ("sentence", "word"))
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    print(f"the book joined again from the cache ({r['format']}), each time into a fresh folder, "
          f"with --read-along and without it; medians of {r['runs']} runs")
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
    t.add_argument("--words", type=int, help="A book of about this many words instead (a note: --words 600).")
    t.add_argument("--chapters", type=int, help="Chapters in the book (default: one per 20 minutes).")
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

    r = sub.add_parser("readalong", help="What --read-along adds to a join from the cache: time, size, RSS.")
    r.add_argument("--hours", type=float, nargs="+", default=[1.0],
                   help="Hours of audio; several give several rows.")
    r.add_argument("--chapters", type=int,
                   help="Chapters in the book (default: one per 20 minutes): a page is wrapped whole.")
    r.add_argument("--runs", type=int, default=3,
                   help="Joins of each kind, in turn; the figures are their medians.")
    r.add_argument("--concurrency", type=int, default=4, help="narrate --concurrency.")
    common(r)

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
    compile_narrator()
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
    elif args.mode == "readalong":
        if args.runs < 1:
            parser.error("readalong needs --runs >= 1")
        result = readalong(args)
        print(json.dumps(result)) if args.json else print_readalong(result)
    else:
        result = client(args)
        print(json.dumps(result)) if args.json else print_client(result)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("bench: interrupted")
