"""Fragments and clips, the package's overlay metadata, the SMIL clock: pure parts."""

from __future__ import annotations

from lxml import etree

from narrator.model import Word
from narrator.readalong.fragments import Fragment, clips, find_fragments
from narrator.readalong.package import NewItem, Overlay, edit_package
from narrator.readalong.smil import clock, duration, overlay
from narrator.readalong.upgrade import numeric_entities, upgraded_page
from narrator.text.html import element_text
from narrator.text.positions import mapped_blocks
from tests.readalong.test_wrap import page


def fragments_of(body: str, paragraphs, title_spoken=False, granularity="sentence"):
    root = page(body)
    return root, find_fragments(mapped_blocks(root), paragraphs, title_spoken, granularity)


def shown(root, fragment: Fragment) -> str:
    """The words a fragment covers, read from the page between its places."""
    if fragment.heading is not None:
        return element_text(fragment.heading)
    words = [w for block in mapped_blocks(root) for w in block.words]
    first = next(i for i, w in enumerate(words) if w.first == fragment.start)
    return " ".join(w.text for w in words[first:first + fragment.count])


def test_sentences_keep_abbreviations_initials_decimals_ellipses_and_quotes_whole():
    text = ("Dr. Reed met A. Tester at 9 a.m. on St. Ives Road. It was 3.5 metres deep... and cold. "
            "\"Are you sure?\" she asked. No. 5 was e.g. a house, i.e. a home. Mrs. Vale left.")
    root, found = fragments_of(f"<p>{text}</p>", [text])
    assert [shown(root, f) for f in found] == [
        "Dr. Reed met A. Tester at 9 a.m. on St. Ives Road.",
        "It was 3.5 metres deep... and cold.",
        "\"Are you sure?\" she asked.",
        "No. 5 was e.g. a house, i.e. a home.",
        "Mrs. Vale left.",
    ]
    assert [f.first for f in found] == [0, 12, 19, 24, 33]


def test_the_spoken_title_is_the_heading_and_the_words_after_it_count_on():
    body = "<h1>One</h1><p>First words here. Then more.</p>"
    root, found = fragments_of(body, ["One.", "First words here. Then more."], title_spoken=True)
    assert found[0].heading is not None and found[0].first == 0 and found[0].count == 1
    assert [(f.first, f.count) for f in found[1:]] == [(1, 3), (4, 2)]


def test_a_paragraph_the_page_does_not_hold_is_skipped_and_the_count_goes_on():
    root, found = fragments_of("<p>Kept here.</p>", ["Not on the page.", "Kept here."], granularity="word")
    assert [(f.first, shown(root, f)) for f in found] == [(4, "Kept"), (5, "here.")]


def test_a_sentence_across_cells_is_cut_into_runs_the_page_can_hold():
    body = "<table><tr><td>North gate</td><td>South gate.</td></tr></table>"
    root, found = fragments_of(body, ["North gate, South gate."])
    assert [(f.first, f.count) for f in found] == [(0, 2), (2, 2)]


def word(text, start, end):
    return Word(text, start, end)


def test_clips_tile_when_fragments_follow_on_and_stop_at_the_last_word_otherwise():
    words = [word("a", 100, 200), word("b", 250, 300), word("c", 400, 500), word("d", 600, 700)]
    found = [Fragment(0, 2), Fragment(2, 1), Fragment(3, 1)]
    assert [(c.begin_ms, c.end_ms) for c in clips(found, words)] == [(100, 400), (400, 600), (600, 700)]
    gap = [Fragment(0, 1), Fragment(2, 1)]  # word 1 has no place on the page: no clip holds it
    assert [(c.begin_ms, c.end_ms) for c in clips(gap, words)] == [(100, 200), (400, 500)]


def test_named_entities_become_numeric_and_others_stay():
    before = b"a&nbsp;b&amp;c&mdash;&unknown;&#160;"
    assert numeric_entities(before) == b"a&#160;b&amp;c&#8212;&unknown;&#160;"


def test_an_epub2_page_gets_the_html5_doctype_and_its_features_from_its_elements():
    page = (b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" "x.dtd">\n'
            b'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title></head><body>'
            b"<!-- <script> in a comment is no script --><p>a&nbsp;b</p>"
            b'<svg xmlns="http://www.w3.org/2000/svg"/></body></html>')
    upgraded, features = upgraded_page(page)
    assert upgraded.startswith(b'<?xml version="1.0"?>\n<!DOCTYPE html>\n<html')
    assert b"a&#160;b" in upgraded and features == {"svg"}


def test_clock_values_and_durations():
    assert clock(0) == "0:00:00.000" and clock(3_723_456) == "1:02:03.456"
    pars = [("s1", 100, 400), ("s2", 400, 1000)]
    assert duration(pars) == 900
    smil = etree.fromstring(overlay("../text/a%20b.xhtml", "001.mp3", pars))
    audio = smil.findall(".//{http://www.w3.org/ns/SMIL}audio")
    assert [a.get("clipBegin") for a in audio] == ["0:00:00.100", "0:00:00.400"]


OPF = b"""<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">x</dc:identifier>
<meta property="dcterms:modified">2020-01-01T00:00:00Z</meta></metadata>
<manifest><item id="c1" href="text/one.xhtml#top" media-type="application/xhtml+xml"/></manifest>
<spine><itemref idref="c1"/></spine></package>"""


def test_overlay_metadata_is_replaced_not_doubled_when_a_read_along_book_is_narrated_again():
    # (The item's href has a fragment, which no valid book has: it is found as the reader finds it.)
    smil = NewItem("narrator-1", "OEBPS/narrator/001.smil", "application/smil+xml")
    once = edit_package(OPF, "OEBPS/content.opf", [smil], [Overlay("OEBPS/text/one.xhtml", smil, 900)],
                        "en-us", {})
    again = NewItem("narrator-2", "OEBPS/narrator/001b.smil", "application/smil+xml")
    twice = edit_package(once, "OEBPS/content.opf", [again], [Overlay("OEBPS/text/one.xhtml", again, 800)],
                         "en-gb", {})
    root = etree.fromstring(twice)
    metas = [(m.get("property"), m.get("refines"), m.text) for m in root.iter("{*}meta")]
    durations = [(refines, text) for prop, refines, text in metas if prop == "media:duration"]
    assert durations == [("#narrator-2", "0:00:00.800"), (None, "0:00:00.800")]
    assert [m[2] for m in metas if m[0] == "media:narrator"] == ["en-gb"]
    assert [m[0] for m in metas].count("dcterms:modified") == 1
    assert root.find(".//{*}item[@id='c1']").get("media-overlay") == "narrator-2"
