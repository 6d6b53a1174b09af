"""Wrapping runs of a document's words in place: the text never changes,
ids stay unique, each wrapped element holds exactly its words, and only
inline elements are ever split."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from narrator.readalong.wrap import can_wrap, wrap
from narrator.text.positions import mapped_blocks

XHTML = "http://www.w3.org/1999/xhtml"
WORDS = ["one.", "two", "Dr.", "three,", "four!", "\u00e9t\u00e9", "A."]


def page(body: str) -> etree._Element:
    return etree.fromstring(f'<html xmlns="{XHTML}"><head><title>t</title></head><body>{body}</body></html>')


def texts(root: etree._Element) -> str:
    return "".join(root.itertext())


def element_words(root: etree._Element, id_: str) -> list[str]:
    return "".join(root.xpath(f'//*[@id="{id_}"]')[0].itertext()).split()


def wrap_all(root, runs):
    """Check every run first, then wrap the allowed ones last first: as a chapter is wrapped."""
    allowed = [(first, last) for first, last in runs if can_wrap(first, last)]
    for number, (first, last) in reversed(list(enumerate(allowed))):
        wrap(first, last, "span", f"w{number}")
    return len(allowed)


def test_a_sentence_across_emphasis_is_one_span_and_the_emphasis_is_split():
    root = page('<p>He said <em id="e">never. Again</em> and left.</p>')
    words = mapped_blocks(root)[0].words
    # "He said never." and "Again and left."
    assert wrap_all(root, [(words[0].first, words[2].last), (words[3].first, words[5].last)]) == 2
    assert element_words(root, "w0") == ["He", "said", "never."]
    assert element_words(root, "w1") == ["Again", "and", "left."]
    assert texts(root).endswith("He said never. Again and left.")
    ems = root.xpath("//*[local-name()='em']")
    assert [e.get("id") for e in ems] == ["e", None]  # split in two; the twin has no id: ids stay unique


def test_a_quotation_is_never_split_in_two():
    """Each half of a split <q> would get its own quotation marks."""
    root = page("<p>She said <q>come home. Bring salt.</q> And left.</p>")
    words = mapped_blocks(root)[0].words
    assert not can_wrap(words[0].first, words[3].last)  # "She said come home." ends inside the <q>
    assert can_wrap(words[2].first, words[3].last) and can_wrap(words[0].first, words[7].last)


def test_a_time_element_holds_no_span_and_is_never_split():
    """<time> without a datetime may hold only text."""
    root = page("<p>We met on <time>Monday morning</time> at noon.</p>")
    words = mapped_blocks(root)[0].words
    assert can_wrap(words[0].first, words[6].last)  # the sentence: the <time> moves in whole
    assert not can_wrap(words[3].first, words[3].last)  # "Monday", inside it
    assert not can_wrap(words[0].first, words[3].last)  # "We met on Monday", ending inside it


def test_a_drop_capital_word_is_wrapped_whole():
    root = page('<p><span class="dropcap">O</span>nce upon a time.</p>')
    words = mapped_blocks(root)[0].words
    assert words[0].text == "Once"
    assert wrap_all(root, [(words[0].first, words[0].last)]) == 1
    assert element_words(root, "w0") == ["Once"]


def test_a_run_across_table_cells_is_refused_and_each_cell_can_be_wrapped():
    root = page("<table><tr><td>North gate</td><td>South gate</td></tr></table>")
    words = mapped_blocks(root)[0].words
    assert [w.text for w in words] == ["North", "gate,", "South", "gate"]
    assert not can_wrap(words[0].first, words[3].last)
    assert wrap_all(root, [(words[0].first, words[1].last), (words[2].first, words[3].last)]) == 2
    assert element_words(root, "w0") == ["North", "gate"] and element_words(root, "w1") == ["South", "gate"]
    assert len(root.xpath("//*[local-name()='td']")) == 2


def test_a_note_mark_inside_a_sentence_moves_into_its_span():
    root = page('<p>The wall<sup><a href="#n1">1</a></sup> stood. Then it fell.</p>')
    words = mapped_blocks(root)[0].words
    assert [w.text for w in words] == ["The", "wall", "stood.", "Then", "it", "fell."]
    assert wrap_all(root, [(words[0].first, words[2].last), (words[3].first, words[5].last)]) == 2
    assert element_words(root, "w0") == ["The", "wall1", "stood."]


# Random inline markup: nested emphasis, links, spans and table cells, with
# text and whitespace anywhere.
_inline = st.recursive(
    st.lists(st.sampled_from(WORDS), max_size=3).map(" ".join).flatmap(
        lambda words: st.sampled_from(["", " "]).map(lambda space: words + space)),
    lambda inner: st.tuples(st.sampled_from(["em", "strong", "a", "span", "b", "i"]),
                            st.lists(inner, min_size=1, max_size=3)).map(
        lambda pair: f'<{pair[0]} id="x">{"".join(pair[1])}</{pair[0]}>'),
    max_leaves=12,
)
_paragraph = st.lists(st.one_of(_inline, _inline.map(lambda cell: f"<td>{cell}</td>")), min_size=1,
                      max_size=4).map(lambda parts: f"<p>{''.join(parts)}</p>")


@settings(max_examples=300, deadline=None)
@given(body=st.lists(_paragraph, min_size=1, max_size=3).map("".join), cuts=st.randoms())
def test_wrapping_any_runs_keeps_the_text_and_splits_only_inline_elements(body, cuts):
    body = body.replace('id="x"', "")  # ids of our own below
    root = page(body)
    before, structure = texts(root), Counter(e.tag for e in root.iter() if e.tag.endswith(("}p", "}td")))
    runs, expected = [], []
    for block in mapped_blocks(root):
        placed = [w for w in block.words if w.first is not None]
        i = 0
        while i < len(placed):
            j = cuts.randint(i, len(placed) - 1)
            runs.append((placed[i].first, placed[j].last))
            expected.append([w.text.rstrip(",") for w in placed[i:j + 1]])
            i = j + 1
    allowed = [i for i, (first, last) in enumerate(runs) if can_wrap(first, last)]
    for number in reversed(allowed):
        wrap(*runs[number], "span", f"w{number}")
    again = etree.fromstring(etree.tostring(root))
    assert texts(again) == before
    assert Counter(e.tag for e in again.iter() if e.tag.endswith(("}p", "}td"))) == structure
    ids = [e.get("id") for e in again.iter() if e.get("id")]
    assert len(ids) == len(set(ids))
    for number in allowed:
        # A word's ", " between cells is narrator's, not the page's.
        assert [w.rstrip(",") for w in element_words(again, f"w{number}")] == expected[number]
