"""`narrator run`, `status`, `estimate` and `cache` as a user runs them: real
processes on real job files, offline (the embedded engine, or `narrator serve`
standing in for ElevenLabs)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import miniaudio

from narrator.book.cache import SegmentCache
from narrator.jobs.jobfile import load_job
from narrator.jobs.pricing import PLANS
from narrator.runner import plan_book
from narrator.settings import NarrateOptions
from narrator.text import read_document
from tests.helpers import ROOT, SAMPLES
from tests.test_cli import narrator
from tests.test_cli_service import KEY, served

KEY_ENV = {"ELEVENLABS_API_KEY": KEY}


def example(tmp_path: Path) -> Path:
    """The shipped example job, with the samples where its relative paths expect them."""
    (tmp_path / "jobs").mkdir()
    shutil.copy(ROOT / "jobs" / "example.toml", tmp_path / "jobs" / "example.toml")
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    return tmp_path / "jobs" / "example.toml"


def planned(path: Path):
    """The job's books as a run would plan them: (segments, characters, keys) over all its books."""
    job = load_job(path, progress=False)
    books = [plan_book(read_document(d), job.options) for d in job.inputs]
    return (sum(len(b.segments) for b in books), sum(b.characters for b in books),
            {k for b in books for k in b.keys})


def write_job(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(body)
    return path


def cloud_job(folder: Path, name: str, url: str, extra: str = "") -> Path:
    """An ElevenLabs job against `narrator serve` at `url`: lighthouse.md into out/NAME."""
    return write_job(folder, name, f'input = "{SAMPLES / "lighthouse.md"}"\noutput = "../out/{name}"\n'
                                   f'provider = "elevenlabs"\nendpoint = "{url}"\ntimeout = 2\n{extra}')


def seconds_of(mp3: Path) -> float:
    decoded = miniaudio.mp3_read_s16(mp3.read_bytes())
    return decoded.num_frames / decoded.sample_rate


def cache_files(root: Path) -> list[Path]:
    return sorted((root / "segments").glob("*/*.seg"))


def report_entry(path: Path) -> dict:
    report = json.loads(path.read_text())
    (entry,) = report["jobs"]
    return report, entry


# run


def test_run_makes_the_example_then_a_second_run_sends_nothing(tmp_path):
    path = example(tmp_path)
    segments, characters, _ = planned(path)
    done = narrator("run", "jobs/example.toml", "--report", tmp_path / "report.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith("example: done; 1 of 1 books made, ")
    sent = characters  # the plan counts what the wire carries, as the pool does: one count
    assert f"{sent:,} characters sent, 0 from the cache, 0 retries" in line \
        and "about $0.00 (free plan)" in line

    out = tmp_path / "out" / "example"
    mp3 = out / "lighthouse.mp3"
    seconds = seconds_of(mp3)
    assert seconds > 60
    assert f"{seconds / 60:.1f} min of audio" in line
    assert (out / "lighthouse.srt").read_text().startswith("1\n00:00:00,")
    assert (out / "lighthouse.vtt").read_text().startswith("WEBVTT\n\n00:00:00.")

    report, entry = report_entry(tmp_path / "report.json")
    assert report["exit_code"] == 0 and report["started"] <= report["finished"]
    assert entry["state"] == "done" and entry["error"] is None
    assert (tmp_path / entry["job"]).resolve() == path
    assert entry["characters_sent"] == sent > 0
    assert entry["characters_from_cache"] == 0
    assert abs(entry["audio_seconds"] - seconds) < 0.5
    assert entry["retries"] == 0 and 0 < entry["wall_seconds"] < 120
    assert entry["estimated_cost_usd"] == 0 and entry["billed_characters"] == 0 \
        and entry["price_plan"] == "free"
    (book,) = entry["books"]
    assert book["made"] is True \
        and (tmp_path / book["input"]).resolve() == tmp_path / "samples" / "lighthouse.md"
    assert len(cache_files(SegmentCache().root)) == segments

    mtime = mp3.stat().st_mtime_ns
    again = narrator("run", "jobs/example.toml", "--report", tmp_path / "again.json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == ["example: done; every book up to date, nothing sent"]
    report, entry = report_entry(tmp_path / "again.json")
    assert report["exit_code"] == 0 and entry["state"] == "done"
    assert entry["characters_sent"] == 0 and entry["characters_from_cache"] == 0 \
        and entry["audio_seconds"] == 0
    assert [b["made"] for b in entry["books"]] == [False]
    assert mp3.stat().st_mtime_ns == mtime, "an up-to-date book is not written again"


def test_status_says_pending_then_done(tmp_path):
    path = example(tmp_path)
    segments, _, _ = planned(path)
    before = narrator("status", path)
    assert before.returncode == 0, before.stderr
    assert before.stdout == f"example: pending (0 of {segments} segments finished in 1 of 1 books)\n"
    assert narrator("run", path).returncode == 0
    after = narrator("status", tmp_path / "jobs")
    assert after.returncode == 0 and after.stdout == "example: done (1 book up to date)\n"
    # The book gone but every segment kept: not done, and nothing left to send.
    (tmp_path / "out" / "example" / "lighthouse.mp3").unlink()
    gone = narrator("status", path)
    assert not gone.stdout.startswith("example: done")
    assert f"({segments} of {segments} segments finished in 1 of 1 books: only the book files" in gone.stdout


def test_a_job_the_service_refuses_is_failed_exit_10_and_status_says_why(tmp_path):
    segments = len(plan_book(read_document(SAMPLES / "lighthouse.md"),
                             NarrateOptions(tmp_path, "elevenlabs")).segments)
    with served() as (url, stats):
        path = cloud_job(tmp_path / "jobs", "badvoice", url, 'voice = "no-such-voice"\n')
        done = narrator("run", path, "--report", tmp_path / "report.json", env=KEY_ENV)
    assert done.returncode == 10, done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith("badvoice: failed (") and "no-such-voice was not found" in line
    assert stats["characters"] == 0
    assert not (tmp_path / "out" / "badvoice" / "lighthouse.mp3").exists()
    report, entry = report_entry(tmp_path / "report.json")
    assert report["exit_code"] == 10 and entry["state"] == "failed" and "no-such-voice" in entry["error"]

    status = narrator("status", path)
    assert status.returncode == 0
    (line,) = status.stdout.splitlines()
    assert line.startswith("badvoice: failed (") and "no-such-voice was not found" in line
    assert line.endswith(f"; 0 of {segments} segments finished in 1 of 1 books")
    assert KEY not in done.stdout + done.stderr + status.stdout + status.stderr


def test_a_job_with_an_unknown_key_fails_alone_and_the_run_goes_on(tmp_path):
    jobs = tmp_path / "jobs"
    bad = write_job(jobs, "a-bad",
                    f'input = "{SAMPLES / "short-note.md"}"\noutput = "../out/a"\nstabilty = 0.5\n')
    write_job(jobs, "b-good", f'input = "{SAMPLES / "short-note.md"}"\noutput = "../out/b"\n')

    alone = narrator("run", bad)
    assert alone.returncode == 10, alone.stderr
    (line,) = alone.stdout.splitlines()
    assert line.startswith(f"a-bad: failed ({bad}: unknown key 'stabilty'; did you mean stability?")
    assert not (tmp_path / "out" / "a").exists()

    both = narrator("run", jobs)
    assert both.returncode == 10, both.stderr
    first, second = both.stdout.splitlines()
    assert first == line
    assert second.startswith("b-good: done; 1 of 1 books made")
    assert seconds_of(tmp_path / "out" / "b" / "short-note.mp3") > 5


def test_run_on_a_folder_without_jobs_or_a_missing_path_is_exit_3(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not a job")
    done = narrator("run", tmp_path / "empty")
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"narrator: error: {tmp_path / 'empty'}: no job files (*.toml) in this folder; "
        "see jobs/example.toml"]
    done = narrator("run", tmp_path / "missing.toml")
    assert done.returncode == 3 and "no such job file or folder" in done.stderr \
        and "Traceback" not in done.stderr


def test_a_job_budget_stops_the_run_with_exit_11_and_status_counts_segments(tmp_path):
    budget = 700
    with served() as (url, stats):
        path = cloud_job(tmp_path / "jobs", "budget", url, f"budget = {budget}\n")
        done = narrator("run", path, env=KEY_ENV)
    assert done.returncode == 11, done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith("budget: over budget (")
    assert 0 < stats["characters"] <= budget
    assert not (tmp_path / "out" / "budget" / "lighthouse.mp3").exists()
    segments, _, keys = planned(path)
    finished = len(cache_files(SegmentCache().root))
    assert 0 < finished < segments and SegmentCache().usage(keys).entries == finished

    status = narrator("status", path)
    assert status.returncode == 0
    (line,) = status.stdout.splitlines()
    assert line.startswith(("budget: over budget", "budget: partial"))
    assert line.endswith((f"{finished} of {segments} segments finished in 1 of 1 books)",
                          f"; {finished} of {segments} segments finished in 1 of 1 books"))


def test_the_report_of_a_job_over_budget_counts_what_it_sent(tmp_path):
    with served() as (url, stats):
        path = cloud_job(tmp_path / "jobs", "budget", url, "budget = 700\n")
        done = narrator("run", path, "--report", tmp_path / "report.json", env=KEY_ENV)
    assert done.returncode == 11 and stats["characters"] > 0
    report, entry = report_entry(tmp_path / "report.json")
    assert report["exit_code"] == 11 and entry["state"] == "over budget"
    assert 0 < entry["characters_sent"] <= 700
    assert entry["billed_characters"] == entry["characters_sent"] and entry["estimated_cost_usd"] > 0


def test_the_report_of_a_book_that_fails_after_sending_counts_what_it_sent(tmp_path):
    """ffmpeg that runs but fails: every segment was paid for before the M4B
    could not be made, and the report says so (it used to say 0)."""
    ffmpeg = tmp_path / "ffmpeg"
    ffmpeg.write_text("#!/bin/sh\necho 'no encoder here' >&2\nexit 1\n")
    ffmpeg.chmod(0o755)
    with served() as (url, stats):
        path = cloud_job(tmp_path / "jobs", "m4b", url, 'format = "m4b"\n')
        done = narrator("run", path, "--report", tmp_path / "report.json",
                        env={**KEY_ENV, "NARRATOR_FFMPEG": str(ffmpeg)})
    assert done.returncode == 10, done.stderr
    report, entry = report_entry(tmp_path / "report.json")
    assert entry["state"] == "failed" and "ffmpeg" in entry["error"]
    assert entry["characters_sent"] == stats["characters"] > 0
    assert entry["billed_characters"] == entry["characters_sent"]


def test_a_budget_that_fits_segments_exactly_is_not_crossed(tmp_path):
    book = plan_book(read_document(SAMPLES / "lighthouse.md"), NarrateOptions(tmp_path, "elevenlabs"))
    first = sorted(book.segments, key=lambda s: len(s.text), reverse=True)[:3]  # one session: longest first
    budget = sum(len(s.text) + 1 for s in first)  # the first three segments sent, exactly
    with served() as (url, stats):
        path = cloud_job(tmp_path / "jobs", "exact", url, f"budget = {budget}\nconcurrency = 1\n")
        done = narrator("run", path, env=KEY_ENV)
    assert done.returncode == 11, done.stderr
    assert len(cache_files(SegmentCache().root)) == 3
    assert stats["characters"] <= budget


def test_a_job_with_an_unknown_plan_fails_alone(tmp_path):
    jobs = tmp_path / "jobs"
    write_job(jobs, "a", f'input = "{SAMPLES / "short-note.md"}"\noutput = "../out/a"\nplan = "nosuch"\n')
    write_job(jobs, "b", f'input = "{SAMPLES / "short-note.md"}"\noutput = "../out/b"\n')
    done = narrator("run", jobs, "--report", tmp_path / "report.json")
    assert done.returncode == 10, done.stderr
    first, second = done.stdout.splitlines()
    assert first.startswith("a: failed (") and "nosuch" in first
    assert second.startswith("b: done")
    assert (tmp_path / "out" / "b" / "short-note.mp3").exists() and (tmp_path / "report.json").exists()


# estimate


def test_estimate_a_document_on_a_half_price_model(tmp_path):
    book = plan_book(read_document(SAMPLES / "lighthouse.md"), NarrateOptions(tmp_path))
    characters, segments = book.characters, len(book.segments)
    half = math.ceil(characters / 2)
    creator = PLANS["elevenlabs"]["creator"]
    done = narrator("estimate", SAMPLES / "lighthouse.md", "--provider", "elevenlabs",
                    "--model", "eleven_flash_v2_5")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"lighthouse.md: {segments} segments, {characters:,} characters; "
                           f"0 in the cache, {characters:,} to send; "
                           f"billed {half:,} (elevenlabs eleven_flash_v2_5); "
                           f"about ${half * creator / 1000:.2f} on the creator plan\n")
    full = narrator("estimate", SAMPLES / "lighthouse.md", "--provider", "elevenlabs")
    assert full.returncode == 0
    assert f"billed {characters:,} (elevenlabs eleven_multilingual_v2)" in full.stdout
    assert f"about ${characters * creator / 1000:.2f} on the creator plan" in full.stdout


def test_estimate_with_a_price_file(tmp_path):
    prices = tmp_path / "prices.toml"
    prices.write_text('[plans.elevenlabs]\nmyplan = 10.0\ncreator = 1.0\n\n'
                      '[default]\nelevenlabs = "myplan"\n')
    characters = plan_book(read_document(SAMPLES / "short-note.md"), NarrateOptions(tmp_path)).characters
    done = narrator("estimate", SAMPLES / "short-note.md", "--provider", "elevenlabs", "--prices", prices)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(f"about ${characters * 10 / 1000:.2f} on the myplan plan\n")
    done = narrator("estimate", SAMPLES / "short-note.md", "--provider", "elevenlabs", "--prices", prices,
                    "--plan", "creator")
    assert done.stdout.endswith(f"about ${characters * 1 / 1000:.2f} on the creator plan\n")
    prices.write_text("[plans.elevenlabs]\nmyplan = -1\n")
    bad = narrator("estimate", SAMPLES / "short-note.md", "--provider", "elevenlabs", "--prices", prices)
    assert bad.returncode == 3 and "plans.elevenlabs.myplan" in bad.stderr


def test_estimate_a_job_before_and_after_it_ran(tmp_path):
    path = example(tmp_path)
    segments, characters, _ = planned(path)
    before = narrator("estimate", path)
    assert before.returncode == 0, before.stderr
    assert before.stdout == (f"lighthouse.md: {segments} segments, {characters:,} characters; "
                             f"0 in the cache, {characters:,} to send; billed 0 (local); "
                             "about $0.00 on the free plan\n")
    assert narrator("run", path).returncode == 0
    after = narrator("estimate", tmp_path / "jobs")
    assert after.returncode == 0, after.stderr
    assert f"{characters:,} characters; {characters:,} in the cache, 0 to send" in after.stdout


def test_estimate_refuses_settings_options_with_a_job_file(tmp_path):
    path = example(tmp_path)
    for option, named in ((["--voice", "en"], "--voice"), (["--provider", "local"], "--provider"),
                          (["--concurrency", "2"], "--concurrency"), (["--no-titles"], "--titles")):
        done = narrator("estimate", path, *option)
        assert done.returncode == 2, (option, done.stderr)
        assert f"{named} applies to a document: a job file carries its own settings" in done.stderr
        assert done.stdout == ""


def test_estimate_names_the_option_given_with_a_job_file(tmp_path):
    done = narrator("estimate", example(tmp_path), "--pronunciation-dictionary", "dict1")
    assert done.returncode == 2
    assert "--pronunciation-dictionary applies to a document" in done.stderr


# cache


def test_cache_prune_keeps_a_jobs_segments_and_all_removes_them(tmp_path, fresh_cache):
    path = example(tmp_path)
    segments, characters, keys = planned(path)
    assert narrator("run", path).returncode == 0
    other = narrator("narrate", SAMPLES / "short-note.md", "-o", tmp_path / "other")
    assert other.returncode == 0, other.stderr
    files = cache_files(fresh_cache)
    extra = len(files) - segments
    assert extra > 0

    shown = narrator("cache")
    assert shown.returncode == 0
    size = sum(f.stat().st_size for f in files)
    text = SegmentCache().usage().characters
    assert text > characters
    assert shown.stdout == (f"{fresh_cache}: {len(files)} segments, {size / 1e6:.1f} MB, "
                            f"{text:,} characters of text\n")

    dry = narrator("cache", "prune", tmp_path / "jobs", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.startswith(f"would remove {extra} segments, ")
    assert cache_files(fresh_cache) == files
    pruned = narrator("cache", "prune", tmp_path / "jobs")
    assert pruned.returncode == 0
    assert pruned.stdout.startswith(f"removed {extra} segments, ")
    assert pruned.stdout.rstrip().endswith(f"kept those of {segments} planned segments")
    assert {f.stem for f in cache_files(fresh_cache)} == keys

    # The book made again from the cache alone: nothing sent.
    shutil.rmtree(tmp_path / "out" / "example")
    again = narrator("run", path, "--report", tmp_path / "again.json")
    assert again.returncode == 0, again.stderr
    _, entry = report_entry(tmp_path / "again.json")
    assert entry["characters_sent"] == 0 and entry["characters_from_cache"] == characters
    assert f"0 characters sent, {characters:,} from the cache" in again.stdout

    dry = narrator("cache", "prune", "--all", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.startswith(f"would remove {segments} segments, ")
    assert len(cache_files(fresh_cache)) == segments
    everything = narrator("cache", "prune", "--all")
    assert everything.returncode == 0 and everything.stdout.startswith(f"removed {segments} segments, ")
    assert cache_files(fresh_cache) == []
    assert narrator("cache").stdout == f"{fresh_cache}: 0 segments, 0.0 MB, 0 characters of text\n"

    shutil.rmtree(tmp_path / "out" / "example")
    third = narrator("run", path, "--report", tmp_path / "third.json")
    assert third.returncode == 0, third.stderr
    _, entry = report_entry(tmp_path / "third.json")
    assert entry["characters_sent"] == characters and entry["characters_from_cache"] == 0


def test_cache_prune_without_a_target_is_a_usage_error(tmp_path):
    done = narrator("cache", "prune")
    assert done.returncode == 2
    assert "name the job files or folders whose segments to keep, or give --all" in done.stderr


def test_cache_prune_all_with_targets_is_not_silently_a_targeted_prune(tmp_path, fresh_cache):
    path = example(tmp_path)
    assert narrator("run", path).returncode == 0
    done = narrator("cache", "prune", tmp_path / "jobs", "--all")
    assert done.returncode == 2 or cache_files(fresh_cache) == []
