"""HTML and XHTML files to Book, through read_document and the pure parsers."""

from __future__ import annotations

import pathlib

import pytest

from narrator.errors import DocumentError
from narrator.text import SUPPORTED_SUFFIXES, read_document
from narrator.text.html_file import parse_html, parse_xhtml
from tests.text.test_readers import assert_clean

SAMPLES = pathlib.Path(__file__).resolve().parents[2] / "samples"


def page(body: str, head: str = "<title>A Page</title>", lang: str = ' lang="en"') -> str:
    return f"<!DOCTYPE html><html{lang}><head>{head}</head><body>{body}</body></html>"


def spoken(book) -> str:
    """Everything a listener would hear: titles and paragraphs."""
    return " | ".join([book.title] + [c.title for c in book.chapters]
                      + [p for c in book.chapters for p in c.paragraphs])


def paragraphs(book) -> list[str]:
    return [p for chapter in book.chapters for p in chapter.paragraphs]


class TestStructure:
    def test_chapters_at_h1_and_h2(self):
        book = parse_html(page(
            "<h1>One</h1><p>First words.</p><h2>Two</h2><p>Second words.</p>"
            "<h1>Three</h1><p>Third words.</p>"), "doc.html")
        assert [c.title for c in book.chapters] == ["One", "Two", "Three"]
        assert [c.paragraphs for c in book.chapters] == [
            ("First words.",), ("Second words.",), ("Third words.",)]

    def test_title_author_language(self):
        book = parse_html(page("<h1>Ch</h1><p>Text here.</p>",
                               head='<title> The  Book </title><meta name="Author" content="Ann Lee">',
                               lang=' lang="fr-CA"'), "doc.html")
        assert (book.title, book.author, book.language) == ("The Book", "Ann Lee", "fr-CA")

    def test_title_falls_back_to_first_h1_then_file_name(self):
        assert parse_html(page("<h1>Heading</h1><p>Words.</p>", head=""), "x.html").title == "Heading"
        book = parse_html(page("<h2>Only h2</h2><p>Words.</p>", head=""), "my_story.html")
        assert book.title == "My Story" and book.language == "en" and book.author is None

    def test_text_before_first_heading_is_a_chapter_titled_by_the_document(self):
        book = parse_html(page("<p>An opening note.</p><h2>Part</h2><p>Body.</p>"), "doc.html")
        assert [c.title for c in book.chapters] == ["A Page", "Part"]
        untitled = parse_html(page("<p>An opening note.</p><h2>Part</h2><p>Body.</p>", head=""), "my-doc.htm")
        assert untitled.chapters[0].title == "My Doc"

    def test_leading_section_without_prose_is_dropped(self):
        book = parse_html(page("<div>* * *</div><h1>Book</h1><h2>Ch</h2><p>Body.</p>"), "doc.html")
        assert [c.title for c in book.chapters] == ["Ch"]

    def test_no_headings_means_one_chapter(self):
        book = parse_html(page("<p>One.</p><p>Two.</p>"), "doc.html")
        assert [(c.title, c.paragraphs) for c in book.chapters] == [("A Page", ("One.", "Two."))]


class TestParagraphs:
    def test_block_elements_are_paragraphs(self):
        book = parse_html(page(
            "<p>Para.</p><ul><li>Item one.</li><li>Item <b>two</b>.</li></ul>"
            "<blockquote>Quoted words.</blockquote><dl><dt>Term</dt><dd>Its meaning.</dd></dl>"
            "<div>Direct div text.<p>Nested para.</p>Tail text.</div>"), "doc.html")
        assert paragraphs(book) == ["Para.", "Item one.", "Item two.", "Quoted words.", "Term",
                                    "Its meaning.", "Direct div text.", "Nested para.", "Tail text."]

    def test_whitespace_collapsed_br_is_a_space_inline_tags_join(self):
        book = parse_html(page(
            "<p>  Line one<br>line\n\n two<br/>and <em>emph</em><span>asis</span>.\u00a0End </p>"),
            "doc.html")
        assert paragraphs(book) == ["Line one line two and emphasis. End"]

    def test_minor_headings_are_their_own_paragraphs(self):
        book = parse_html(page("<h2>Ch</h2><p>Before.</p><h3>Sub <i>head</i></h3><p>After.</p><h6>Tiny</h6>"),
                          "doc.html")
        assert book.chapters[0].paragraphs == ("Before.", "Sub head", "After.", "Tiny")

    def test_heading_only_chapter_is_dropped(self):
        book = parse_html(page("<h2>Empty</h2><h3>Just a label</h3><h2>Full</h2><p>Prose.</p>"), "doc.html")
        assert [c.title for c in book.chapters] == ["Full"]

    def test_table_rows_are_read_cell_by_cell(self):
        book = parse_html(page(
            "<table><tr><th>Name</th><th>Age</th></tr><tr><td>Ann</td><td>7</td></tr></table>"), "doc.html")
        assert paragraphs(book) == ["Name, Age", "Ann, 7"]

    def test_wordless_paragraphs_are_dropped(self):
        book = parse_html(page("<p>Words.</p><p>* * *</p><hr><p>\u2026</p><p>More.</p>"), "doc.html")
        assert paragraphs(book) == ["Words.", "More."]

    def test_entities_are_characters(self):
        book = parse_html(page("<p>Fish &amp; chips &mdash; caf&eacute;&nbsp;now</p>"), "doc.html")
        assert paragraphs(book) == ["Fish & chips \u2014 caf\u00e9 now"]


