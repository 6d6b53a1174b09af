"""EPUB 2 and 3 to Book: one chapter per spine document with prose.

The package (`epub_package`: container, manifest, spine, metadata, DRM) and
the table of contents (`epub_navigation`: nav or NCX) are read first, each
failure one line naming what is missing; then the spine's documents are
walked one at a time with the safe parsers of `html`.

Chapter titles come from the navigation document (EPUB 3) or the NCX
(EPUB 2), else from the documents' own headings; front and back matter that
is not prose is marked in `Chapter.matter`, not removed (see
`epub_package.MATTER_TYPES`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

from lxml import etree

from narrator.errors import DocumentError
from narrator.model import Book, Chapter, Cover
from narrator.text.archive import open_zip
from narrator.text.epub_navigation import Navigation, read_navigation
from narrator.text.epub_package import (
    DOCUMENT_TYPES,
    MATTER_TYPES,
    Package,
    local_target,
    needed_contents,
    read_package,
    refuse_drm,
)
from narrator.text.html import (
    Block,
    body_of,
    document_title,
    element_text,
    elements,
    epub_types,
    local_name,
    parse_markup,
    walk,
)
from narrator.text.plain import describe, is_speakable, title_from_name

# A document showing the cover image with no more text than this (a caption,
# a "Cover" heading) is the cover page.
_COVER_PAGE_MAX_CHARS = 200
# An unmarked document whose text is mostly links to other documents (at
# least this many, this share of its characters) is a table of contents.
_TOC_MIN_LINKS = 3
_TOC_LINK_SHARE = 2 / 3
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


def parse_epub(data: bytes, name: str) -> Book:
    """An EPUB's bytes to Book. `name` (the file name) is used in messages."""
    with open_zip(data, name) as archive:
        refuse_drm(archive, name)
        package = read_package(archive, name)
        contents = needed_contents(archive, package, name)
    navigation = read_navigation(package, contents, name)
    title = package.title or title_from_name(name)
    found: Counter[str] = Counter()
    chapters = _chapters(package, contents, navigation, title, found)
    if not chapters:
        raise DocumentError(f"{name}: no prose to narrate ({describe(found)})")
    return Book(
        title=title,
        author=package.author,
        chapters=tuple(chapters),
        language=package.language,
        cover=_image(contents[package.cover_image]) if package.cover_image else None,
    )


def _image(data: bytes) -> Cover | None:
    """The cover image's bytes, if it is a JPEG or PNG (what ID3 players show)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return Cover(data, "image/png")
    if data.startswith(b"\xff\xd8\xff"):
        return Cover(data, "image/jpeg")
    return None


# --- chapters -------------------------------------------------------------


@dataclass
class _Document:
    path: str
    root: etree._Element
    linear: bool


def _spine_documents(package: Package, contents: dict[str, bytes]) -> Iterator[_Document]:
    """The spine's documents, parsed one at a time: only one tree is alive."""
    for entry in package.spine:
        item = package.manifest[entry.idref]
        if item.media_type in DOCUMENT_TYPES:  # images and other media in the spine have no text
            yield _Document(item.path, parse_markup(contents[item.path], xml=True), entry.linear)


def _chapters(
    package: Package, contents: dict[str, bytes], navigation: Navigation, book_title: str, found: Counter[str]
) -> list[Chapter]:
    chapters = []
    for document in _spine_documents(package, contents):
        blocks = walk(document.root, found)
        matter = _matter(document, blocks, package, navigation)
        title = navigation.titles.get(document.path) or _own_title(document.root, blocks, book_title)
        if title:
            blocks = _without_title_headings(blocks, title)
        has_prose = any(block.kind == "prose" for block in blocks)
        if blocks and (has_prose or matter):
            paragraphs = tuple(block.text for block in blocks)
            chapters.append(Chapter(title or "", paragraphs, matter, document=document.path))
    return [chapter if chapter.title else replace(chapter, title=f"Chapter {number}")
            for number, chapter in enumerate(chapters, 1)]


def _own_title(root: etree._Element, blocks: list[Block], book_title: str) -> str | None:
    """A document the navigation does not name: its first h1/h2, else its
    <title> unless that is just the book's title (as many tools write it)."""
    heading = next((block.text for block in blocks if block.kind == "heading"), None)
    if heading:
        return heading
    title = document_title(root)
    if is_speakable(title) and title.casefold() != book_title.casefold():
        return title
    return None


def _without_title_headings(blocks: list[Block], title: str) -> list[Block]:
    """Drop the headings that open the document and only repeat its title
    ("1" and "The Storm" under "Chapter 1: The Storm"): the title is spoken
    once already. Other opening headings stay, as paragraphs."""
    title_words = _words(title)
    kept: list[Block] = []
    opening = True
    for block in blocks:
        if block.kind == "prose":
            opening = False
        elif opening:
            words = _words(block.text)
            if _contains(title_words, words) or _contains(words, title_words):
                continue
        kept.append(block)
    return kept


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def _contains(outer: list[str], inner: list[str]) -> bool:
    """Whether `inner` is a non-empty run of consecutive words of `outer`."""
    size = len(inner)
    return size > 0 and any(outer[i : i + size] == inner for i in range(len(outer) - size + 1))


# --- front and back matter ------------------------------------------------


def _matter(document: _Document, blocks: list[Block], package: Package, navigation: Navigation) -> str | None:
    if document.path == package.nav:
        return "toc"
    return (
        _declared_matter(document.root)
        or navigation.landmarks.get(document.path)
        or package.guide.get(document.path)
        or ("cover" if _is_cover_page(document, blocks, package) else None)
        or ("toc" if _is_link_list(document, blocks) else None)
        or (None if document.linear else "non-linear")
    )


def _declared_matter(root: etree._Element) -> str | None:
    """epub:type on the body, or on every top-level section holding text."""
    body = body_of(root)
    if body is None:
        return None
    found = sorted(epub_types(body) & MATTER_TYPES)
    if found:
        return found[0]
    sections = [child for child in body if local_name(child) and _has_text(child)]
    kinds = [sorted(epub_types(section) & MATTER_TYPES) for section in sections]
    if sections and all(kinds):
        return kinds[0][0]
    return None


def _has_text(element: etree._Element) -> bool:
    return is_speakable(element_text(element))


def _is_cover_page(document: _Document, blocks: list[Block], package: Package) -> bool:
    """A page that shows the cover image and (almost) nothing else."""
    if not package.cover_image or sum(len(block.text) for block in blocks) > _COVER_PAGE_MAX_CHARS:
        return False
    for element in document.root.iter():
        if local_name(element) in ("img", "image"):
            href = element.get("src") or element.get("href") or element.get(_XLINK_HREF)
            if local_target(document.path, href) == package.cover_image:
                return True
    return False


def _is_link_list(document: _Document, blocks: list[Block]) -> bool:
    """A contents page nothing marks: mostly links into other documents."""
    links = [
        link for link in elements(document.root, "a")
        if local_target(document.path, link.get("href")) not in (None, document.path)
    ]
    if len(links) < _TOC_MIN_LINKS:
        return False
    linked = sum(len(element_text(link)) for link in links)
    return linked >= _TOC_LINK_SHARE * sum(len(block.text) for block in blocks)
