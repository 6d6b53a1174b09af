"""Pronunciation lexicons: both forms read, every bad file one line naming the
file and the entry, and graphemes replaced as whole words."""

from __future__ import annotations

import pytest

from narrator.errors import ConfigError
from narrator.text.lexicon import Entry, Lexicon, read_lexicons, say

PLS = """<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" xml:lang="en">
{}
</lexicon>
"""


def pls(tmp_path, body: str, name: str = "names.pls"):
    path = tmp_path / name
    path.write_text(PLS.format(body), encoding="utf-8")
    return path


def test_pls_aliases_and_phonemes_with_several_graphemes(tmp_path):
    path = pls(tmp_path, """
      <lexeme><grapheme>LV</grapheme><grapheme>L.V.</grapheme><alias>level</alias></lexeme>
      <lexeme><grapheme>Nguyen</grapheme><phoneme alphabet="x-sampa">wIn</phoneme></lexeme>""")
    lexicon = read_lexicons((path,))
    assert [(e.grapheme, e.alias, e.phoneme, e.alphabet) for e in lexicon.entries] == [
        ("LV", "level", None, "ipa"), ("L.V.", "level", None, "ipa"), ("Nguyen", None, "wIn", "x-sampa")]
    assert lexicon.entries[2].source == "names.pls, lexeme 2"


def test_the_toml_form_and_a_later_file_winning(tmp_path):
    first = tmp_path / "a.toml"
    first.write_text('[alias]\n"LV" = "level"\n"Dr." = "Doctor"\n')
    second = tmp_path / "b.toml"
    second.write_text('alphabet = "ipa"\n[alias]\n"LV" = "low voltage"\n[phoneme]\n"Nguyen" = "wɪn"\n')
    lexicon = read_lexicons((first, second))
    assert {e.grapheme: e.alias or e.phoneme for e in lexicon.entries} == {
        "LV": "low voltage", "Dr.": "Doctor", "Nguyen": "wɪn"}


@pytest.mark.parametrize("name, body, says", [
    ("bad.pls", "<lexicon><oops", "bad.pls: not a pronunciation lexicon (PLS)"),
    ("a.pls", PLS.format("<lexeme><alias>x</alias></lexeme>"), "a.pls: lexeme 1 has no <grapheme>"),
    ("a.pls", PLS.format("<lexeme><grapheme>LV</grapheme></lexeme>"),
     "a.pls: lexeme 1 ('LV') has no <alias> or <phoneme>"),
    ("a.pls", PLS.format("<lexeme><grapheme>a</grapheme><phoneme alphabet='klingon'>x</phoneme></lexeme>"),
     "a.pls: lexeme 1: alphabet 'klingon' is not one of ipa, x-sampa"),
    ("a.toml", '[alias]\n"LV" = ""\n', "a.toml: [alias] 'LV' must be a word and a text to say instead"),
    ("a.toml", '[aliases]\n"LV" = "level"\n', "a.toml: unknown table or key 'aliases'"),
    ("a.toml", '[alias\n', "a.toml"),
])
def test_a_bad_lexicon_is_one_line_naming_the_file_and_the_entry(tmp_path, name, body, says):
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        read_lexicons((path,))
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_a_missing_lexicon_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="names.pls: cannot read the lexicon"):
        read_lexicons((tmp_path / "names.pls",))


LEXICON = Lexicon((Entry("LV", alias="level"), Entry("Dr.", alias="Doctor"), Entry("New", alias="Old"),
                   Entry("New York", alias="the Big Apple"), Entry("Nguyen", phoneme="wɪn")))


@pytest.mark.parametrize("paragraph, text, counts", [
    ("The LV, was high.", "The level, was high.", (1, 1, 1, 1)),
    ("(LV) and \"LV.\"", "(level) and \"level.\"", (1, 1, 1)),
    ("LVX, xLV and lv stay.", "LVX, xLV and lv stay.", (1, 1, 1, 1, 1)),  # whole words, in the case written
    ("Dr. Reed and Dr., not Dr.", "Doctor Reed and Doctor, not Doctor", (1, 1, 1, 1, 1, 1)),
    ("To New York. New plans.", "To the Big Apple. Old plans.", (1, 3, 0, 1, 1)),  # the longest match wins
])
def test_graphemes_are_replaced_as_whole_words_keeping_the_punctuation_around_them(paragraph, text, counts):
    said = say(paragraph, LEXICON)
    assert (said.text, said.counts) == (text, counts)
    assert len(said.counts) == len(paragraph.split()) and sum(said.counts) == len(said.text.split())


def test_a_phoneme_becomes_an_ssml_tag_around_its_grapheme():
    said = say("Ask Nguyen.", LEXICON, ssml=True)
    assert said.text == 'Ask <phoneme alphabet="ipa" ph="wɪn">Nguyen</phoneme>.'
    assert said.spoken == "Ask Nguyen." and said.counts == (1, 1)  # the tag is read, the grapheme said
    assert say("Ask LV.", Lexicon((Entry("LV", alias="level"),))).spoken is None  # nothing tagged


def test_the_longer_grapheme_wins_whatever_the_order_and_punctuation_is_kept():
    lexicon = Lexicon((Entry("St", alias="Street"), Entry("St.", alias="Saint"),
                       Entry("New York", alias="NYC")))
    assert say("St. Mary and Elm St today.", lexicon).text == "Saint Mary and Elm Street today."
    assert say("in New, York and New York.", lexicon).text == "in New, York and NYC."


def test_cmu_arpabet_phonemes_escaped_ssml_and_no_entities(tmp_path):
    path = pls(tmp_path, '<lexeme><grapheme>AT&amp;T</grapheme>'
                         '<phoneme alphabet="cmu-arpabet">EY1 T IY1</phoneme></lexeme>')
    (entry,) = read_lexicons((path,)).entries
    assert entry.alphabet == "cmu-arpabet"
    said = say("Call AT&T now.", Lexicon((entry,)), ssml=True)
    assert said.text == 'Call <phoneme alphabet="cmu-arpabet" ph="EY1 T IY1">AT&amp;T</phoneme> now.'
    assert said.spoken == "Call AT&T now."
    bad = tmp_path / "entities.pls"
    bad.write_text('<!DOCTYPE lexicon [<!ENTITY e "level">]>' + PLS.format(
        "<lexeme><grapheme>LV</grapheme><alias>&e;</alias></lexeme>").split("\n", 1)[1])
    with pytest.raises(ConfigError, match="entities.pls: declares entities"):
        read_lexicons((bad,))
