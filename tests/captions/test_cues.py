"""Cue building: timing, randomised invariants, word style and streaming."""

from __future__ import annotations

import itertools
import random

import pytest

from narrator.captions.cues import CAPTION_STYLES, WORD_BRIDGE_MS, Cue, build_cues
from narrator.model import Word
from tests.captions.timed_words import (
    CountingWords,
    check_common,
    check_punctuation_placement,
    cues_of,
    is_punct,
    one_line_texts,
    one_word,
    random_words,
    spoken_of,
    timed,
)

# --------------------------------------------------------------------------
# build_cues: timing


def test_short_cue_extends_to_min_ms():
    words = [Word("Hi.", 1000, 1200, ends_paragraph=True), Word("Later", 5000, 5400)]
    cues = cues_of(words)
    assert (cues[0].start_ms, cues[0].end_ms) == (1000, 1800)


def test_min_ms_extension_stops_at_next_cue():
    words = [Word("Hi.", 1000, 1200, ends_paragraph=True), Word("Later", 1500, 1900)]
    cues = cues_of(words)
    assert (cues[0].start_ms, cues[0].end_ms) == (1000, 1500)
    assert cues[1].start_ms == 1500


def test_min_ms_extension_stops_at_audio_end():
    cues = cues_of([Word("Bye.", 1000, 1200)], audio_end_ms=1500)
    assert (cues[0].start_ms, cues[0].end_ms) == (1000, 1500)


def test_custom_min_ms():
    cues = cues_of([Word("Bye.", 1000, 1200)], min_ms=1500)
    assert cues[0].end_ms == 2500


def test_last_word_end_clamped_to_audio_end():
    cues = cues_of([Word("Bye.", 1000, 2200)], audio_end_ms=2000)
    assert cues[0].end_ms == 2000


def test_overlapping_word_timing_never_overlaps_cues():
    words = [Word("First.", 0, 1500, ends_paragraph=True), Word("Second.", 1200, 1600)]
    cues = cues_of(words)
    assert cues[0].end_ms == 1200 == cues[1].start_ms


def test_shared_start_gets_at_least_one_ms():
    words = [Word("One.", 500, 500, ends_paragraph=True), Word("Two.", 500, 500)]
    cues = cues_of(words)
    assert [(c.start_ms, c.end_ms) for c in cues] == [(500, 501), (501, 1301)]


def test_no_words_no_cues():
    assert list(build_cues([], audio_end_ms=1000)) == []
    assert list(build_cues([Word("", 0, 0)], audio_end_ms=1000)) == []



# --------------------------------------------------------------------------
# build_cues: randomised invariants


@pytest.mark.parametrize("seed", range(300))
def test_random_streams_keep_invariants(seed: int):
    rng = random.Random(seed)
    words = random_words(rng)
    audio_end = max((w.end_ms for w in words), default=0) + rng.choice([0, 10, 500, 3000])
    limits = {}
    if seed % 3 == 1:
        limits = {"max_chars": rng.randint(8, 50), "max_lines": rng.randint(1, 3)}
    max_chars = limits.get("max_chars", 42)
    max_lines = limits.get("max_lines", 2)
    cues = list(build_cues(iter(words), audio_end_ms=audio_end, **limits))
    check_common(cues, words, audio_end)

    spoken = spoken_of(words)
    position = 0
    next_starts = [c.start_ms for c in cues[1:]] + [audio_end]
    for cue, next_start in zip(cues, next_starts):
        tokens = " ".join(cue.lines).split(" ")
        mine = spoken[position:position + len(tokens)]
        assert [w.text for w in mine] == tokens  # in order, once
        assert [(w.text, w.start_ms, w.end_ms) for w in cue.words] == [
            (w.text, w.start_ms, w.end_ms) for w in mine
        ]
        assert 1 <= len(cue.lines) <= max_lines
        for line in cue.lines:
            assert len(line) <= max_chars or one_word(line)
        check_punctuation_placement(cue, spoken, position)
        position += len(tokens)
        assert cue.start_ms == mine[0].start_ms  # the sync contract
        assert not any(w.ends_paragraph for w in mine[:-1])
        if len(mine) > 1:
            assert mine[-1].end_ms - mine[0].start_ms <= 7000
            assert cue.end_ms - cue.start_ms <= 7000
        # Ends at the last word (stretched toward min_ms) unless cut by what follows.
        wanted = max(mine[-1].end_ms, cue.start_ms + 800)
        assert cue.end_ms == min(wanted, next_start)


@pytest.mark.parametrize("seed", range(100))
def test_chaotic_timings_never_overlap(seed: int):
    rng = random.Random(10_000 + seed)
    words = random_words(rng, chaotic=True)
    audio_end = max((w.end_ms for w in words), default=0) + 1000
    cues = list(build_cues(words, audio_end_ms=audio_end))
    check_common(cues, words, audio_end)
    for cue in cues:
        assert cue.start_ms >= 0


# --------------------------------------------------------------------------
# build_cues: word style


def word_cues(words: list[Word], **kwargs) -> list[Cue]:
    return cues_of(words, style="word", **kwargs)


def test_styles():
    assert CAPTION_STYLES == ("sentence", "word")
    with pytest.raises(ValueError, match="karaoke"):
        build_cues([], audio_end_ms=0, style="karaoke")


