"""The EPUB made for documents that are not one: headings, paragraphs and
emphasis kept, every page saying exactly what is spoken."""

from __future__ import annotations

import io
import zipfile

from lxml import etree

from narrator.model import Book, Chapter
from narrator.readalong.generate import chapter_document, generated_epub
from narrator.text.html_file import parse_html
from narrator.text.markdown import parse_markdown
from narrator.text.plain import parse_text


def pages(book: Book) -> list[etree._Element]:
    with zipfile.ZipFile(io.BytesIO(generated_epub(book))) as epub:
        assert epub.namelist()[0] == "mimetype"
        return [etree.fromstring(epub.read(chapter_document(n))) for n in range(len(book.chapters))]


def inner(element: etree._Element) -> str:
    """An element's content as written, without its namespace declarations."""
    text = etree.tostring(element, encoding="unicode", with_tail=False)
    return text[text.index(">") + 1:text.rindex("<")].replace(' xmlns="http://www.w3.org/1999/xhtml"', "")


def paragraphs(page: etree._Element) -> list[str]:
    return [inner(p) for p in page.iter("{*}p")]


def test_markdown_keeps_emphasis_strong_and_code():
    book = parse_markdown("# A\n\nSome *soft* and **loud** words, `x < y` too.\n\n## B\n\nPlain.\n", "a.md")
    first, second = pages(book)
    assert [" ".join(h.itertext()) for h in first.iter("{*}h1")] == ["A"]
    assert paragraphs(first) == [
        "Some <em>soft</em> and <strong>loud</strong> words, <code>x &lt; y</code> too."]
    assert paragraphs(second) == ["Plain."]


def test_html_keeps_emphasis_and_drops_other_tags():
    html = "<h1>T</h1><p>A <em>big <b>bold</b></em> word &amp; <a href='x'>a link</a>.</p>"
    (page,) = pages(parse_html(html, "t.html"))
    assert paragraphs(page) == ["A <em>big <b>bold</b></em> word &amp; a link."]


def test_plain_text_is_escaped_and_a_page_always_says_what_is_spoken():
    book = parse_text("Tom & Jerry <3 cheese.\n\nSecond.\n", "t.txt")
    (page,) = pages(book)
    assert paragraphs(page) == ["Tom &amp; Jerry &lt;3 cheese.", "Second."]
    # Markup whose words are not the paragraph's is not trusted: the text is the page.
    wrong = Book("W", None, (Chapter("One", ("Said this.",), markup=("Said <em>that</em>.",)),))
    (page,) = pages(wrong)
    assert paragraphs(page) == ["Said this."]
