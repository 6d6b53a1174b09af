"""Audio far shorter than its text: services are known to truncate silently.

Two signs, either enough: the alignment the service sent covers clearly
fewer characters than were sent, or the audio is so short that the text
would have had to be spoken implausibly fast.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from narrator.audio.mp3 import FrameReader
from narrator.protocol.events import AudioChunk, Chunks

# Speech runs about 12 non-space characters a second at normal pace; more than
# 30 a second (at speed 1) means words are missing, not fast.
MAX_CHARS_PER_SECOND = 30.0
MIN_COVERAGE = 0.9


def letters_and_digits(chars: Iterable[str]) -> int:
    """Code points that are letters or digits: what every service speaks and
    aligns, whatever it does with spaces, punctuation, symbols, emoji,
    variation selectors and other marks, format characters and markup."""
    return sum(1 for string in chars for c in string if unicodedata.category(c)[0] in "LN")


def shortfall(text: str, chunks: Chunks, *, speed: float = 1.0) -> str | None:
    """Why this audio looks truncated, or None when it looks whole."""
    audio = [c for c in chunks if isinstance(c, AudioChunk)]
    expected = letters_and_digits(text)  # a service may leave the rest out of its alignment
    if not expected:
        return None
    alignments = [c.alignment for c in audio if c.alignment is not None]
    if audio and len(alignments) == len(audio):
        covered = sum(letters_and_digits(alignment.chars) for alignment in alignments)
        if covered < MIN_COVERAGE * expected:
            return f"the alignment covers {covered} of {expected} letters and digits"
    reader = FrameReader()
    for chunk in audio:
        reader.feed(chunk.audio)
    reader.finish()
    seconds = reader.samples / reader.sample_rate if reader.sample_rate else 0.0
    if seconds * MAX_CHARS_PER_SECOND * speed < expected:
        return f"{seconds:.1f} s of audio for {expected} characters"
    return None
