"""Outcomes no better than they are: a book made with estimated captions or
audio still short is "done with warnings" in the manifest, the run line, the
report and `status`, and `--strict` makes it a failure (exit 14). Against
`narrator serve` in its own process."""

from __future__ import annotations

import json

from narrator.errors import ExitCode
from tests.helpers import SAMPLES
from tests.test_cli import narrator
from tests.test_cli_service import KEY, served

SARVAM = {"SARVAM_API_KEY": KEY}


def sarvam_job(folder, url, extra: str = ""):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "talk.toml"
    path.write_text(f'input = "{SAMPLES / "short-note.md"}"\noutput = "../out"\nprovider = "sarvam"\n'
                    f'endpoint = "{url}"\ntimeout = 3\ncaptions = ["srt", "json"]\n{extra}')
    return path


def test_estimated_captions_are_a_warning_everywhere_it_is_told(tmp_path):
    with served() as (url, _):
        job = sarvam_job(tmp_path / "jobs", url)
        done = narrator("run", job, "--report", tmp_path / "report.json", env=SARVAM)
        status = narrator("status", job, env=SARVAM)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith("talk: done with warnings (short-note.md: captions estimated in 1 chapter); ")
    book = json.loads((tmp_path / "report.json").read_text())["jobs"][0]
    assert book["state"] == "done with warnings"
    assert book["books"][0]["warnings"] == ["captions estimated in 1 chapter"]
    manifest = json.loads((tmp_path / "out" / ".short-note.narrator.json").read_text())
    assert manifest["warnings"] == ["captions estimated in 1 chapter"]
    assert status.stdout.strip() == ("talk: done with warnings: short-note.md: captions estimated in "
                                     "1 chapter (1 book up to date)")
    words = json.loads((tmp_path / "out" / "short-note.json").read_text())["words"]
    assert words and all(word["estimated"] is True for word in words)


def test_strict_makes_warnings_a_failure_and_the_files_are_still_written(tmp_path):
    with served() as (url, _):
        job = sarvam_job(tmp_path / "jobs", url, "strict = true\n")
        done = narrator("run", job, env=SARVAM)
        narrate = narrator("narrate", SAMPLES / "short-note.md", "--provider", "sarvam", "--endpoint", url,
                           "--strict", "-o", tmp_path / "out", env=SARVAM)
        lenient = narrator("narrate", SAMPLES / "short-note.md", "--provider", "sarvam", "--endpoint", url,
                           "-o", tmp_path / "out", env=SARVAM)
    assert done.returncode == ExitCode.STRICT, done.stderr
    assert done.stdout.startswith("talk: failed on warnings (")
    assert (tmp_path / "out" / "short-note.mp3").is_file()
    assert narrate.returncode == ExitCode.STRICT
    assert narrate.stderr.splitlines()[-1] == ("narrator: error: short-note: made with warnings: captions "
                                               "estimated in 1 chapter (--strict); its files are written")
    # Up to date, but made with warnings: without --strict that is done; with it, a failure again.
    assert lenient.returncode == 0 and "up to date" in lenient.stdout
    again = narrator("narrate", SAMPLES / "short-note.md", "--provider", "sarvam", "--endpoint", "ws://127.0.0.1:9",
                     "--strict", "-o", tmp_path / "out", env=SARVAM)
    assert again.returncode == ExitCode.STRICT and "made with warnings" in again.stderr


def test_timed_words_carry_no_estimate_mark(tmp_path):
    done = narrator("narrate", SAMPLES / "short-note.md", "--captions", "json", "-o", tmp_path)
    assert done.returncode == 0, done.stderr
    words = json.loads((tmp_path / "short-note.json").read_text())["words"]
    assert words and not any("estimated" in word for word in words)


def test_audio_still_short_is_a_warning(tmp_path):
    with served("--faults", "truncate=1,seed=4") as (url, _):
        done = narrator("narrate", SAMPLES / "short-note.md", "--provider", "sarvam", "--endpoint", url,
                        "--timeout", "3", "-o", tmp_path, env=SARVAM)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / ".short-note.narrator.json").read_text())
    short, estimated = manifest["warnings"]
    assert short.startswith(("1 short segment in '", "2 short segments in '"))
    assert estimated == "captions estimated in 1 chapter"