class TestNeverSpoken:
    HIDDEN = (
        '<script>var secret = "SCRIPT";</script>'
        "<style>p { color: red } /* STYLE */</style>"
        "<noscript>NOSCRIPT</noscript>"
        "<template><p>TEMPLATE</p></template>"
        "<svg><text>SVGTEXT</text><title>SVGTITLE</title></svg>"
        '<math><mi>x</mi><annotation encoding="text/plain">MATHNOTE</annotation></math>'
        '<p>A picture <img src="a.png" alt="ALTTEXT" title="IMGTITLE">.</p>'
        '<p hidden>HIDDENATTR</p><p aria-hidden="true">ARIAHIDDEN</p><p style="display: none">DISPLAYNONE</p>'
        "<p><ruby>\u6f22<rt>RUBYTEXT</rt></ruby> word</p>"
        '<p><button>BUTTON</button><select><option>OPTION</option></select></p>'
    )

    def test_hidden_kinds_of_content(self):
        book = parse_html(page("<h2>Ch</h2><p>Visible words.</p>" + self.HIDDEN,
                               head="<title>T</title><script>HEADSCRIPT</script>"), "doc.html")
        text = spoken(book)
        for marker in ("SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "SVG", "MATHNOTE", "ALTTEXT", "IMGTITLE",
                       "HIDDENATTR", "ARIAHIDDEN", "DISPLAYNONE", "RUBYTEXT", "BUTTON", "OPTION"):
            assert marker not in text
        assert book.chapters[0].paragraphs == ("Visible words.", "A picture.", "\u6f22 word")

    def test_footnotes_and_their_marks(self):
        body = (
            '<p>The wall<a epub:type="noteref" href="#n1">1</a> stood.</p>'
            '<p>The gate<sup><a href="#n2">2</a></sup>, then<a href="notes.html#n3"><sup>*</sup></a> the road'
            '<a href="#n4">[4]</a>.</p>'
            '<aside epub:type="footnote" id="n1"><p>NOTE ONE</p></aside>'
            '<div role="doc-endnote" id="n2">NOTE TWO</div>'
            '<section epub:type="endnotes"><ol><li>NOTE THREE</li></ol></section>'
            '<aside epub:type="rearnote">NOTE FOUR</aside>'
        )
        book = parse_html(page(body), "doc.html")
        assert paragraphs(book) == ["The wall stood.", "The gate, then the road."]

    def test_a_superscript_that_is_not_a_note_is_spoken(self):
        book = parse_html(page("<p>Area is 4 m<sup>2</sup> and <a href='#map'>the map</a> is here.</p>"),
                          "doc.html")
        assert paragraphs(book) == ["Area is 4 m2 and the map is here."]

    def test_html_nav_menus_are_skipped(self):
        book = parse_html(page("<nav><a href='/'>Home</a><a href='/about'>About</a></nav><p>Content.</p>"),
                          "doc.html")
        assert paragraphs(book) == ["Content."]


