"""Caption building and writing, on synthetic timed words (no audio)."""

from __future__ import annotations

import io
import itertools
import random

import pytest

from narrator.captions import (
    Cue,
    build_cues,
    srt_timestamp,
    vtt_timestamp,
    wrap_lines,
    write_srt,
    write_vtt,
)
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


# --------------------------------------------------------------------------
# wrap_lines


def test_wrap_short_text_is_one_line():
    assert wrap_lines(["Hello,", "world."], 42, 2) == ("Hello, world.",)


def test_wrap_empty_is_no_lines():
    assert wrap_lines([], 42, 2) == ()


def test_wrap_exactly_max_chars_is_one_line():
    words = ["a" * 20, "b" * 21]  # 20 + 1 + 21 = 42
    assert wrap_lines(words, 42, 2) == ("a" * 20 + " " + "b" * 21,)


def test_wrap_balances_two_lines_instead_of_filling_greedily():
    # Greedy filling would give 7 words then 1; balanced gives 4 and 4.
    words = ["abcde"] * 8
    assert wrap_lines(words, 42, 2) == ("abcde abcde abcde abcde",) * 2


def test_wrap_balance_minimises_length_difference():
    words = "The quick brown fox jumps over the lazy dog near the river bank".split()
    lines = wrap_lines(words, 42, 2)
    assert lines is not None and len(lines) == 2
    diff = abs(len(lines[0]) - len(lines[1]))
    for split in range(1, len(words)):
        top, bottom = " ".join(words[:split]), " ".join(words[split:])
        if len(top) <= 42 and len(bottom) <= 42:
            assert diff <= abs(len(top) - len(bottom))


def test_wrap_ties_prefer_split_after_punctuation():
    # Both splits differ by 3 characters; the comma decides.
    assert wrap_lines(["aaaa", "b,", "cccc"], 8, 2) == ("aaaa b,", "cccc")


def test_wrap_ties_without_punctuation_prefer_shorter_top_line():
    assert wrap_lines(["aaaa", "bb", "cccc"], 8, 2) == ("aaaa", "bb cccc")


