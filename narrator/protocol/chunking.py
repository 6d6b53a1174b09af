"""One connection's text, cut into generations as it comes: the chunker
both embedded servers' state machines use.

A client sends text in messages of any size; a server buffers it and
generates audio for pieces of it. Where a piece may end is each protocol's
own rule (ElevenLabs' chunk length schedule, Sarvam's buffer sizes), given
as a `Cut`; what the chunker does for both is the rest: leading whitespace
is never spoken, text waits until the rule finds a cut, a flush sends the
rest, and the first piece after the start or a flush starts a stream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Where the next piece ends, given the buffer (it starts with a visible
# character), how many pieces were cut since the start or the last flush,
# and whether this is a flush; None (or 0) when the text waits for more. On
# a flush, whatever the rule leaves waiting goes as one last piece.
Cut = Callable[[str, int, bool], int | None]


@dataclass(frozen=True)
class Piece:
    """Text to generate, as the chunker cut it."""

    text: str
    starts_stream: bool  # the first piece after the start or a flush


class Chunker:
    """The text buffered so far, and how many pieces were cut from it since
    the start or the last flush."""

    def __init__(self) -> None:
        self._buffer = ""
        self._pieces = 0

    def add(self, text: str) -> None:
        self._buffer += text

    def take(self, cut: Cut, *, flush: bool = False) -> list[Piece]:
        """The pieces the buffer holds now; on a flush, all of it."""
        out: list[Piece] = []
        # Leading whitespace (an opening " ", keep-alives) is not spoken, and a piece of
        # nothing else is never made: a segment is cut the same on a fresh or a reused connection.
        self._buffer = self._buffer.lstrip()
        while self._buffer:
            end = cut(self._buffer, self._pieces, flush)
            if not end:
                if not flush:
                    break
                end = len(self._buffer)
            out.append(Piece(self._buffer[:end], starts_stream=self._pieces == 0))
            self._buffer, self._pieces = self._buffer[end:].lstrip(), self._pieces + 1
        if flush:
            # A flush starts the stream again, so text sent after a flush is
            # cut the same way whatever the connection did before.
            self._pieces = 0
        return out
