"""Operating-system failures under real conditions: a file where a folder
should be, a file-size limit, a port in use, a bad certificate, Ctrl-C. Each
is one line and a documented exit code, and finished work is kept."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from narrator.errors import ExitCode
from tests.helpers import SAMPLES, generated_book
from tests.test_cli import narrator


def write_markdown(path: Path, paragraphs: int, chapters: int, seed: int = 3) -> Path:
    book = generated_book(paragraphs, chapters=chapters, seed=seed)
    path.write_text("# Long\n\n" + "\n\n".join(
        f"## {c.title}\n\n" + "\n\n".join(c.paragraphs) for c in book.chapters))
    return path


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("narrator: error:")]
    assert "Traceback" not in done.stderr
    return line


def cache_entries(cache: Path) -> set[Path]:
    return set((cache / "segments").glob("*/*.seg"))


def test_an_output_folder_under_a_file_is_one_line(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    done = narrator("narrate", SAMPLES / "short-note.md", "-o", tmp_path / "a-file" / "out")
    assert done.returncode == ExitCode.IO
    line = error_line(done)
    assert str(tmp_path / "a-file") in line and "Not a directory" in line


def test_a_file_size_limit_while_the_book_is_written(tmp_path):
    """The chapter files fit under the limit, the whole book does not: one
    line, no part file left, the earlier book whole, every segment kept."""
    book, out, cache = write_markdown(tmp_path / "book.md", 24, 3), tmp_path / "out", tmp_path / "cache"
    env = {**os.environ, "NARRATOR_CACHE": str(cache)}
    first = subprocess.run([sys.executable, "-m", "narrator", "narrate", book, "-o", out], env=env,
                           capture_output=True, text=True, timeout=300, check=False)
    assert first.returncode == 0, first.stderr
    earlier, entries = (out / "book.mp3").read_bytes(), cache_entries(cache)
    largest_chapter = max(p.stat().st_size for p in (out / "book").iterdir())
    assert largest_chapter < len(earlier) // 2
    limit = largest_chapter + 4096

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    again = subprocess.run([sys.executable, "-m", "narrator", "narrate", book, "-o", out, "--force"], env=env,
                           capture_output=True, text=True, timeout=300, check=False, preexec_fn=limited)
    assert again.returncode == ExitCode.IO, again.stderr
    line = error_line(again)
    assert "File too large" in line and "finished segments are kept" in line
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
    assert (out / "book.mp3").read_bytes() == earlier
    assert cache_entries(cache) == entries


def test_a_port_in_use_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = narrator("serve", "--port", port)
    assert done.returncode == ExitCode.IO
    line = error_line(done)
    assert f"127.0.0.1:{port}" in line and "address already in use" in line


def test_a_certificate_that_is_not_one_is_one_line(tmp_path):
    (tmp_path / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n")
    done = narrator("serve", "--port", "0", "--certfile", tmp_path / "cert.pem")
    assert done.returncode == ExitCode.IO
    assert "could not load the certificate" in error_line(done)


def test_ctrl_c_keeps_finished_segments_and_exits_130(tmp_path):
    # Long enough that no machine, however fast, finishes it before the signal lands.
    book, cache = write_markdown(tmp_path / "long.md", 3000, 3), tmp_path / "cache"
    process = subprocess.Popen([sys.executable, "-m", "narrator", "narrate", book, "-o", tmp_path / "out"],
                               env={**os.environ, "NARRATOR_CACHE": str(cache)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not cache_entries(cache) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == ExitCode.INTERRUPTED, err
    assert err.rstrip().splitlines()[-1] == (
        "narrator: interrupted; finished segments are kept: run the same command again to go on")
    assert "Traceback" not in err and cache_entries(cache)
    assert not (tmp_path / "out" / "long.mp3").exists()


def test_run_records_a_job_whose_folder_is_a_file_as_failed_and_goes_on(tmp_path):
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (tmp_path / "a-file").write_text("not a folder")
    (jobs / "a.toml").write_text(f'input = "{SAMPLES / "short-note.md"}"\noutput = "../a-file/out"\n')
    (jobs / "b.toml").write_text(f'input = "{SAMPLES / "short-note.md"}"\noutput = "../out"\n')
    done = narrator("run", jobs)
    assert done.returncode == ExitCode.JOBS_FAILED, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("a: failed (") and "Not a directory" in lines[0]
    assert lines[1].startswith("b: done") and (tmp_path / "out" / "short-note.mp3").is_file()
    assert "Traceback" not in done.stderr
