"""Helpers shared by the tests: generated books, running coroutines."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from narrator.model import Book, Chapter

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"

_WORDS = ["harbour", "lantern", "quiet", "morning", "river", "stone", "window", "garden", "letter", "evening",
          "bridge", "shadow", "candle", "market", "orchard", "meadow", "pocket", "whistle", "ladder",
          "thunder"]


def generated_book(paragraphs: int, chapters: int = 2, seed: int = 1) -> Book:
    """Prose with sentences and commas, different every paragraph."""
    rng = random.Random(seed)

    def sentence() -> str:
        words = [rng.choice(_WORDS) for _ in range(rng.randint(5, 11))]
        if len(words) > 7:
            words[3] += ","
        return " ".join(words).capitalize() + rng.choice(".!?.")

    per = paragraphs // chapters
    def paragraph() -> str:
        return " ".join(sentence() for _ in range(rng.randint(1, 3)))

    return Book("Generated", "Test Author", tuple(
        Chapter(f"Part {c + 1}", tuple(paragraph() for _ in range(per)))
        for c in range(chapters)
    ))


def spoken_words(book, titles=True):
    words = []
    for chapter in book.chapters:
        if titles:
            words += (chapter.title + ".").split()
        for paragraph in chapter.paragraphs:
            words += paragraph.split()
    return words


def srt_words(path):
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.isdigit() and "-->" not in line]
    return " ".join(lines).split()


def run(coroutine):
    return asyncio.run(coroutine)


def samples_ms(samples: int, sample_rate: int) -> int:
    """Milliseconds of `samples`, rounded half up from the exact ratio: how
    chapter marks are timed from counted samples."""
    return (2000 * samples + sample_rate) // (2 * sample_rate)
