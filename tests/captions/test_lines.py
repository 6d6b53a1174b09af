"""Wrapping words onto balanced caption lines."""

from __future__ import annotations

import itertools

import pytest

from narrator.captions.lines import wrap_lines


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
    words = ["The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog",
             "near", "the", "river", "bank"]
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