def test_wrap_balance_beats_punctuation():
    # The comma split is much less balanced, so it loses.
    words = ["One,", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    assert wrap_lines(words, 30, 2) == ("One, two three four five", "six seven eight nine")


def test_wrap_too_much_text_does_not_fit():
    assert wrap_lines(["abcdefghij"] * 8, 42, 2) is None  # 87 chars
    assert wrap_lines(["abcde"] * 8, 42, 1) is None


def test_wrap_long_word_alone_and_uncut():
    long = "x" * 50
    assert wrap_lines([long], 42, 2) == (long,)
    assert wrap_lines(["hello", long], 42, 2) == ("hello", long)
    assert wrap_lines([long, "tail"], 42, 2) == (long, "tail")


def test_wrap_long_word_needing_extra_line_does_not_fit():
    long = "x" * 50
    assert wrap_lines(["a", long, "b"], 42, 2) is None
    assert wrap_lines(["a", long, "b"], 42, 3) == ("a", long, "b")


def test_wrap_three_lines_are_balanced():
    lines = wrap_lines(["abcd"] * 9, 20, 3)
    assert lines == ("abcd abcd abcd",) * 3


# --------------------------------------------------------------------------
# build_cues: where cues break


def test_short_text_is_one_cue_with_word_timing():
    words = timed("Hello there, world.")
    (cue,) = cues_of(words)
    assert cue.lines == ("Hello there, world.",)
    assert cue.start_ms == words[0].start_ms
    assert cue.end_ms == words[-1].end_ms  # already longer than min_ms


def test_cue_lines_respect_limits():
    text = " ".join(["lorem", "ipsum", "dolor", "sit", "amet"] * 40)
    for cue in cues_of(timed(text, word_ms=100, gap_ms=10)):
        assert 1 <= len(cue.lines) <= 2
        assert all(len(line) <= 42 for line in cue.lines)


def test_overflow_breaks_at_sentence_end_first():
    text = (
        "Alpha beta, gamma delta. Epsilon zeta eta theta, iota kappa lambda "
        "mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega"
    )
    cues = cues_of(timed(text))
    assert one_line_texts(cues)[0] == "Alpha beta, gamma delta."


def test_overflow_breaks_at_latest_clause_mark_without_sentence_end():
    text = (
        "Alpha beta, gamma delta epsilon zeta eta theta, iota kappa lambda "
        "mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega"
    )
    cues = cues_of(timed(text))
    assert one_line_texts(cues)[0] == "Alpha beta, gamma delta epsilon zeta eta theta,"


def test_overflow_without_punctuation_fills_the_cue():
    text = " ".join(f"w{i:03d}" for i in range(40))  # 4-char words
    cues = cues_of(timed(text, word_ms=50, gap_ms=0))
    # 2 lines of 42 hold 8 words each (8 * 5 - 1 = 39 chars).
    assert [len(c.text.split()) for c in cues] == [16, 16, 8]


def test_sentence_end_closes_a_half_full_cue():
    text = "This opening sentence is long enough to close. Then more."
    cues = cues_of(timed(text))
    assert one_line_texts(cues) == ["This opening sentence is long enough to close.", "Then more."]


def test_sentence_end_closes_a_long_cue_even_if_short_text():
    words = timed("Slowly spoken words. Next.", word_ms=1000, gap_ms=100)
    assert one_line_texts(cues_of(words)) == ["Slowly spoken words.", "Next."]


def test_sentence_end_does_not_close_a_short_cue():
    assert one_line_texts(cues_of(timed("Hi. Yes. Go."))) == ["Hi. Yes. Go."]


def test_sentence_end_inside_closing_quotes_and_brackets():
    text = 'He said it clearly and he said it "twice." (Then it rained all day!) Done'
    cues = cues_of(timed(text, word_ms=400))
    assert one_line_texts(cues)[0] == 'He said it clearly and he said it "twice."'


def test_ellipsis_and_question_are_sentence_ends():
    text = "Was it really worth all of the trouble, then? Perhaps\u2026 maybe not at all."
    cues = cues_of(timed(text, word_ms=400))
    assert one_line_texts(cues)[0] == "Was it really worth all of the trouble, then?"


def test_never_across_paragraph_end():
    cues = cues_of(timed("One two\n\nThree four.\n\nFive"))
    assert one_line_texts(cues) == ["One two", "Three four.", "Five"]


def test_paragraph_end_on_an_empty_word_still_ends_the_cue():
    words = [Word("One", 0, 300), Word("", 300, 300, ends_paragraph=True), Word("Two", 400, 700)]
    assert one_line_texts(cues_of(words)) == ["One", "Two"]


def test_empty_words_are_skipped():
    words = [Word("One", 0, 300), Word("", 300, 300), Word("  ", 320, 330), Word("two", 400, 700)]
    assert one_line_texts(cues_of(words)) == ["One two"]


def test_cues_at_most_max_ms():
    words = timed(" ".join(["a"] * 60), word_ms=900, gap_ms=100)
    cues = cues_of(words)
    assert len(cues) > 1
    for cue in cues:
        assert cue.end_ms - cue.start_ms <= 7000


def test_custom_limits():
    words = timed(" ".join(["abc"] * 30), word_ms=100, gap_ms=0)
    cues = cues_of(words, max_chars=10, max_lines=1, max_ms=100_000)
    assert one_line_texts(cues)[:2] == ["abc abc", "abc abc"]


def test_single_word_longer_than_max_ms_is_its_own_cue():
    words = [Word("Loooong", 0, 9000), Word("short", 9100, 9400)]
    cues = cues_of(words)
    assert one_line_texts(cues) == ["Loooong", "short"]
    assert cues[0].end_ms == 9000


def test_over_long_word_sits_alone():
    long = "Pneumonoultramicroscopicsilicovolcanoconiosis-like"
    cues = cues_of(timed(f"A {long} b c d e f g h i j k l m n o p q r s t u v w x y z"))
    assert long in cues[0].lines or long in cues[1].lines
    for cue in cues:
        for line in cue.lines:
            assert len(line) <= 42 or line == long


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

_LETTERS = "abcdefghijklmnopqrstuvwxyz\u00e9\u00fc"
_TAILS = ["", "", "", "", ",", ";", ":", "\u2014", ".", "!", "?", "\u2026", '."', ".)", "?\u201d"]


def random_words(rng: random.Random, *, chaotic: bool = False) -> list[Word]:
    words: list[Word] = []
    t = rng.randint(0, 5000)
    for _ in range(rng.randint(0, 400)):
        if rng.random() < 0.03:
            text = rng.choice(["", " "])
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


def check_common(cues: list[Cue], words: list[Word], audio_end: int) -> None:
    spoken = [w for w in words if w.text.strip()]
    assert " ".join(" ".join(c.lines) for c in cues) == " ".join(w.text for w in spoken)
    for cue, nxt in itertools.zip_longest(cues, cues[1:]):
        assert cue.end_ms > cue.start_ms
        assert cue.end_ms <= audio_end
        if nxt is not None:
            assert cue.end_ms <= nxt.start_ms


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

    spoken = iter([w for w in words if w.text.strip()])
    next_starts = [c.start_ms for c in cues[1:]] + [audio_end]
    for cue, next_start in zip(cues, next_starts):
        mine = [next(spoken) for _ in " ".join(cue.lines).split(" ")]
        assert [w.text for w in mine] == " ".join(cue.lines).split(" ")  # in order, once
        assert 1 <= len(cue.lines) <= max_lines
        for line in cue.lines:
            assert len(line) <= max_chars or " " not in line
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
# build_cues: streaming


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


# --------------------------------------------------------------------------
# Output


SAMPLE = [
    Cue(0, 1500, ("Hello, world.",)),
    Cue(1500, 4250, ("A second cue,", "on two lines.")),
]


def test_write_srt_exact():
    out = io.StringIO()
    assert write_srt(iter(SAMPLE), out) == 2
    assert out.getvalue() == (
        "1\n"
        "00:00:00,000 --> 00:00:01,500\n"
        "Hello, world.\n"
        "\n"
        "2\n"
        "00:00:01,500 --> 00:00:04,250\n"
        "A second cue,\n"
        "on two lines.\n"
    )


def test_write_vtt_exact():
    out = io.StringIO()
    assert write_vtt(iter(SAMPLE), out) == 2
    assert out.getvalue() == (
        "WEBVTT\n"
        "\n"
        "00:00:00.000 --> 00:00:01.500\n"
        "Hello, world.\n"
        "\n"
        "00:00:01.500 --> 00:00:04.250\n"
        "A second cue,\n"
        "on two lines.\n"
    )


def test_vtt_text_never_contains_arrow_and_is_escaped():
    out = io.StringIO()
    write_vtt([Cue(0, 1000, ("a --> b", "Tom & <Jerry>"))], out)
    body = out.getvalue().split("\n", 3)[3]
    assert "-->" not in body
    assert body == "a --&gt; b\nTom &amp; &lt;Jerry&gt;\n"


def test_writers_on_no_cues():
    srt, vtt = io.StringIO(), io.StringIO()
    assert write_srt([], srt) == 0 and srt.getvalue() == ""
    assert write_vtt([], vtt) == 0 and vtt.getvalue() == "WEBVTT\n\n"


def test_writers_end_to_end_from_words():
    words = timed("Hello, world.\n\nGoodbye now.", word_ms=400, gap_ms=100)
    out = io.StringIO()
    assert write_srt(build_cues(words, audio_end_ms=5000), out) == 2
    assert out.getvalue() == (
        "1\n00:00:00,000 --> 00:00:00,900\nHello, world.\n\n"
        "2\n00:00:01,000 --> 00:00:01,900\nGoodbye now.\n"
    )


def test_cue_text_joins_lines():
    assert SAMPLE[1].text == "A second cue,\non two lines."


@pytest.mark.parametrize(
    ("ms", "srt", "vtt"),
    [
        (0, "00:00:00,000", "00:00:00.000"),
        (999, "00:00:00,999", "00:00:00.999"),
        (3_599_999, "00:59:59,999", "00:59:59.999"),
        (36_000_000, "10:00:00,000", "10:00:00.000"),
        (360_000_000, "100:00:00,000", "100:00:00.000"),
    ],
)
def test_timestamps(ms: int, srt: str, vtt: str):
    assert srt_timestamp(ms) == srt
    assert vtt_timestamp(ms) == vtt


def test_negative_timestamp_is_rejected():
    with pytest.raises(ValueError):
        srt_timestamp(-1)
