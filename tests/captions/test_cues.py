"""Caption building and writing, on synthetic timed words (no audio)."""

from __future__ import annotations

import io
import itertools
import random
import re
import unicodedata

import pytest

from narrator.captions.cues import (
    CAPTION_STYLES,
    WORD_BRIDGE_MS,
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
    words = ["The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "near", "the", "river", "bank"]
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


def test_wrap_lone_punctuation_never_starts_a_line():
    # Balance alone would start line two with the dash: "aaaa bbbbb" / "— cc dddd"
    # (10 and 9) beats "aaaa bbbbb —" / "cc dddd" (12 and 7).
    words = ["aaaa", "bbbbb", "\u2014", "cc", "dddd"]
    assert wrap_lines(words, 12, 2) == ("aaaa bbbbb \u2014", "cc dddd")


@pytest.mark.parametrize("token", ["\u2014", "\u2026", "\u201d", "\u00bb", "?", "...", "-", '"'])
def test_wrap_keeps_each_trailing_token_with_the_word_before(token: str):
    for sizes in itertools.product([2, 5, 9], repeat=3):
        words = ["a" * sizes[0], "b" * sizes[1], token, "c" * sizes[2], "dddddd"]
        for max_chars in range(8, 30):
            lines = wrap_lines(words, max_chars, 5)
            assert lines is not None
            assert not any(line.split(" ")[0] == token for line in lines), (max_chars, lines)
            assert " ".join(lines) == " ".join(words)


@pytest.mark.parametrize("token", ["(", "\u201c", "\u00ab", "["])
def test_wrap_keeps_an_opening_token_with_the_word_after(token: str):
    words = ["aaaaaa", "bbbbbb", token, "cccccc", "dddddd"]
    for max_chars in range(8, 30):
        lines = wrap_lines(words, max_chars, 5)
        assert lines is not None
        assert not any(line.split(" ")[-1] == token for line in lines), (max_chars, lines)


def test_wrap_glued_tokens_count_towards_the_line():
    # Two lines only by starting one with the dash ("aaaa bbbb" / "— ccccc");
    # kept with "bbbb" it needs three.
    words = ["aaaa", "bbbb", "\u2014", "ccccc"]
    assert wrap_lines(words, 10, 2) is None
    assert wrap_lines(words, 10, 3) == ("aaaa", "bbbb \u2014", "ccccc")


def test_wrap_word_and_its_punctuation_over_the_limit_sit_alone():
    long = "x" * 41
    assert wrap_lines(["a", long, "\u201d", "b"], 42, 3) == ("a", long + " \u201d", "b")
    assert wrap_lines(["a", long, "\u201d", "b"], 42, 2) is None


def test_wrap_leading_punctuation_with_nothing_before_stays_first():
    assert wrap_lines(["\u2026", "and", "so"], 42, 2) == ("\u2026 and so",)


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


def test_lone_dash_at_the_overflow_stays_with_the_word_before():
    # 14 five-letter words fill both lines (7 x 6 - 1 = 41 chars each); the
    # dash overflows the cue, and takes "w0013" along to the next one.
    texts = [f"w{i:04d}" for i in range(14)] + ["\u2014"] + [f"v{i:04d}" for i in range(3)]
    cues = cues_of(timed(" ".join(texts), word_ms=50, gap_ms=0))
    assert one_line_texts(cues) == [
        " ".join(texts[:13]),
        " ".join(texts[13:]),
    ]


def test_lone_closing_quote_after_a_sentence_end_stays_in_its_cue():
    text = "This opening sentence is long enough to close. \u201d Then more."
    cues = cues_of(timed(text))
    assert one_line_texts(cues) == ["This opening sentence is long enough to close. \u201d", "Then more."]


def lines_of_shifted(phrase: str):
    """Every line of the cues of `phrase` repeated, shifted by 0-11 words.
    No break marks: cues and lines break wherever the text fills them, so
    shifting the text moves those places over every token."""
    for shift in range(12):
        text = "x " * shift + " ".join([phrase] * 8)
        cues = cues_of(timed(text, word_ms=250, gap_ms=20))
        assert len(cues) > 3
        for cue in cues:
            yield from cue.lines


def test_spaced_punctuation_never_starts_a_cue_or_line():
    for line in lines_of_shifted('Well it was \u00bb long - very long " and so dark'):
        assert not is_trailing(line.split(" ")[0]), line


def test_opening_bracket_never_ends_a_cue_or_line():
    for line in lines_of_shifted("it was said ( quietly ) that the \u201c end \u201d came"):
        assert not is_opener(line.split(" ")[-1]), line


def test_punctuation_at_a_paragraph_start_opens_the_cue():
    # Nothing before it in the paragraph: gluing it back would cross the end.
    cues = cues_of(timed("The end.\n\n\u2014 Who is there?"))
    assert one_line_texts(cues) == ["The end.", "\u2014 Who is there?"]


def test_cues_carry_their_words():
    words = timed("Hello there, world.\n\nNext one")
    cues = cues_of(words)
    assert [c.words for c in cues] == [tuple(words[:3]), tuple(words[3:])]


def test_empty_paragraph_end_moves_to_the_word_before_in_cue_words():
    words = [Word("One", 0, 300), Word("", 300, 300, ends_paragraph=True), Word("Two", 400, 700)]
    cues = cues_of(words)
    assert cues[0].words == (Word("One", 0, 300, ends_paragraph=True),)
    assert cues[1].words == (words[2],)


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
        assert [(w.text, w.start_ms, w.end_ms) for w in cue.words] == [(w.text, w.start_ms, w.end_ms) for w in mine]
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
    words = [Word("a", 0, 200), Word("b", 200 + bridged, 600 + bridged), Word("c", 600 + bridged + kept, 2000)]
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


def test_write_vtt_word_timestamps_exact():
    words = [
        Word("Hello,", 1000, 1400), Word("big", 1500, 1800), Word("<world>", 1900, 2300),
        Word("and", 2400, 2600), Word("you.", 2700, 3000, ends_paragraph=True),
        Word("Bye", 5000, 5400),
    ]
    out = io.StringIO()
    assert write_vtt(build_cues(words, audio_end_ms=6000, max_chars=16), out) == 2
    assert out.getvalue() == (
        "WEBVTT\n"
        "\n"
        "00:00:01.000 --> 00:00:03.000\n"
        "Hello, <00:00:01.500>big\n"
        "<00:00:01.900>&lt;world&gt; <00:00:02.400>and <00:00:02.700>you.\n"
        "\n"
        "00:00:05.000 --> 00:00:05.800\n"
        "Bye\n"
    )


def test_vtt_word_timestamps_only_where_the_spec_allows():
    # Tags must be after the cue start and every earlier tag, before the end.
    words = (
        Word("early", 900, 1000),  # before the (pushed) cue start
        Word("at-start", 1000, 1100),  # equal to the cue start: no tag
        Word("ok", 1500, 1600),
        Word("same", 1500, 1600),  # equal to the previous tag: no tag
        Word("back", 1400, 1450),  # earlier than the previous tag: no tag
        Word("at-end", 2000, 2100),  # equal to the cue end: no tag
    )
    cue = Cue(1000, 2000, (" ".join(w.text for w in words),), words)
    out = io.StringIO()
    write_vtt([cue], out)
    assert out.getvalue().split("\n")[3] == "early at-start <00:00:01.500>ok same back at-end"


def test_vtt_without_word_times_or_matching_words_is_plain():
    words = (Word("a", 0, 100), Word("b", 500, 600))
    cue = Cue(0, 1000, ("a b",), words)
    out = io.StringIO()
    write_vtt([cue], out, word_times=False)
    assert out.getvalue().endswith("\na b\n")
    # Words that do not spell the lines are not trusted for timing.
    out = io.StringIO()
    write_vtt([Cue(0, 1000, ("a c",), words)], out)
    assert out.getvalue().endswith("\na c\n")


def test_vtt_timed_text_is_escaped_and_never_holds_an_arrow():
    words = (Word("a", 0, 100), Word("-->", 200, 300), Word("Tom", 400, 500), Word("&", 600, 700), Word("<Jerry>", 800, 900))
    cue = Cue(0, 1000, ("a --> Tom", "& <Jerry>"), words)
    out = io.StringIO()
    write_vtt([cue], out)
    body = out.getvalue().split("\n", 3)[3]
    assert "-->" not in body
    assert body == (
        "a <00:00:00.200>--&gt; <00:00:00.400>Tom\n"
        "<00:00:00.600>&amp; <00:00:00.800>&lt;Jerry&gt;\n"
    )


_VTT_TIME = r"(\d\d+):(\d\d):(\d\d)\.(\d{3})"


def vtt_ms(stamp: str) -> int:
    h, m, s, ms = re.fullmatch(_VTT_TIME, stamp).groups()
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def check_vtt(text: str, cues: list[Cue]) -> None:
    """Parse a written VTT back: timings, tag validity and placement, text."""
    blocks = text.split("\n\n")
    assert blocks[0] == "WEBVTT"
    blocks = [b for b in blocks[1:] if b]
    assert len(blocks) == len(cues)
    for block, cue in zip(blocks, cues):
        timing, payload = block.rstrip("\n").split("\n", 1)
        start, end = (vtt_ms(t) for t in timing.split(" --> "))
        assert (start, end) == (cue.start_ms, cue.end_ms)
        tokens = payload.replace("\n", " ").split(" ")
        assert len(tokens) == len(cue.words)
        last = start
        for token, word in zip(tokens, cue.words):
            tag = re.match(rf"<({_VTT_TIME})>", token)
            if tag:
                at = vtt_ms(tag.group(1))
                assert start < at < end and at > last  # the WebVTT rule
                assert at == word.start_ms  # before its own word
                last = at
                token = token[tag.end():]
            else:
                # Left out only where the rule forbids it.
                assert not (last < word.start_ms < end)
            assert "<" not in token and ">" not in token
            unescaped = token.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
            assert unescaped == word.text
        assert payload.count("\n") == len(cue.lines) - 1  # the wrapper's breaks


@pytest.mark.parametrize("seed", range(100))
def test_random_vtt_word_timestamps_parse_back(seed: int):
    rng = random.Random(30_000 + seed)
    chaotic = seed % 3 == 0
    words = random_words(rng, chaotic=chaotic)
    for word in rng.sample(range(len(words)), min(5, len(words))):
        words[word] = Word(rng.choice(["<b>", "a&b", "-->", "x>y"]), words[word].start_ms, words[word].end_ms)
    audio_end = max((w.end_ms for w in words), default=0) + 1000
    cues = list(build_cues(words, audio_end_ms=audio_end))
    out = io.StringIO()
    assert write_vtt(iter(cues), out) == len(cues)
    check_vtt(out.getvalue(), cues)


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
