"""The quote finder and the runs it makes, on typographic edge cases: no text
is ever lost, and what cannot be a quote stays with the narrator."""

from __future__ import annotations

import pytest

from narrator.errors import ConfigError
from narrator.text.quotes import find_quotes, quoted_text
from narrator.text.voices import Voices, runs, voices_from_table


def quotes(*paragraphs, names=("Ada", "Tom")):
    return [(quoted_text(paragraphs, q), q.speaker) for q in find_quotes(paragraphs, names)]


@pytest.mark.parametrize("paragraph, found", [
    ('"Come home," said Ada.', [("Come home,", "Ada")]),
    ("\u201cCome home,\u201d Ada said.", [("Come home,", "Ada")]),
    ("Ada said, \u201cCome home.\u201d", [("Come home.", "Ada")]),
    ("asked Tom: \u00abO\u00f9?\u00bb", [("O\u00f9?", "Tom")]),
    ("\u201eKomm heim\u201c, sagte sie.", [("Komm heim", None)]),
    ("\u2018Don\u2019t,\u2019 she whispered.", [("Don\u2019t,", None)]),  # an apostrophe inside
    ("Tom\u2019s dog and the dogs\u2019 bowls.", []),  # apostrophes only
    ("It was 5\" long and \u2019tis true.", []),  # an inch mark, an elision
    ("\u201cGo,\u201d said Ada. \u201cNow.\u201d", [("Go,", "Ada"), ("Now.", "Ada")]),  # one speaker's turn
    ("\u201cShe said \u2018no\u2019 twice,\u201d Tom added.", [("She said \u2018no\u2019 twice,", "Tom")]),
    ("\u201cWhere?\u201d she asked.", [("Where?", None)]),  # a pronoun names nobody
    ("An \u201cunbalanced quote.", []),
])
def test_quotes_and_their_speakers(paragraph, found):
    assert quotes(paragraph) == found


def test_a_quote_over_several_paragraphs_is_one_quote():
    paragraphs = ["\u201cIt was long ago,", "\u201cand nobody remembers,\u201d said Ada.", "The end."]
    (quote,) = find_quotes(paragraphs, ["Ada"])
    assert quote.parts == ((0, 0, 17), (1, 0, 23)) and quote.speaker == "Ada"


def test_an_open_quote_not_taken_up_again_is_narration():
    assert find_quotes(["\u201cIt was long ago,", "and nobody remembers."]) == []


VOICES = Voices(dialogue="D", characters=(("Ada", "A"),), quotes=(("Listen", "narrator"),))


def test_runs_cut_at_quote_edges_keep_every_word_and_mark_paragraph_ends():
    paragraphs = ["One.", "The harbour was quiet. \u201cCome home,\u201d said Ada. \u201cBring salt.\u201d",
                  "She waited. \u201cWhere?\u201d Tom asked.",
                  "\u201cListen,\u201d it said. An \u201codd quote."]
    found = runs(paragraphs, VOICES, "N", title=True)
    assert found == [
        ("One.", "N", True),
        ("The harbour was quiet.", "N", False), ("\u201cCome home,\u201d", "A", False),
        ("said Ada.", "N", False), ("\u201cBring salt.\u201d", "A", True),
        ("She waited.", "N", False), ("\u201cWhere?\u201d", "D", False), ("Tom asked.", "N", True),
        ("\u201cListen,\u201d it said. An \u201codd quote.", "N", True),  # forced to the narrator; unbalanced
    ]
    assert " ".join(text for text, _, _ in found).split() == " ".join(paragraphs).split()


def test_a_quote_glued_to_a_word_moves_its_cut_to_the_space():
    found = runs(["He said,\u201cGo.\u201d Then left."], VOICES, None)
    assert [text for text, _, _ in found] == ["He", "said,\u201cGo.\u201d", "Then left."]
    assert [voice for _, voice, _ in found] == [None, "D", None]


def test_without_dialogue_or_characters_nothing_is_cut():
    assert runs(["\u201cGo,\u201d said Ada."], Voices(), None) == [("\u201cGo,\u201d said Ada.", None, True)]


def test_a_voices_table_is_checked_in_one_line_naming_the_key():
    table = {"narrator": "N", "chapters": {"2": "E", "4-6": "F"}, "characters": {"Ada": "A"}}
    voices = voices_from_table(table, "v.toml")
    assert voices.of_chapter(2) == "E" and voices.of_chapter(5) == "F" and voices.of_chapter(3) is None
    for bad, says in [({"narator": "N"}, "v.toml: unknown voices key 'narator'"),
                      ({"chapters": {"two": "E"}}, "v.toml: [chapters] 'two' is not a chapter number"),
                      ({"characters": {"Ada": 3}}, "v.toml: [characters] must be a table of texts"),
                      ({"quotes": {"Hi": "Bob"}}, "v.toml: [quotes] 'Hi' = 'Bob': not a character")]:
        with pytest.raises(ConfigError) as caught:
            voices_from_table(bad, "v.toml")
        assert says in str(caught.value)


@pytest.mark.parametrize("paragraphs, found", [
    (["He\u2019d seen \u2018em all. \u201cRun,\u201d said Ada."], [("Run,", "Ada")]),  # an elision
    (["A stray \" here. \u201cGo,\u201d said Ada."], [("Go,", "Ada")]),
    (["\u2018It was long ago,", "\u2018and nobody remembers,\u2019 said Ada."],
     [("It was long ago, and nobody remembers,", "Ada")]),  # British quotes over two paragraphs
])
def test_a_mark_that_opens_nothing_hides_no_quote_after_it(paragraphs, found):
    assert quotes(*paragraphs) == found


def test_a_reversed_range_and_an_empty_name_are_refused():
    for bad, says in [({"chapters": {"5-3": "E"}}, "[chapters] '5-3' is not a chapter number or range"),
                      ({"characters": {" ": "A"}}, "[characters] must be a table of texts")]:
        with pytest.raises(ConfigError) as caught:
            voices_from_table(bad, "v.toml")
        assert says in str(caught.value)


def test_a_character_in_the_narrators_own_voice_cuts_nothing():
    voices = Voices(characters=(("Ada", "en-us"),))
    assert runs(["It rained. \u201cGo,\u201d said Ada. Then it stopped."], voices, None, default="en-us") == [
        ("It rained. \u201cGo,\u201d said Ada. Then it stopped.", None, True)]
