"""Synthetic timed words, and the checks the caption tests share (no audio)."""

from __future__ import annotations

import itertools
import random
import unicodedata

from narrator.captions.cues import Cue, build_cues
from narrator.model import Word


def timed(text: str, *, word_ms: int = 300, gap_ms: int = 50, start_ms: int = 0) -> list[Word]:
    """Words of `text` one after another; a blank line ends a paragraph."""
    words: list[Word] = []
    t = start_ms
    for paragraph in text.split("\n\n"):
        tokens = paragraph.split()
        for i, token in enumerate(tokens):
            last = i == len(tokens) - 1
            words.append(Word(token, t, t + word_ms, ends_paragraph=last))
            t += word_ms + gap_ms
    return words


def cues_of(words: list[Word], **kwargs) -> list[Cue]:
    audio_end = kwargs.pop("audio_end_ms", max(w.end_ms for w in words) + 5000)
    return list(build_cues(words, audio_end_ms=audio_end, **kwargs))


def one_line_texts(cues: list[Cue]) -> list[str]:
    return [" ".join(c.lines) for c in cues]


def is_punct(token: str) -> bool:
    return all(unicodedata.category(c).startswith("P") for c in token)


def is_opener(token: str) -> bool:
    return all(unicodedata.category(c) in ("Ps", "Pi") for c in token)


def is_trailing(token: str) -> bool:
    """Punctuation that belongs to the word before it."""
    return is_punct(token) and not is_opener(token)


def one_word(line: str) -> bool:
    """A line holding a single word with the punctuation tokens glued to it."""
    return sum(not is_punct(t) for t in line.split(" ")) <= 1


_LETTERS = "abcdefghijklmnopqrstuvwxyz\u00e9\u00fc"
_TAILS = ["", "", "", "", ",", ";", ":", "\u2014", ".", "!", "?", "\u2026", '."', ".)", "?\u201d"]
# Tokens written with spaces around them: trailing ones and opening ones.
_LONE = ["\u2014", "\u2026", "\u201d", "\u00bb", "?", "!", ":", "...", "-", '"', "(", "\u201c", "\u00ab", "["]


def random_words(rng: random.Random, *, chaotic: bool = False) -> list[Word]:
    words: list[Word] = []
    t = rng.randint(0, 5000)
    for _ in range(rng.randint(0, 400)):
        if rng.random() < 0.03:
            text = rng.choice(["", " "])
        elif rng.random() < 0.06:
            text = rng.choice(_LONE)
        else:
            size = 60 if rng.random() < 0.01 else rng.randint(1, 12)
            text = "".join(rng.choices(_LETTERS, k=size)) + rng.choice(_TAILS)
        if chaotic:  # zero durations, shared starts, slight overlaps
            start = max(0, t + rng.choice([0, 0, -50, 30]))
            end = start + rng.choice([0, 0, 10, 400])
        else:
            start, end = t, t + rng.randint(20, 1500 if rng.random() < 0.05 else 700)
        words.append(Word(text, start, end, ends_paragraph=rng.random() < 0.04))
        t = end + (0 if chaotic else rng.choice([0, 0, 20, 80, 300, 1200]))
    return words


def spoken_of(words: list[Word]) -> list[Word]:
    """The words with text; an empty word's paragraph end marks the one before."""
    spoken: list[Word] = []
    for word in words:
        if word.text.strip():
            spoken.append(word)
        elif word.ends_paragraph and spoken:
            spoken[-1] = Word(spoken[-1].text, spoken[-1].start_ms, spoken[-1].end_ms, True)
    return spoken


def check_common(cues: list[Cue], words: list[Word], audio_end: int) -> None:
    spoken = [w for w in words if w.text.strip()]
    assert " ".join(" ".join(c.lines) for c in cues) == " ".join(w.text for w in spoken)
    for cue, nxt in itertools.zip_longest(cues, cues[1:]):
        assert cue.end_ms > cue.start_ms
        assert cue.end_ms <= audio_end
        if nxt is not None:
            assert cue.end_ms <= nxt.start_ms


def check_punctuation_placement(cue: Cue, spoken: list[Word], position: int) -> None:
    """No line starts with trailing punctuation or ends with an opening one,
    unless a paragraph end leaves nothing to glue it to."""
    before = spoken[position - 1] if position else None
    after = spoken[position + len(cue.words)] if position + len(cue.words) < len(spoken) else None
    for number, line in enumerate(cue.lines):
        first, last = line.split(" ")[0], line.split(" ")[-1]
        if is_trailing(first):
            assert number == 0 and (before is None or before.ends_paragraph), cue
        if is_opener(last) and not is_punct(line.replace(" ", "")):
            assert number == len(cue.lines) - 1 and (after is None or cue.words[-1].ends_paragraph), cue


class CountingWords:
    """An endless-ish book of 200k words that counts how many were taken."""

    def __init__(self, total: int = 200_000):
        self.taken = 0
        self.total = total

    def __iter__(self):
        texts = ["It", "was", "a", "dark", "and", "stormy", "night,", "they", "said."]
        for i in range(self.total):
            self.taken += 1
            t = i * 350
            yield Word(texts[i % len(texts)], t, t + 300, ends_paragraph=i % 97 == 96)