def test_word_style_is_one_cue_per_word_with_its_punctuation():
    words = timed("Well \u2014 \u201c it rained , \u201d she said.", gap_ms=1000)
    cues = word_cues(words)
    assert one_line_texts(cues) == ["Well \u2014", "\u201c it", "rained , \u201d", "she", "said."]
    assert all(len(c.lines) == 1 for c in cues)
    assert [c.start_ms for c in cues] == [words[i].start_ms for i in (0, 2, 4, 7, 8)]


def test_word_style_bridges_short_gaps_only():
    bridged, kept = WORD_BRIDGE_MS, WORD_BRIDGE_MS + 1
    words = [
        Word("a", 0, 200), Word("b", 200 + bridged, 600 + bridged), Word("c", 600 + bridged + kept, 2000)
    ]
    cues = word_cues(words)
    assert [(c.start_ms, c.end_ms) for c in cues] == [
        (0, 200 + bridged),  # stretched to the next word
        (200 + bridged, 600 + bridged),  # gap too long: its own end
        (600 + bridged + kept, 2000),
    ]


def test_word_style_touching_words_keep_their_times():
    words = timed("one two three", word_ms=300, gap_ms=0)
    assert [(c.start_ms, c.end_ms) for c in word_cues(words)] == [(0, 300), (300, 600), (600, 900)]


def test_word_style_never_bridges_a_paragraph_end():
    words = [Word("end.", 0, 300, ends_paragraph=True), Word("Next", 350, 600)]
    assert [(c.start_ms, c.end_ms) for c in word_cues(words)] == [(0, 300), (350, 600)]
    # Also when the paragraph end comes on an empty word.
    words = [Word("end.", 0, 300), Word("", 300, 300, ends_paragraph=True), Word("Next", 350, 600)]
    assert [(c.start_ms, c.end_ms) for c in word_cues(words)] == [(0, 300), (350, 600)]


def test_word_style_has_no_minimum_length_and_clamps_to_audio_end():
    words = [Word("a", 0, 40), Word("b", 1000, 1040), Word("c", 2000, 2600)]
    assert [(c.start_ms, c.end_ms) for c in word_cues(words, audio_end_ms=2500)] == [
        (0, 40), (1000, 1040), (2000, 2500)
    ]


def test_word_style_overlapping_words_never_overlap():
    words = [Word("a", 0, 500), Word("b", 300, 300), Word("c", 300, 800)]
    cues = word_cues(words)
    assert [(c.start_ms, c.end_ms) for c in cues] == [(0, 300), (300, 301), (301, 800)]


@pytest.mark.parametrize("seed", range(150))
def test_word_style_random_streams(seed: int):
    rng = random.Random(20_000 + seed)
    chaotic = seed % 2 == 1
    words = random_words(rng, chaotic=chaotic)
    # Chaotic streams pile zero-length words at the end, each cue pushed 1 ms
    # past the last: leave them room, as test_chaotic_timings_never_overlap does.
    audio_end = max((w.end_ms for w in words), default=0) + (1000 if chaotic else rng.choice([0, 10, 500]))
    cues = list(build_cues(iter(words), audio_end_ms=audio_end, style="word"))
    check_common(cues, words, audio_end)
    spoken = spoken_of(words)
    position = 0
    for cue, nxt in itertools.zip_longest(cues, cues[1:]):
        assert len(cue.lines) == 1 and one_word(cue.lines[0])
        assert sum(not is_punct(w.text) for w in cue.words) <= 1
        check_punctuation_placement(cue, spoken, position)
        position += len(cue.words)
        if chaotic:
            continue  # only the common invariants
        # Ordered, gapped words: start on the first word, end on the last
        # word's end or, across a short gap inside a paragraph, the next start.
        assert cue.start_ms == cue.words[0].start_ms
        own_end = min(cue.words[-1].end_ms, audio_end)
        if nxt is None or cue.words[-1].ends_paragraph or nxt.start_ms - own_end > WORD_BRIDGE_MS:
            assert cue.end_ms == own_end
        else:
            assert cue.end_ms == nxt.start_ms


# --------------------------------------------------------------------------
# build_cues: streaming


@pytest.mark.parametrize("style", CAPTION_STYLES)
def test_styles_stream(style: str):
    words = CountingWords()
    cues = build_cues(iter(words), audio_end_ms=200_000 * 350, style=style)
    yielded_words = 0
    for cue in itertools.islice(cues, 2000):
        yielded_words += len(cue.words)
        assert words.taken - yielded_words <= 40


def test_first_cue_arrives_before_reading_the_book():
    words = CountingWords()
    cues = build_cues(iter(words), audio_end_ms=200_000 * 350)
    next(cues)
    assert words.taken <= 200


def test_builder_holds_only_a_small_window():
    words = CountingWords()
    cues = build_cues(iter(words), audio_end_ms=200_000 * 350)
    yielded_words = 0
    for cue in itertools.islice(cues, 2000):
        yielded_words += len(cue.text.split())
        # What was read but not yet yielded: the cue being built plus one
        # finished cue waiting for its successor's start.
        assert words.taken - yielded_words <= 40



def test_cue_text_joins_lines():
    assert Cue(1500, 4250, ("A second cue,", "on two lines.")).text == "A second cue,\non two lines."


def test_a_title_before_a_name_never_ends_a_cue():
    # Long enough that the grouping must break: a sentence end is its first choice.
    text = ("The lighthouse keeper climbed the stairs with a lamp in his hand, and Dr. Reed wrote it "
            "down in the log. Then the storm came in from the west.")
    cues = list(build_cues(timed(text), audio_end_ms=60_000))
    assert not any(cue.text.rstrip().endswith("Dr.") for cue in cues)
    assert any(cue.text.rstrip().endswith("log.") for cue in cues)
