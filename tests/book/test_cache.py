"""The segment cache with real files: damage of every kind reads as missing
(and is removed), a writer killed at any instant leaves no damaged entry,
and usage / prune count and remove exactly what they say."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from narrator.book.cache import MAGIC, STRAY_AFTER_SECONDS, SegmentCache, Usage
from narrator.book.timeline import SegmentAudio, TimedWord
from narrator.errors import AudioError

WORDS = (TimedWord("Quiet", 0.0, 310.5, False), TimedWord("harbour.", 320.0, 804.25, True))


def key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def audio(frames: bytes = b"\xff\xfb" + bytes(range(256)) * 40, words=WORDS, estimated=False) -> SegmentAudio:
    # As the timeline makes them: an estimated segment's words are marked estimated.
    marked = tuple(replace(w, estimated=estimated) for w in words)
    return SegmentAudio(frames, 1152 * 9, 44100, marked, estimated)


def frames_of(cache: SegmentCache, entry) -> bytes:
    out = io.BytesIO()
    cache.copy_frames(entry, out)
    return out.getvalue()


def flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def strays(cache: SegmentCache) -> list[Path]:
    return list(cache.root.glob("segments/*/.*.part"))


@pytest.fixture
def cache(tmp_path) -> SegmentCache:
    return SegmentCache(tmp_path / "cache")


@pytest.fixture
def stored(cache):
    """One whole entry and its file."""
    k = key("one")
    cache.put(k, audio(), characters=15)
    return k, cache.get(k).path


# --- round trip ------------------------------------------------------------


def test_put_then_get_gives_back_frames_words_and_meta(cache):
    k, sound = key("one"), audio(estimated=True)
    cache.put(k, sound, characters=15)
    entry = cache.get(k)
    assert frames_of(cache, entry) == sound.frames
    assert entry.words == list(sound.words)
    meta = entry.meta
    assert (meta["samples"], meta["sample_rate"], meta["estimated"]) == (1152 * 9, 44100, True)
    assert entry.meta["characters"] == 15
    assert list(cache.keys()) == [k]


def test_a_missing_key_is_none(cache):
    assert cache.get(key("never made")) is None


# --- damage reads as missing, and is removed -------------------------------


def test_a_truncated_entry_is_missing_and_removed(cache, stored):
    k, path = stored
    os.truncate(path, path.stat().st_size - 3)
    assert cache.get(k, verify=False) is None  # the size check alone catches it
    assert not path.exists()


def test_a_flipped_frame_byte_is_caught_by_the_digest(cache, stored, tmp_path):
    k, path = stored
    flip_byte(path, path.stat().st_size - 100)
    # A fresh copy of the same damaged file in another cache: without the
    # digest it passes (sizes are right), which is why joining verifies.
    other = SegmentCache(tmp_path / "other")
    copy = other.root / path.relative_to(cache.root)
    copy.parent.mkdir(parents=True)
    shutil.copy(path, copy)
    assert other.get(k, verify=False) is not None

    assert cache.get(k, verify=True) is None
    assert not path.exists()


@pytest.mark.parametrize("content", [
    b"",
    b"garbage\n" + bytes(100),
    MAGIC,
    MAGIC + b"{not json\n" + bytes(100),
    MAGIC + b'["a list"]\n',
    MAGIC + b'{"bytes": 4}\n1234',  # no digest
    MAGIC[:-3],
], ids=["empty", "garbage", "magic-only", "bad-json", "not-an-object", "no-digest", "short-magic"])
def test_a_garbage_or_empty_header_is_missing_and_removed(cache, stored, content):
    k, path = stored
    path.write_bytes(content)
    assert cache.get(k, verify=False) is None
    assert not path.exists()


def test_copy_frames_refuses_an_entry_changed_after_get(cache, stored):
    k, path = stored
    entry = cache.get(k, verify=True)
    flip_byte(path, path.stat().st_size - 1)  # damaged between lookup and join
    with pytest.raises(AudioError, match="changed on disk"):
        frames_of(cache, entry)
    assert not path.exists()  # so the next run makes it anew
    assert cache.get(k) is None


def test_copy_frames_never_deletes_a_whole_entry_another_run_put_since(cache):
    k = key("one")
    cache.put(k, audio(), 100)
    entry = cache.get(k, verify=False)
    # Another run made the same segment again; a service need not give the same bytes twice.
    # The first entry stays: the one this book looked up is the one it joins.
    cache.put(k, audio(frames=b"\xff\xfb" + os.urandom(5000), words=WORDS[:1]), 100)
    with contextlib.suppress(AudioError):
        frames_of(cache, entry)
    assert cache.get(k) is not None


# --- writers that died -----------------------------------------------------


def test_a_writer_killed_mid_write_leaves_only_a_stray_part(cache):
    k = key("one")
    whole = MAGIC + b'{"bytes": 5000, "sha256": "00"}\n' + bytes(5000)
    # What put leaves when killed before its rename: a private temp name, half written, no entry.
    stray = cache.root / "segments" / k[:2] / f".{k[:16]}.x1y2z3.part"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(whole[:len(whole) // 2])
    assert cache.get(k) is None
    assert list(cache.keys()) == []
    assert cache.usage() == Usage(0, 0, 0)

    # Fresh: it may belong to a writer still at work, so prune leaves it.
    cache.prune(set())
    assert stray.exists()
    # Old, and dry_run: still nothing removed.
    an_hour_and_more_ago = time.time() - STRAY_AFTER_SECONDS - 60
    os.utime(stray, (an_hour_and_more_ago, an_hour_and_more_ago))
    cache.prune(set(), dry_run=True)
    assert stray.exists()
    # Old: its writer is long dead.
    cache.prune(set())
    assert not stray.exists()


WRITER = textwrap.dedent("""
    import hashlib, os, sys
    from pathlib import Path
    from narrator.book.cache import SegmentCache
    from narrator.book.timeline import SegmentAudio, TimedWord
    cache = SegmentCache(Path(sys.argv[1]))
    block = os.urandom(1 << 20) * 20  # 20 MB: the write takes long enough to be killed inside
    for i in range(1000):
        key = hashlib.sha256(f"{sys.argv[2]}-{i}".encode()).hexdigest()
        frames = i.to_bytes(4, "big") + block
        cache.put(key, SegmentAudio(frames, 1152, 44100, (TimedWord("w", 0.0, 26.1, True),), False), 10)
        print(key, flush=True)
