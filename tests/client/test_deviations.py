"""What a real service may do that the embedded server does not by default,
against the real server set to do it: alignments that leave characters out,
contexts whose audio interleaves on one connection, completion events that
stand for several flushes, quota messages that name the key. The client
holds up because it ends a segment by the protocol's own signal and
classifies errors by their codes.
"""

from __future__ import annotations

import asyncio
import time

import miniaudio
import pytest

from narrator.book.timeline import segment_audio
from narrator.client.session import Session
from narrator.errors import ErrorKind, ServiceError
from narrator.model import Book, Chapter
from narrator.protocol import elevenlabs as codec
from narrator.protocol.elevenlabs_dialect import dialect
from narrator.protocol.events import AudioChunk
from narrator.server.app import EmbeddedServer
from narrator.server.faults import parse_faults
from narrator.settings import NarrateOptions
from tests.helpers import generated_book, run, spoken_words, srt_words
from tests.narrating import narrate_book

SETTINGS = codec.StreamSettings(output_format="mp3_22050_32")
MARKS = ("\u00ad", "\u200b", "\u2060", "\ufeff")  # soft hyphen, zero-width space, word joiner, BOM
SYMBOLS = ("\u00a9", "\u2122", "\u2192", "\U0001f389", "\u00ae", "\u2605")  # (c) TM arrow party (R) star


def marked(book: Book) -> Book:
    """Every third word gets a mark inside or a symbol after it; every paragraph gets an emoji of its own."""
    def mark(paragraph: str, n: int) -> str:
        words = paragraph.split()
        for i in range(0, len(words), 3):
            word, extra = words[i], MARKS[(i + n) % len(MARKS)]
            symbol = SYMBOLS[(i + n) % len(SYMBOLS)]
            words[i] = word[:2] + extra + word[2:] if len(word) > 3 else word + symbol
        return " ".join(words) + " \U0001f389"

    return Book(book.title, book.author, tuple(
        Chapter(c.title, tuple(mark(p, n) for n, p in enumerate(c.paragraphs))) for c in book.chapters))


BOOK = marked(generated_book(24, chapters=3, seed=5))


async def narrate(out, transport, faults="skipchars=1"):
    async with EmbeddedServer(faults=parse_faults(faults)) as server:
        options = NarrateOptions(out, provider="elevenlabs", endpoint=server.url, voice="en-us",
                                 output_format="mp3_22050_32", concurrency=3, stall_timeout=10,
                                 progress=False, transport=transport)
        return await narrate_book(BOOK, "book", options), server.stats


@pytest.mark.parametrize("transport", codec.TRANSPORTS)
def test_a_book_whose_alignment_leaves_out_marks_symbols_and_emoji_finishes_once(tmp_path, key_env,
                                                                                   transport):
    started = time.monotonic()
    result, served = run(narrate(tmp_path / "out", transport))
    assert time.monotonic() - started < 30 and served.faults.get("skipchars", 0) > 0
    assert result.retries == 0 and result.characters_sent <= 1.1 * result.book_characters
    assert served.characters <= 1.1 * result.book_characters
    assert srt_words(result.captions["srt"]) == spoken_words(BOOK)  # every word, once
    decoded = miniaudio.decode(result.mp3.read_bytes(), nchannels=1)
    last_cue = result.captions["srt"].read_text().strip().split("\n\n")[-1]
    h, m, s = last_cue.splitlines()[1].split(" --> ")[1].replace(",", ".").split(":")
    assert int(h) * 3600 + int(m) * 60 + float(s) <= decoded.duration + 0.001  # captions stay in the speech
    # The standalone emoji of each paragraph had no alignment at all: timed between its neighbours.
    assert result.interpolated_words >= sum(len(c.paragraphs) for c in BOOK.chapters)


async def two_at_once(texts):
    """Two segments in flight on one multi-context connection, whose frames the server interleaves."""
    async with EmbeddedServer(faults=parse_faults("split=4")) as server:
        seen: list[str | None] = []
        multi = dialect(server.url, SETTINGS, None)
        parse = multi.parse_frame

        def recording(raw):
            event = parse(raw)
            if isinstance(event, AudioChunk):
                seen.append(event.context)
            return event

        multi.parse_frame = recording  # type: ignore[method-assign]
        session = await Session.open(multi, stall_timeout=10)
        try:
            results = await asyncio.gather(*(session.synthesize(text) for text in texts))
        finally:
            await session.close()
    return results, seen


def test_interleaved_contexts_on_one_connection_are_told_apart():
    texts = ["The first voice reads about lanterns and harbours, slowly and at length, for a while.",
             "A second passage speaks of orchards, ladders and the long summer evenings instead."]
    results, seen = run(two_at_once(texts))
    switches = sum(1 for a, b in zip(seen, seen[1:]) if a != b)
    assert switches >= 2, f"the frames did not interleave: {seen}"
    for text, chunks in zip(texts, results):
        audio = segment_audio([text], chunks)
        assert [w.text for w in audio.words] == text.split() and not audio.estimated
        aligned = "".join(c for chunk in chunks for c in chunk.alignment.chars)
        assert aligned.split() == text.split()  # its own words, none of the other's


async def contexts_on_one_connection(count):
    async with EmbeddedServer() as server:
        session = await Session.open(dialect(server.url, SETTINGS, None), stall_timeout=10)
        texts = [f"Passage number {n} is short." for n in range(count)]
        try:
            return await asyncio.gather(*(session.synthesize(t) for t in texts), return_exceptions=True)
        finally:
            await session.close()


def test_five_contexts_share_a_connection_and_a_sixth_is_never_sent():
    assert all(isinstance(r, list) and r for r in run(contexts_on_one_connection(5)))
    results = run(contexts_on_one_connection(6))
    refused = [r for r in results if isinstance(r, ServiceError)]
    assert len(refused) == 1 and "contexts" in str(refused[0])
    assert sum(isinstance(r, list) for r in results) == 5  # the server never saw a sixth: no close 1008


async def sarvam(out, faults):
    async with EmbeddedServer(faults=parse_faults(faults)) as server:
        options = NarrateOptions(out, provider="sarvam", endpoint=server.url, concurrency=2,
                                 stall_timeout=5, progress=False)
        return await narrate_book(SHORT_PARAGRAPHS, "book", options), server.stats


SHORT_PARAGRAPHS = Book("Notes", None, tuple(
    Chapter(f"Part {c}", tuple(f"Note {c}.{n} is brief." for n in range(12))) for c in range(1, 3)))


def test_sarvam_finishes_many_short_paragraphs_when_completion_events_are_coalesced(tmp_path, monkeypatch):
    monkeypatch.setenv("SARVAM_API_KEY", "any")
    # One flush outstanding at a time: whatever the service groups, each event is that flush's own.
    result, served = run(sarvam(tmp_path / "out", "coalesce=1"))
    assert result.retries == 0 and srt_words(result.captions["srt"]) == spoken_words(SHORT_PARAGRAPHS)


def test_a_quota_error_whose_message_names_the_key_is_a_quota_error(tmp_path, key_env):
    with pytest.raises(ServiceError) as caught:
        run(narrate(tmp_path / "out", codec.MULTI_CONTEXT, faults="quota=300"))
    assert "API key" in str(caught.value)
    assert caught.value.kind is ErrorKind.QUOTA and caught.value.exit_code == 7
