"""The one definition of a sentence's end, as cutting and captions read it."""

from __future__ import annotations

import pytest

from narrator.text.sentences import (
    ENDS_SENTENCE,
    SENTENCE_END,
    ends_sentence,
    is_abbreviation,
    sentence_ends,
)


@pytest.mark.parametrize("text, end", [
    ("One. Two", 5),
    ("She said “go.” Then", 15),
    ("(Really!)  Next", 11),
    ("Wait… more", 6),
    ("यह वाक्य है।अगला", 12),  # a danda needs no space after it
    ("终于。然后", 3),
])
def test_a_sentence_end_in_running_text_takes_its_closers_and_the_space_after(text, end):
    match = SENTENCE_END.search(text)
    assert match is not None and match.end() == end


@pytest.mark.parametrize("text", ["Mr.Smith", "3.14", "end,", "no stop here"])
def test_no_sentence_end_without_a_stop_and_a_space(text):
    assert SENTENCE_END.search(text) is None


@pytest.mark.parametrize("word, ends", [
    ("end.", True), ("“end.”", True), ("(end!)", True), ("है।", True), ("so…", True),
    ("end,", False), ("e.g", False), ("word", False),
])
def test_a_word_that_ends_a_sentence(word, ends):
    assert bool(ENDS_SENTENCE.search(word)) is ends


def ends_in(text):
    ends = list(sentence_ends(text))
    return [text[start:end].strip() for start, end in zip([0] + ends, ends)]


@pytest.mark.parametrize("text, sentences", [
    ("The keeper and Dr. Reed wrote it down. Then", ["The keeper and Dr. Reed wrote it down."]),
    ("Mr. and Mrs. Tester lived on St. Ives Road. Next", ["Mr. and Mrs. Tester lived on St. Ives Road."]),
    ("Bring tools, e.g. a rope, i.e. what floats. Next", ["Bring tools, e.g. a rope, i.e. what floats."]),
    ("The ferry left at 9 a.m. on Monday. Next", ["The ferry left at 9 a.m. on Monday."]),
    ("See No. 5 and Fig. 3 in Vol. 2 here. Next", ["See No. 5 and Fig. 3 in Vol. 2 here."]),
    ("She said no. Then she left. End", ["She said no.", "Then she left."]),
    ("A. Tester signed it. Next", ["A. Tester signed it."]),
    ("It weighed 3.75 kilos. Next", ["It weighed 3.75 kilos."]),
    ("He waited... and waited. Then… Nothing. End", ["He waited... and waited.", "Then…", "Nothing."]),
    ("She said \u201cGo home.\u201d He went. End", ["She said \u201cGo home.\u201d", "He went."]),
    ("(It was late.) So we slept. End", ["(It was late.)", "So we slept."]),
    ("C.S. Lewis met J.R.R. Tolkien in the U.S. in May. Next",
     ["C.S. Lewis met J.R.R. Tolkien in the U.S. in May."]),
    ("Salt, rope, etc. were sold. \"Sure?\" she asked. End",
     ["Salt, rope, etc. were sold.", "\"Sure?\" she asked."]),
])
def test_sentence_ends_know_abbreviations_initials_decimals_ellipses_and_quotes(text, sentences):
    assert ends_in(text) == sentences


@pytest.mark.parametrize("word, following, own", [
    ("Dr.", "", True), ("dr.", "", True), ("(Mr.", "", True), ("e.g.", "", True), ("A.", "", True),
    ("No.", "5", True), ("No.", "", False), ("no.", "T", False), ("a.", "", False), ("end.", "", False),
    ("Dr", "", False), ("C.S.", "", True), ("U.S.", "", True), ("J.R.R.", "", True), ("etc.", "", False),
])
def test_which_stops_belong_to_their_word(word, following, own):
    assert is_abbreviation(word, following) is own


def test_a_caption_word_ends_a_sentence_unless_it_is_an_abbreviation():
    assert ends_sentence("down.") and ends_sentence("“end.”")
    assert not ends_sentence("Dr.") and not ends_sentence("e.g.") and not ends_sentence("A.")
