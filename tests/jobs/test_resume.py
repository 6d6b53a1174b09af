"""Nothing paid twice: `narrator run` killed with SIGKILL and run again, a
one-paragraph edit, two overlapping runs, and the timer's command run twice.

Everything runs as a user's scheduler would run it: the CLI in its own
process, against `narrator serve` in another, whose statistics count every
character it was asked to speak. The embedded engine gives the same audio
for the same text, so a resumed book can be compared byte for byte with an
uninterrupted one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import miniaudio

from narrator.book.cache import SegmentCache
from narrator.jobs.jobfile import load_job
from narrator.runner import plan_book
from narrator.text import read_document
from tests.helpers import generated_book
from tests.test_cli import narrator
from tests.test_cli_service import KEY, served

PACE = ("--speed", "30")  # audio seconds per second: a run lasts seconds, long enough to be killed mid-book


def write_job(root: Path, url: str, name: str = "book", output: str = "../out", voice: str = "en-us") -> Path:
    book = generated_book(60, chapters=3)
    document = root / "docs" / "book.md"
    if not document.exists():
        document.parent.mkdir(parents=True, exist_ok=True)
        document.write_text("\n\n".join(f"# {c.title}\n\n" + "\n\n".join(c.paragraphs)
                                        for c in book.chapters))
    job = root / "jobs" / f"{name}.toml"
    job.parent.mkdir(parents=True, exist_ok=True)
    job.write_text(f'input = "../docs/book.md"\noutput = "{output}"\nprovider = "elevenlabs"\n'
                   f'endpoint = "{url}"\nvoice = "{voice}"\nformat = "mp3_22050_32"\nconcurrency = 2\n')
    return job


def planned(job: Path):
    loaded = load_job(job, progress=False)
    return plan_book(read_document(loaded.inputs[0]), loaded.options)


def served_characters(segments) -> int:
    # The server counts each segment's text and the one character that ends it.
    return sum(len(s.text) + 1 for s in segments)


def start_run(*targets, cache: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "ELEVENLABS_API_KEY": KEY}
    if cache:
        env["NARRATOR_CACHE"] = str(cache)
    return subprocess.Popen([sys.executable, "-m", "narrator", "run", *map(str, targets)], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def run_job(*targets, cache: Path | None = None):
    process = start_run(*targets, cache=cache)
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def wait_for(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def cached_keys(keys) -> set[str]:
    cache = SegmentCache()
    return {key for key in keys if cache.get(key) is not None}


def test_a_run_killed_mid_book_resumes_without_asking_again_and_equals_an_uninterrupted_run(tmp_path):
    with served(*PACE) as (url, first):
        job = write_job(tmp_path, url)
        book = planned(job)
        run = start_run(job)
        wait_for(lambda: len(cached_keys(book.keys)) >= 4, "some finished segments")
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
    finished = cached_keys(book.keys)
    assert run.returncode == -signal.SIGKILL
    assert 4 <= len(finished) < len(book.segments), "killed mid-book"
    assert not (tmp_path / "out" / "book.mp3").exists()

    with served(*PACE) as (url, second):
        job = write_job(tmp_path, url)  # a new port; the segments' keys do not depend on it
        code, out, err = run_job(job)
    assert code == 0, err
    assert "taking over the lock" in err, "the dead run's lock is taken over"
    unfinished = [s for s, key in zip(book.segments, book.keys) if key not in finished]
    assert second["characters"] == served_characters(unfinished), "no finished segment was requested again"
    assert first["characters"] >= served_characters(s for s, key in zip(book.segments, book.keys)
                                                    if key in finished)

    # The same job, uninterrupted, with a cache and an output folder of its own.
    with served() as (url, _):
        clean_job = write_job(tmp_path, url, name="clean", output="../clean")
        code, _, err = run_job(clean_job, cache=tmp_path / "clean-cache")
    assert code == 0, err
    for name in ("book.mp3", "book.srt", "book.vtt"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "clean" / name).read_bytes(), name
    decoded = miniaudio.mp3_read_s16((tmp_path / "out" / "book.mp3").read_bytes())
    assert decoded.num_frames / decoded.sample_rate > 120


def test_editing_one_paragraph_asks_again_for_its_segment_only(tmp_path):
    with served() as (url, _):
        job = write_job(tmp_path, url)
        code, _, err = run_job(job)
    assert code == 0, err
    before = planned(job)

    document = tmp_path / "docs" / "book.md"
    paragraphs = document.read_text().split("\n\n")
    middle = len(paragraphs) // 2
    paragraphs[middle] = paragraphs[middle].replace(" ", " quietly ", 1)
    document.write_text("\n\n".join(paragraphs))
    after = planned(job)
    changed = [s for s, key in zip(after.segments, after.keys) if key not in set(before.keys)]
    assert len(changed) == 1 and "quietly" in changed[0].text

    with served() as (url2, stats):
        job = write_job(tmp_path, url2)
        code, out, err = run_job(job)
    assert code == 0, err
    assert stats["characters"] == served_characters(changed)
    assert "quietly" in (tmp_path / "out" / "book.srt").read_text()


def test_two_overlapping_runs_do_not_collide(tmp_path):
    with served(*PACE) as (url, stats):
        job = write_job(tmp_path, url)
        other = planned(write_job(tmp_path, url, name="other", output="../other", voice="en"))
        book = planned(job)
        first = start_run(job)
        wait_for(lambda: cached_keys(book.keys), "the first run to be under way")
        # The timer fires again while the first run is still at work: the whole jobs folder.
        code, out, err = run_job(tmp_path / "jobs")
        assert code == 9, err
        assert "book: locked" in out and "being narrated by another run" in out
        assert "other: done" in out, "a job whose output is free still runs"
        first_out, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err
    assert "book: done" in first_out
    # Each book narrated once: the first run's by the first run alone.
    assert stats["characters"] == served_characters(book.segments) + served_characters(other.segments)


def test_the_timer_command_twice_sends_nothing_the_second_time(tmp_path):
    """What the systemd service and the crontab line run: `narrator run JOBS_FOLDER`, no terminal."""
    with served() as (url, first):
        write_job(tmp_path, url)
        code, out, err = run_job(tmp_path / "jobs")
    assert code == 0, err
    assert first["characters"] > 0 and "\r" not in err, "no progress bar without a terminal"
    mp3 = tmp_path / "out" / "book.mp3"
    made = mp3.stat().st_mtime_ns

    with served() as (url, second):
        write_job(tmp_path, url)
        code, out, err = run_job(tmp_path / "jobs")
    assert code == 0, err
    assert second["characters"] == 0 and second["connections"] == 0
    assert "up to date, nothing sent" in out and mp3.stat().st_mtime_ns == made


def test_max_characters_stops_before_the_limit_and_the_next_run_sends_the_rest(tmp_path):
    with served() as (url, first):
        job = write_job(tmp_path, url)
        book = planned(job)
        limit = book.characters // 3
        done = narrator("narrate", tmp_path / "docs" / "book.md", "--provider", "elevenlabs",
                        "--endpoint", url, "--voice", "en-us", "--format", "mp3_22050_32",
                        "--concurrency", "2", "--max-characters", limit, "-o", tmp_path / "out",
                        env={"ELEVENLABS_API_KEY": KEY})
    assert done.returncode == 11, done.stderr
    assert "budget" in done.stderr and "run the same command again" in done.stderr
    finished = cached_keys(book.keys)
    sent = sum(len(s.text) for s, key in zip(book.segments, book.keys) if key in finished)
    assert 0 < sent <= limit and first["characters"] <= limit + len(finished)

    with served() as (url, second):
        write_job(tmp_path, url)
        code, _, err = run_job(job)
    assert code == 0, err
    assert second["characters"] == served_characters(s for s, key in zip(book.segments, book.keys)
                                                     if key not in finished)
