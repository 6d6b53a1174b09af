"""FolderLock with real processes: a holder, a refusal, a kill -9, a takeover."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from narrator.book.lock import LOCK_NAME, FolderLock
from narrator.errors import ExitCode, LockedError

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from narrator.book.lock import FolderLock
    with FolderLock(Path(sys.argv[1]), command="narrate book.md"):
        print("held", flush=True)
        time.sleep(60)
""")


@pytest.fixture
def holder(tmp_path):
    """A child process holding the lock on tmp_path/out, killed at the end whatever happens."""
    folder = tmp_path / "out"
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "held\n"  # only now is the lock certainly taken
        yield folder, child
    finally:
        child.kill()
        child.wait()
        child.stdout.close()


def test_a_held_folder_is_refused_naming_the_holder(holder):
    folder, child = holder
    with pytest.raises(LockedError) as refused, FolderLock(folder):
        pytest.fail("entered a folder another run holds")
    message = str(refused.value)
    assert f"pid {child.pid} on " in message
    assert message.startswith(f"{folder} is being narrated by another run")
    assert message.endswith("this run leaves it alone; try again when that one ends")
    assert "\n" not in message
    assert refused.value.exit_code == ExitCode.LOCKED


def test_a_lock_left_by_a_killed_run_is_taken_over(holder, caplog):
    folder, child = holder
    # kill -9: no finally, no atexit, the record stays; only the kernel lets go.
    child.send_signal(signal.SIGKILL)
    child.wait()
    with caplog.at_level(logging.INFO, logger="narrator"), FolderLock(folder) as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    taking_over = f"taking over the lock on {folder} left by pid {child.pid}, which is no longer running"
    assert taking_over in caplog.text


def test_the_record_says_who_holds_the_lock(holder):
    folder, child = holder
    record = json.loads((folder / LOCK_NAME).read_text())
    assert record["pid"] == child.pid
    assert record["command"] == "narrate book.md"
    assert record["started"].endswith("+00:00")  # UTC
    assert set(record) == {"pid", "host", "started", "command"}


def test_a_released_lock_is_taken_again_without_a_takeover_line(tmp_path, caplog):
    with FolderLock(tmp_path):
        pass
    with caplog.at_level(logging.INFO, logger="narrator"), FolderLock(tmp_path):
        pass
    assert "taking over" not in caplog.text
    # The file stays (deleting it would race with a waiter): only its record is emptied.
    assert (tmp_path / LOCK_NAME).read_text() == ""


def test_two_locks_in_one_process_exclude_each_other(tmp_path):
    # flock belongs to the open file description, not the process: a second
    # open of the same file in the same process is refused like another run.
    with FolderLock(tmp_path), pytest.raises(LockedError, match=f"pid {os.getpid()} on "):
        FolderLock(tmp_path).acquire()
    with FolderLock(tmp_path):  # and the refusal left nothing behind
        pass


def test_a_refused_run_leaves_the_holders_record_alone(tmp_path):
    with FolderLock(tmp_path, command="first") as first:
        with pytest.raises(LockedError):
            FolderLock(tmp_path, command="second").acquire()
        assert json.loads(first.path.read_text())["command"] == "first"


def test_an_unreadable_record_just_says_another_run(tmp_path):
    with FolderLock(tmp_path) as lock:
        lock.path.write_text("{not json")
        with pytest.raises(LockedError) as refused:
            FolderLock(tmp_path).acquire()
    refusal = f"{tmp_path} is being narrated by another run: this run leaves it alone"
    assert str(refused.value).startswith(refusal)


def test_an_empty_record_just_says_another_run(tmp_path):
    with FolderLock(tmp_path) as lock:
        lock.path.write_text("")
        with pytest.raises(LockedError, match="by another run: this run"):
            FolderLock(tmp_path).acquire()


def test_the_folder_is_made_when_missing(tmp_path):
    folder = tmp_path / "books" / "new"
    with FolderLock(folder):
        assert (folder / LOCK_NAME).is_file()
