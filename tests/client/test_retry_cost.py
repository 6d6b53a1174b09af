"""What retries may cost, against `narrator serve` in its own process: a
segment the service fails the same way every time is given up after three
billed tries, the rest of the book is finished, and the run's retries stay
under their cap."""

from __future__ import annotations

import re

from narrator.book.cache import SegmentCache
from narrator.runner import plan_book
from narrator.settings import NarrateOptions
from narrator.text import read_document
from tests.helpers import generated_book
from tests.test_cli import narrator
from tests.test_cli_service import KEY, served

BOOK = generated_book(40, chapters=2, seed=21)


def write_book(path) -> None:
    path.write_text("# Generated\n\n" + "\n\n".join(
        f"## {c.title}\n\n" + "\n\n".join(c.paragraphs) for c in BOOK.chapters))


def poisoned(tmp_path, *extra: str):
    """Narrate through a server that always fails the third segment after taking its text."""
    book = tmp_path / "book.md"
    write_book(book)
    segments = plan_book(read_document(book), NarrateOptions(tmp_path, provider="elevenlabs")).segments
    poison = segments[2].text[:40].split(",")[0]
    with served("--faults", f"poison={poison}") as (url, stats):
        # The keys as this run makes them: a rehearsal host is part of a segment's key.
        options = NarrateOptions(tmp_path, provider="elevenlabs", endpoint=url)
        planned = plan_book(read_document(book), options)
        done = narrator("narrate", book, "--provider", "elevenlabs", "--endpoint", url, "--timeout", "2",
                        "-o", tmp_path / "out", *extra, env={"ELEVENLABS_API_KEY": KEY})
    return done, stats, planned, planned.segments[2]


def test_a_segment_that_always_fails_is_given_up_and_the_rest_is_finished(tmp_path, fresh_cache):
    done, stats, planned, victim = poisoned(tmp_path)
    assert done.returncode == 5, done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("narrator: error:")]
    chapter = planned.book.chapters[victim.chapter].title
    first_words = " ".join(victim.text.split()[:6])
    assert f"segment 3 (chapter {chapter!r}, \"{first_words}...\") failed" in line
    cost = int(re.search(r"sending it cost ([\d,]+) characters", line).group(1).replace(",", ""))
    assert cost == 3 * planned.sent[victim.index]  # three tries, each billed
    assert stats["faults"]["poison"] == 3
    assert "are finished and kept in the cache" in line
    cache = SegmentCache()
    finished = [s for s in planned.segments if cache.get(planned.keys[s.index], verify=False)]
    assert len(finished) == len(planned.segments) - 1 and victim not in finished
    assert stats["characters"] <= 1.35 * planned.characters


def test_the_retry_cap_stops_the_run_with_finished_work_kept(tmp_path, fresh_cache):
    done, stats, planned, victim = poisoned(tmp_path, "--max-retry-characters", "10", "--concurrency", "1")
    assert done.returncode == 5, done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("narrator: error:")]
    assert line.startswith("narrator: error: stopped: sending failed segments again would cost more than 10 "
                           "characters (--max-retry-characters")
    assert stats["faults"]["poison"] == 1  # never sent again
    cache = SegmentCache()
    finished = [s for s in planned.segments if cache.get(planned.keys[s.index], verify=False)]
    # One session, longest segment first: it stopped at the failed one.
    order = sorted(planned.segments, key=lambda s: len(s.text), reverse=True)
    assert finished == sorted(order[:order.index(victim)], key=lambda s: s.index) and finished