class TestXhtml:
    def test_well_formed_xhtml_with_namespaces(self):
        text = ('<?xml version="1.0" encoding="UTF-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml" '
                'xmlns:epub="http://www.idpf.org/2007/ops" xml:lang="de"><head><title>Buch</title></head>'
                '<body><h1>Eins</h1><p>Erster <br/>Satz.</p><aside epub:type="footnote">FN</aside>'
                "<div/><h2>Zwei</h2><p>Zweiter Satz.</p></body></html>")
        book = parse_xhtml(text, "buch.xhtml")
        assert book.language == "de" and book.title == "Buch"
        assert [(c.title, c.paragraphs) for c in book.chapters] == [("Eins", ("Erster Satz.",)),
                                                                      ("Zwei", ("Zweiter Satz.",))]

    def test_xhtml_dtd_entities_are_characters(self):
        # XHTML 1.1 names a DTD that is never loaded: &nbsp; is still a space.
        text = ('<?xml version="1.0"?><!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" '
                '"http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd"><html xmlns="http://www.w3.org/1999/xhtml">'
                "<body><p>One&nbsp;two&mdash;three &amp; four</p></body></html>")
        assert paragraphs(parse_xhtml(text, "a.xhtml")) == ["One two\u2014three & four"]

    def test_malformed_xhtml_falls_back_to_html(self):
        text = ('<html xmlns="http://www.w3.org/1999/xhtml">'
                "<body><p>Open para<br><p>Second & third</body></html>")
        assert paragraphs(parse_xhtml(text, "a.xhtml")) == ["Open para", "Second & third"]

    def test_self_closing_elements_do_not_swallow_text(self):
        # An HTML parser would read <title/> as an open title holding the page.
        text = ('<html xmlns="http://www.w3.org/1999/xhtml"><head><title/></head>'
                "<body><p>Visible.</p></body></html>")
        assert paragraphs(parse_xhtml(text, "a.xhtml")) == ["Visible."]


class TestSafety:
    def hostile(self, tmp_path, suffix: str, body: str) -> pathlib.Path:
        secret = tmp_path / "secret.txt"
        secret.write_text("TOPSECRET-HTML")
        doctype = (f'<!DOCTYPE html [<!ENTITY xxe SYSTEM "file://{secret}">'
                   '<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                   '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">'
                   '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
                   '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">'
                   '<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">'
                   '<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">'
                   '<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">'
                   '<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">'
                   '<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>')
        path = tmp_path / f"evil{suffix}"
        path.write_text('<?xml version="1.0"?>\n' + doctype + '\n<html xmlns="http://www.w3.org/1999/xhtml">'
                        f"<head><title>T &xxe;</title></head><body>{body}</body></html>")
        return path

    @pytest.mark.parametrize("suffix", [".xhtml", ".html"])
    def test_external_entity_is_never_read(self, tmp_path, suffix):
        path = self.hostile(tmp_path, suffix, "<p>Before &xxe; after.</p><p>Safe prose here.</p>")
        book = read_document(path)
        assert "TOPSECRET" not in repr(book)
        assert "Safe prose here." in paragraphs(book)

    @pytest.mark.parametrize("suffix", [".xhtml", ".html"])
    def test_billion_laughs_does_not_expand(self, tmp_path, suffix):
        path = self.hostile(tmp_path, suffix, "<p>&lol9;</p><p>Plain prose.</p>")
        try:
            book = read_document(path)
        except DocumentError as error:  # refused is fine; expanded is not
            assert "\n" not in str(error)
            return
        assert len(repr(book)) < 10_000


class TestFiles:
    def test_suffixes_are_supported(self):
        assert {".html", ".htm", ".xhtml", ".epub"} <= set(SUPPORTED_SUFFIXES)

    @pytest.mark.parametrize("suffix", [".html", ".HTM", ".xhtml"])
    def test_read_document_dispatches(self, tmp_path, suffix):
        path = tmp_path / f"story{suffix}"
        path.write_text(page("<h2>Start</h2><p>It began.</p>"), encoding="utf-8")
        book = read_document(path)
        assert [(c.title, c.paragraphs) for c in book.chapters] == [("Start", ("It began.",))]

    def test_no_prose_is_one_clear_error(self, tmp_path):
        path = tmp_path / "empty.html"
        path.write_text(page('<h1>Title</h1><img src="a.png" alt="x"><script>s()</script>'))
        with pytest.raises(DocumentError) as info:
            read_document(path)
        message = str(info.value)
        assert message.startswith("empty.html: no prose to narrate") and "\n" not in message
        assert "1 heading" in message and "1 image" in message

    def test_sample(self):
        book = read_document(SAMPLES / "the-night-ferry.html")
        assert_clean(book)
        assert (book.title, book.author, book.language) == ("The Night Ferry", "Ines Harrow", "en")
        assert [c.title for c in book.chapters] == ["The Last Crossing", "Fog", "Arrival"]
        text = spoken(book)
        assert "alt" not in text.lower() and "max-width" not in text
        assert "The Captain's Rules" in book.chapters[1].paragraphs
        assert '"You sat outside," he said, looking at her hair. "I did,"' in book.chapters[2].paragraphs[1]
