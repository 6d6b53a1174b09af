"""The command line against `narrator serve` in its own process, as a user
would rehearse a cloud run: faults, a wrong key, a quota that runs out."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys

from narrator.book.cache import SegmentCache
from narrator.runner import plan_book
from narrator.settings import NarrateOptions
from narrator.text import read_document
from tests.helpers import SAMPLES, spoken_words, srt_words
from tests.test_cli import narrator

KEY = "sk-rehearsal-key-4242"


@contextlib.contextmanager
def served(*args):
    """`narrator serve` on a free port; yields its URL and, after it stops, its statistics."""
    process = subprocess.Popen(
        [sys.executable, "-m", "narrator", "serve", "--port", "0", *args],
        env={**os.environ, "NARRATOR_SERVE_API_KEY": KEY},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    stats = {}
    try:
        line = process.stderr.readline()
        url = re.search(r"listening on (\S+)", line).group(1)
        yield url, stats
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
        stats.update(json.loads(out.strip().splitlines()[-1]))


def narrate(url, out, *extra, key=KEY):
    return narrator("narrate", SAMPLES / "lighthouse.md", "--provider", "elevenlabs", "--endpoint", url,
                    "--timeout", "2", "-o", out, *extra, env={"ELEVENLABS_API_KEY": key})


def error_lines(done):
    return [line for line in done.stderr.splitlines() if line.startswith("narrator: error:")]


def test_a_book_comes_out_whole_through_high_fault_rates_and_the_waste_is_printed(tmp_path):
    faults = "drop=0.1,close1011=0.05,http429=0.2,stall=0.05,garbage=0.05,nullalign=0.2,seed=8"
    with served("--faults", faults) as (url, stats):
        done = narrate(url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert sum(stats["faults"].values()) >= 3
    waste = float(re.search(r"waste (\d+\.\d\d)", done.stdout).group(1))
    assert 1.0 <= waste < 2.0, done.stdout
    book = read_document(SAMPLES / "lighthouse.md")
    assert srt_words(tmp_path / "lighthouse.srt") == spoken_words(book), "every word once, in order"
    assert KEY not in done.stdout + done.stderr


def test_a_wrong_key_is_one_line_exit_6_and_never_shown(tmp_path):
    with served() as (url, _):
        done = narrate(url, tmp_path, key="sk-wrong-but-secret-99")
    assert done.returncode == 6
    assert len(error_lines(done)) == 1 and "Traceback" not in done.stderr
    assert "sk-wrong-but-secret-99" not in done.stdout + done.stderr


def test_an_exhausted_quota_is_one_line_exit_7_and_loses_nothing(tmp_path):
    with served("--faults", "quota=1200") as (url, _):
        done = narrate(url, tmp_path)
    assert done.returncode == 7, done.stderr
    [line] = error_lines(done)
    assert "quota" in line and "characters remain" in line and "Traceback" not in done.stderr
    kept = SegmentCache().usage().entries
    assert kept > 0 and not (tmp_path / "lighthouse.mp3").exists()

    with served() as (url, stats):
        again = narrate(url, tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"{kept} segments were finished by an earlier run" in again.stdout
    assert stats["characters"] < os.path.getsize(SAMPLES / "lighthouse.md")


def test_sarvam_narrates_through_faults_with_estimated_captions(tmp_path):
    with served("--faults", "drop=0.1,close1011=0.1,http429=0.2,truncate=0.1,seed=3") as (url, stats):
        done = narrator("narrate", SAMPLES / "lighthouse.md", "--provider", "sarvam", "--endpoint", url,
                        "--voice", "anushka", "--language", "en-IN", "--pace", "1.2", "--timeout", "3",
                        "-o", tmp_path, env={"SARVAM_API_KEY": KEY})
    assert done.returncode == 0, done.stderr
    assert sum(stats["faults"].values()) >= 2
    book = read_document(SAMPLES / "lighthouse.md")
    assert srt_words(tmp_path / "lighthouse.srt") == spoken_words(book)
    assert "captions estimated (no timing from the service) in:" in done.stdout
    assert KEY not in done.stdout + done.stderr


def test_options_of_the_other_provider_are_refused_before_connecting(tmp_path):
    done = narrator("narrate", SAMPLES / "short-note.md", "--provider", "sarvam", "--stability", "0.5",
                    "--endpoint", "ws://127.0.0.1:9", "-o", tmp_path / "out", env={"SARVAM_API_KEY": KEY})
    assert done.returncode == 3 and len(error_lines(done)) == 1 and "--pace" in done.stderr
    done = narrator("narrate", SAMPLES / "short-note.md", "--pace", "1.5", "-o", tmp_path / "out")
    assert done.returncode == 3 and "--provider sarvam" in done.stderr
    done = narrator("narrate", SAMPLES / "short-note.md", "--provider", "sarvam", "--pace", "9",
                    "--endpoint", "ws://127.0.0.1:9", "-o", tmp_path / "out", env={"SARVAM_API_KEY": KEY})
    assert done.returncode == 3 and "0.3" in done.stderr and "3.0" in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_key_echoed_back_by_the_service_is_redacted(tmp_path):
    """The service's error repeats the request's voice id, here the key itself."""
    with served() as (url, _):
        done = narrate(url, tmp_path, "--voice", KEY)
    assert done.returncode == 5 and "was not found" in done.stderr
    assert KEY not in done.stdout + done.stderr and "[redacted]" in done.stderr


def test_endpoints_that_cannot_be_used_are_one_line_exit_3(tmp_path):
    for endpoint in ("ws://127.0.0.1:99999", "ws://[::1", "https://api.elevenlabs.io"):
        done = narrate(endpoint, tmp_path / "out")
        assert done.returncode == 3 and len(error_lines(done)) == 1 \
            and "Traceback" not in done.stderr, endpoint
    done = narrator("narrate", SAMPLES / "short-note.md", "--endpoint", "ws://127.0.0.1:9",
                    "-o", tmp_path / "out")
    assert done.returncode == 3 and "--provider elevenlabs or sarvam" in done.stderr
    assert not (tmp_path / "out").exists(), "nothing is made before the settings are known good"


def test_a_refused_handshake_spends_no_budget(tmp_path):
    """A budget of exactly the book's characters is enough however often the
    service refuses a connection: only text that goes on the wire counts."""
    options = NarrateOptions(tmp_path, provider="elevenlabs")
    characters = plan_book(read_document(SAMPLES / "lighthouse.md"), options).characters
    with served("--faults", "http429=0.6,seed=3") as (url, stats):
        done = narrate(url, tmp_path / "out", "--max-characters", str(characters))
    assert done.returncode == 0, done.stderr
    assert stats["faults"].get("http429", 0) > 0 and stats["characters"] == characters
