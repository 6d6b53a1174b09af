"""The command line as a user runs it: real processes, real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys

import miniaudio
import pytest

from tests.helpers import SAMPLES


def narrator(*args, env=None, cwd=None):
    environment = {k: v for k, v in os.environ.items() if k != "ELEVENLABS_API_KEY"}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "narrator", *map(str, args)], capture_output=True, text=True,
                          env=environment, cwd=cwd, timeout=300)


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.iterdir()))
def test_each_sample_narrates_into_mp3_srt_and_vtt(sample, tmp_path):
    done = narrator("narrate", SAMPLES / sample, "-o", tmp_path)
    assert done.returncode == 0, done.stderr
    stem = sample.rsplit(".", 1)[0]
    mp3 = tmp_path / f"{stem}.mp3"
    decoded = miniaudio.mp3_read_s16(mp3.read_bytes())
    assert decoded.num_frames / decoded.sample_rate > 10
    srt, vtt = (tmp_path / f"{stem}.srt").read_text(), (tmp_path / f"{stem}.vtt").read_text()
    assert srt.startswith("1\n00:00:00,") and vtt.startswith("WEBVTT\n\n00:00:00.")
    assert "Traceback" not in done.stderr
    # Not a terminal: progress comes as log lines, not a bar.
    assert f"narrator: {stem}: 100%" in done.stderr and "\r" not in done.stderr
    assert str(mp3) in done.stdout


def bad(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name, data, says", [
    ("binary.txt", b"\x00\x01\x02 not text", "binary"),
    ("latin1.txt", "caf\xe9 au lait".encode("latin-1"), "UTF-8"),
    ("code-only.md", b"# Title\n\n```\nprint(1)\n```\n", "no prose"),
    ("notes.pdf", b"%PDF-1.4", ".md"),
])
def test_bad_documents_are_one_line_and_exit_4(tmp_path, name, data, says):
    path = bad(tmp_path, name, data)
    done = narrator("narrate", path, "-o", tmp_path / "out")
    assert done.returncode == 4
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("narrator: error: ") and says in lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_bad_document_does_not_stop_the_others(tmp_path):
    broken = bad(tmp_path, "broken.txt", b"\x00\x00")
    done = narrator("narrate", broken, SAMPLES / "short-note.md", "-o", tmp_path / "out")
    assert done.returncode == 4
    assert (tmp_path / "out" / "short-note.mp3").exists() and "broken.txt" in done.stderr


def test_missing_key_for_the_cloud_is_an_auth_error(tmp_path):
    done = narrator("narrate", SAMPLES / "short-note.md", "--provider", "elevenlabs", "-o", tmp_path,
                    cwd=tmp_path)
    assert done.returncode == 6 and "ELEVENLABS_API_KEY" in done.stderr and "Traceback" not in done.stderr


def test_key_from_dotenv_is_used_and_never_printed(tmp_path):
    (tmp_path / ".env").write_text("ELEVENLABS_API_KEY=sk-dotenv-secret\n")
    done = narrator("narrate", SAMPLES / "short-note.md", "--provider", "elevenlabs",
                    "--endpoint", "ws://127.0.0.1:9", "--timeout", "2", "-o", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 5  # nothing listens on port 9: a connection error, after retries
    assert "sk-dotenv-secret" not in done.stderr + done.stdout
    assert "could not connect" in done.stderr


@pytest.mark.parametrize("option, value, says", [
    ("--speed", "1.5", "from 0.7 to 1.2"),
    ("--stability", "-0.2", "from 0 to 1"),
    ("--seed", "4294967296", "from 0 to 4294967295"),
    ("--chunk-schedule", "120,40", "from 50 to 500"),
    ("--inactivity-timeout", "300", "from 1 to 180 seconds"),
    ("--language", "English", "ISO 639-1"),
    ("--pronunciation-dictionary", "dict/1", "ID[:VERSION]"),
])
def test_a_setting_out_of_range_is_one_config_line_before_connecting(tmp_path, option, value, says):
    # Nothing listens on port 9: had it tried to connect, this would be exit 5, "could not connect".
    done = narrator("narrate", SAMPLES / "short-note.md", "--provider", "elevenlabs", "--endpoint", "ws://127.0.0.1:9",
                    option, value, "-o", tmp_path / "out", env={"ELEVENLABS_API_KEY": "sk-test"})
    assert done.returncode == 3, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"narrator: error: {option} ") and value in line and says in line
    assert not (tmp_path / "out").exists()


def test_region_and_endpoint_together_is_one_line(tmp_path):
    done = narrator("narrate", SAMPLES / "short-note.md", "--provider", "elevenlabs", "--region", "eu",
                    "--endpoint", "ws://127.0.0.1:9", "-o", tmp_path / "out",
                    env={"ELEVENLABS_API_KEY": "sk-test"})
    assert done.returncode == 3
    assert done.stderr.splitlines() == [
        "narrator: error: --region and --endpoint both say where to connect: give only one of them"]


def test_bad_options_exit_2(tmp_path):
    assert narrator("narrate", SAMPLES / "short-note.md", "--format", "wav").returncode == 2
    assert narrator("narrate", SAMPLES / "short-note.md", "--concurrency", "0").returncode == 2
    assert narrator("narrate", SAMPLES / "short-note.md", "--speed", "fast").returncode == 2
    assert narrator("narrate", SAMPLES / "short-note.md", "--chunk-schedule", "120,x").returncode == 2
    assert narrator("narrate", SAMPLES / "short-note.md", "--region", "mars").returncode == 2
    assert narrator("serve", "--faults", "explode=1").returncode == 3


def test_version():
    done = narrator("--version")
    assert done.returncode == 0 and done.stdout.startswith("narrator, version ")
