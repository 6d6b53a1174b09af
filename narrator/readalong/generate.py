"""An EPUB 3 made from a document that is not one (text, Markdown, HTML):
one XHTML chapter per chapter of the book, headed by its title, a nav
document listing them, and the cover if there is one. The read-along book
is then made from it exactly as from an EPUB the user gave."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Sequence
from datetime import datetime, timezone
from xml.sax.saxutils import escape, quoteattr

from narrator.model import Book, Chapter
from narrator.text.plain import collapse, without_tags

OPF = "OEBPS/content.opf"
_EPUB_NS = 'xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"'
_STYLE = "body { margin: 0 5%; line-height: 1.5; }\nh1 { text-align: center; margin: 2em 0 1em; }\n"
_CONTAINER = """<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>
"""


def chapter_document(number: int) -> str:
    """The zip path of chapter `number` (0-based, in the whole book)."""
    return f"OEBPS/{_href(number)}"


def _href(number: int) -> str:
    """The same, from the package document and the nav (both in OEBPS/)."""
    return f"text/chapter-{number + 1:03d}.xhtml"


def generated_epub(book: Book) -> bytes:
    """The book as an EPUB 3 without audio (small: its text, deflated)."""
    language = book.language or "und"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as epub:
        epub.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip", zipfile.ZIP_STORED)
        epub.writestr("META-INF/container.xml", _CONTAINER)
        epub.writestr("OEBPS/style.css", _STYLE)
        epub.writestr("OEBPS/nav.xhtml", _nav(book, language))
        for number, chapter in enumerate(book.chapters):
            epub.writestr(chapter_document(number), _chapter(chapter, language))
        if book.cover is not None:
            epub.writestr(f"OEBPS/{_cover_name(book)}", book.cover.data, zipfile.ZIP_STORED)
        epub.writestr(OPF, _package(book, language))
    return buffer.getvalue()


def _page(title: str, language: str, body: str, style: str | None) -> str:
    link = f'<link rel="stylesheet" type="text/css" href={quoteattr(style)}/>\n' if style else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n'
            f"<html {_EPUB_NS} lang={quoteattr(language)} xml:lang={quoteattr(language)}>\n"
            f"<head>\n<meta charset=\"UTF-8\"/>\n<title>{escape(title)}</title>\n{link}</head>\n"
            f"<body>\n{body}</body>\n</html>\n")


def _chapter(chapter: Chapter, language: str) -> str:
    markup = chapter.markup or ("",) * len(chapter.paragraphs)
    paragraphs = "".join(f"<p>{_inline(text, kept)}</p>\n" for text, kept in zip(chapter.paragraphs, markup))
    body = f'<section epub:type="chapter">\n<h1>{escape(chapter.title)}</h1>\n{paragraphs}</section>\n'
    return _page(chapter.title, language, body, "../style.css")


def _inline(text: str, markup: str) -> str:
    """The paragraph's inline XHTML from its reader, if that says exactly its
    words (the page must read as was spoken), else its text escaped."""
    if markup and collapse(without_tags(markup)) == text:
        return markup
    return escape(text)


def nav_document(title: str, language: str, entries: Sequence[tuple[str, str]],
                 style: str | None = None) -> str:
    """A navigation document: its table of contents links each (href, label)."""
    links = "".join(f'<li><a href={quoteattr(url)}>{escape(label)}</a></li>\n' for url, label in entries)
    body = f'<nav epub:type="toc" id="toc">\n<h1>{escape(title)}</h1>\n<ol>\n{links}</ol>\n</nav>\n'
    return _page(title, language, body, style)


def _nav(book: Book, language: str) -> str:
    return nav_document(book.title, language, [(_href(n), c.title) for n, c in enumerate(book.chapters)],
                        "style.css")


def _cover_name(book: Book) -> str:
    assert book.cover is not None
    return "cover.png" if book.cover.mime == "image/png" else "cover.jpg"


def _package(book: Book, language: str) -> str:
    # The same book gets the same identifier: readers keep their place across a re-narration.
    identifier = uuid.uuid5(uuid.NAMESPACE_URL, f"narrator:{book.title}:{book.author}")
    modified = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    creator = f"<dc:creator>{escape(book.author)}</dc:creator>\n" if book.author else ""
    items = ['<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>',
             '<item id="style" href="style.css" media-type="text/css"/>']
    items += [f'<item id="chapter-{n + 1}" href="{_href(n)}" media-type="application/xhtml+xml"/>'
              for n in range(len(book.chapters))]
    if book.cover is not None:
        items.append(f'<item id="cover" href="{_cover_name(book)}" media-type="{book.cover.mime}" '
                     'properties="cover-image"/>')
    spine = "".join(f'<itemref idref="chapter-{n + 1}"/>\n' for n in range(len(book.chapters)))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="book-id">\n'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        f'<dc:identifier id="book-id">urn:uuid:{identifier}</dc:identifier>\n'
        f"<dc:title>{escape(book.title)}</dc:title>\n{creator}<dc:language>{escape(language)}</dc:language>\n"
        f'<meta property="dcterms:modified">{modified}</meta>\n</metadata>\n'
        f'<manifest>\n{chr(10).join(items)}\n</manifest>\n<spine>\n{spine}</spine>\n</package>\n'
    )
