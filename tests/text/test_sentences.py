"""The one definition of a sentence's end, as cutting and captions read it."""

from __future__ import annotations

import pytest

from narrator.text.sentences import ENDS_SENTENCE, SENTENCE_END


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