""")


def test_kill_9_during_puts_never_leaves_a_damaged_entry(cache):
    caught_mid_write = 0
    for round_ in range(8):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(cache.root), str(round_)],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert writer.stdout.readline()  # one put finished: the next is under way
            # Kill the moment a temporary file is there, i.e. inside a write.
            deadline = time.monotonic() + 10
            while not strays(cache) and time.monotonic() < deadline:
                pass
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait()
            writer.stdout.close()
        caught_mid_write += bool(strays(cache))
        if caught_mid_write >= 2:
            break
    assert caught_mid_write, "no kill landed inside a write: the test proved nothing"

    keys = list(cache.keys())
    assert keys
    # Every entry visible is whole: get(verify=True) deletes and returns None otherwise.
    assert all(cache.get(k, verify=True) is not None for k in keys)
    assert sorted(cache.keys()) == sorted(keys)
    assert cache.usage().entries == len(keys)  # and the strays count for nothing


# --- usage and prune -------------------------------------------------------


@pytest.fixture
def three(cache):
    sizes = {}
    for name, chars, n in (("a", 10, 100), ("b", 20, 2000), ("c", 30, 30000)):
        cache.put(key(name), audio(frames=os.urandom(n)), characters=chars)
        sizes[key(name)] = cache.get(key(name)).path.stat().st_size
    return sizes


def test_usage_totals_entries_bytes_on_disk_and_characters(cache, three):
    assert cache.usage() == Usage(3, sum(three.values()), 60)
    assert cache.usage([key("b"), key("missing")]) == Usage(1, three[key("b")], 20)


def test_prune_removes_exactly_the_entries_not_kept(cache, three):
    gone = cache.prune({key("a")})
    assert gone == Usage(2, three[key("b")] + three[key("c")], 50)
    assert list(cache.keys()) == [key("a")]
    assert cache.get(key("a")) is not None


def test_prune_dry_run_removes_nothing_but_says_what_would_go(cache, three):
    assert cache.prune({key("a")}, dry_run=True) == Usage(2, three[key("b")] + three[key("c")], 50)
    assert sorted(cache.keys()) == sorted(three)
    assert all(cache.get(k) is not None for k in three)


# --- concurrent writers ----------------------------------------------------


def test_two_threads_putting_one_key_leave_one_whole_entry(cache):
    k, sound = key("shared"), audio(frames=os.urandom(1 << 20))
    start = threading.Barrier(2)
    errors = []

    def put_many():
        start.wait()  # both at once, so the writes overlap
        try:
            for _ in range(20):
                cache.put(k, sound, characters=15)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=put_many) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert list(cache.keys()) == [k]
    assert frames_of(cache, cache.get(k)) == sound.frames
    assert strays(cache) == []  # each writer renamed its own temporary file
