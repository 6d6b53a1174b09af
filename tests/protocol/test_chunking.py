"""The chunker both servers' state machines share, driven with simple cut rules."""

from __future__ import annotations

from narrator.protocol.chunking import Chunker, Piece


def at_space_after(size: int):
    """A rule: end after the first space at or past `size` characters."""
    def cut(buffer: str, pieces: int, flush: bool) -> int | None:
        space = buffer.find(" ", size)
        return space + 1 if space >= 0 else None
    return cut


def never(buffer: str, pieces: int, flush: bool) -> int | None:
    return None


def test_text_waits_until_the_rule_finds_a_cut():
    chunker = Chunker()
    chunker.add("Hello")
    assert chunker.take(at_space_after(8)) == []
    chunker.add(" there, world and more")
    assert chunker.take(at_space_after(8)) == [Piece("Hello there, ", True), Piece("world and ", False)]
    assert chunker.take(never, flush=True) == [Piece("more", False)]


def test_a_flush_sends_the_rest_as_one_piece_and_starts_a_new_stream():
    chunker = Chunker()
    chunker.add("one two three")
    assert chunker.take(never, flush=True) == [Piece("one two three", True)]
    chunker.add("four five")
    assert chunker.take(never, flush=True) == [Piece("four five", True)]


def test_the_rule_is_told_the_pieces_since_the_start_or_a_flush_and_whether_it_flushes():
    asked: list[tuple[str, int, bool]] = []

    def word(buffer: str, pieces: int, flush: bool) -> int | None:
        asked.append((buffer, pieces, flush))
        space = buffer.find(" ")
        return space + 1 if space >= 0 else None

    chunker = Chunker()
    chunker.add("a b c")
    chunker.take(word)
    assert asked == [("a b c", 0, False), ("b c", 1, False), ("c", 2, False)]
    asked.clear()
    chunker.take(word, flush=True)
    chunker.add("d e")
    chunker.take(word)
    assert asked == [("c", 2, True), ("d e", 0, False), ("e", 1, False)]


def test_leading_whitespace_is_never_spoken_nor_a_piece_alone():
    chunker = Chunker()
    chunker.add("  \n ")
    assert chunker.take(never, flush=True) == []
    chunker.add(" Text after a keep-alive.   Next")
    pieces = chunker.take(lambda buffer, pieces, flush: buffer.find(".") + 1, flush=True)
    assert pieces == [Piece("Text after a keep-alive.", True), Piece("Next", False)]


def test_a_cut_at_zero_waits_instead_of_making_an_empty_piece():
    chunker = Chunker()
    chunker.add("words")
    assert chunker.take(lambda buffer, pieces, flush: 0) == []
    assert chunker.take(lambda buffer, pieces, flush: 0, flush=True) == [Piece("words", True)]


def test_the_pieces_keep_every_word_in_order():
    text = "The quick brown fox jumps over the lazy dog. " * 7
    chunker = Chunker()
    pieces = []
    for start in range(0, len(text), 11):  # sent in messages that cut words apart
        chunker.add(text[start:start + 11])
        pieces += chunker.take(at_space_after(20))
    pieces += chunker.take(at_space_after(20), flush=True)
    assert "".join(p.text for p in pieces).split() == text.split()
    assert [p.starts_stream for p in pieces] == [True] + [False] * (len(pieces) - 1)
