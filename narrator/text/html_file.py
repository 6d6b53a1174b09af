"""HTML and XHTML files (.html, .htm, .xhtml) to Book: one document, chapters
at its h1/h2 headings, read with the walk of `html` (whose rules say what is
spoken); emphasis is kept for a read-along book's pages."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

from lxml import etree

from narrator.model import Book
from narrator.text.html import document_language, document_title, meta_content, parse_markup, walk
from narrator.text.plain import Section, assemble_book, title_from_name

_XML_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>")


def parse_html(text: str, name: str) -> Book:
    """An HTML file to Book: chapters at h1/h2 headings."""
    return _html_book(parse_markup(text.encode("utf-8"), xml=False), name)


def parse_xhtml(text: str, name: str) -> Book:
    """An XHTML file to Book: read as XML, as HTML if it is not well-formed."""
    # The text is already decoded: an encoding the declaration names no
    # longer applies (and lxml refuses str input that carries one).
    data = _XML_DECLARATION.sub("", text, count=1).encode("utf-8")
    return _html_book(parse_markup(data, xml=True), name)


def _html_book(root: etree._Element, name: str) -> Book:
    found: Counter[str] = Counter()
    # A web page's <nav> is menus and links, not prose.
    blocks = walk(root, found, skip=frozenset({"nav"}), markup=True)
    head_title = document_title(root)
    first_h1 = next((b.text for b in blocks if b.kind == "heading" and b.level == 1), None)
    title = head_title or first_h1 or title_from_name(name)
    # Text before the first heading is a chapter of its own, named like the
    # document (it is dropped, as every section is, if it holds no prose).
    sections = [Section(head_title or title_from_name(name))]
    for block in blocks:
        if block.kind == "heading":
            sections.append(Section(block.text))
        else:
            sections[-1].add(block.text, prose=block.kind == "prose", markup=block.markup)
    book = assemble_book(name, title, meta_content(root, "author"), sections, found)
    return replace(book, language=document_language(root))
