"""Where cues break: which words share a cue (through build_cues)."""

from __future__ import annotations

from narrator.model import Word
from tests.captions.timed_words import cues_of, is_opener, is_trailing, one_line_texts, timed


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

