"""A read-along EPUB 3: the source book (or one made from the document),
its narrated chapters' pages wrapped into fragments, their audio, and a
Media Overlay per chapter saying which clip of audio each fragment is.

Written one chapter at a time into a `.part` file renamed into place: one
document tree, one overlay and one member's bytes are held at once, and the
chapter MP3s are streamed into the zip, stored (audio does not deflate, and
readers seek in it), so a ten-hour book is written in bounded memory. An
EPUB 2 source becomes EPUB 3, which Media Overlays need: a navigation
document, HTML5 doctypes and the features its pages use declared.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from narrator.files import written_whole
from narrator.readalong.generate import nav_document
from narrator.readalong.package import (
    ACTIVE_CLASS,
    NewItem,
    Overlay,
    edit_package,
    href,
    is_epub3,
    unique_ids,
)
from narrator.readalong.pages import NarratedChapter, wrapped_page
from narrator.readalong.smil import SMIL_TYPE, duration, overlay
from narrator.readalong.upgrade import numeric_entities, upgraded_page
from narrator.text.archive import open_zip, read_member
from narrator.text.epub_package import DOCUMENT_TYPES, Package, read_package, resolve_href
from narrator.text.html import parse_xml, safe_xml_parser

STYLE = f".{ACTIVE_CLASS} {{ background-color: #fff1a8; color: inherit; border-radius: 0.15em; }}\n"
_FOLDER = "narrator"  # beside the package document: what this book adds
XHTML_TYPE = "application/xhtml+xml"


@dataclass
class _Book:
    """The source's package and what the read-along book adds to it."""

    package: Package
    folder: str
    upgrade: bool  # an EPUB 2 source, made EPUB 3
    ids: Iterator[str]
    dropped: set[str]  # the source's own overlays and their audio: ours take their place
    items: list[NewItem] = field(default_factory=list)
    overlays: list[Overlay] = field(default_factory=list)
    properties: dict[str, set[str]] = field(default_factory=dict)  # document -> what EPUB 3 asks declared

    def add(self, name: str, media_type: str, properties: str | None = None) -> NewItem:
        item = NewItem(next(self.ids), f"{self.folder}/{name}", media_type, properties)
        self.items.append(item)
        return item


def write_read_along(source: bytes, name: str, documents: Sequence[str], chapters: Iterable[NarratedChapter],
                     out: Path, granularity: str, narrator: str, toc: Sequence[tuple[str, str]]) -> list[str]:
    """The read-along book at `out`, from the EPUB `source` (named `name` in
    messages): `chapters` are its narrated `documents`' chapters, taken one
    at a time; `toc` (document, title) is its table of contents, for an
    EPUB 2 source, which has no navigation document EPUB 3 could use.
    Returns the documents left without highlights: not well-formed XML."""
    with open_zip(source, name) as archive:
        package = read_package(archive, name)
        opf = read_member(archive, package.opf, name)
        root = etree.fromstring(opf, safe_xml_parser(recover=True))
        taken = {str(id_) for id_ in root.xpath("//@id")}  # every id in the package, not only the items'
        book = _Book(package, _free_folder(archive.namelist(), posixpath.dirname(package.opf)),
                     upgrade=not is_epub3(root), ids=unique_ids(taken, "narrator-"),
                     dropped=_previous_overlays(archive, package, name))
        style = book.add("read-along.css", "text/css")
        with written_whole(out) as part, zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as epub:
            epub.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip", zipfile.ZIP_STORED)
            _copy(archive, epub, book, {"mimetype", package.opf, *documents, *book.dropped}, name)
            skipped = _write_chapters(archive, epub, book, chapters, granularity, style.path, name)
            epub.writestr(style.path, STYLE)
            if package.nav is None:
                _write_nav(epub, book, toc, name)
            epub.writestr(package.opf, edit_package(opf, package.opf, book.items, book.overlays, narrator,
                                                    book.properties, book.dropped))
    return skipped


def _write_chapters(archive: zipfile.ZipFile, epub: zipfile.ZipFile, book: _Book,
                    chapters: Iterable[NarratedChapter], granularity: str, style: str,
                    name: str) -> list[str]:
    """Each chapter's page wrapped, its overlay and its audio; the pages left
    without highlights (not well-formed XML) are kept as they are and returned."""
    skipped: list[str] = []
    written: set[str] = set()
    for number, chapter in enumerate(chapters, 1):
        if chapter.document in written:
            continue  # a spine that lists a page twice: it is written, and highlighted, once
        written.add(chapter.document)
        page = read_member(archive, chapter.document, name)
        wrapped = wrapped_page(page, chapter, granularity, style)
        if wrapped is None:
            skipped.append(chapter.document)
            _write_page(epub, book, chapter.document, page)
        else:
            _write_chapter(epub, book, chapter, number, *wrapped)
    return skipped


def _free_folder(names: list[str], base: str) -> str:
    """`narrator/` beside the package document, or `narrator-2/`... if a book narrated before holds it."""
    folder, number = posixpath.join(base, _FOLDER), 1
    while any(name.startswith(folder + "/") for name in names):
        number += 1
        folder = posixpath.join(base, f"{_FOLDER}-{number}")
    return folder


def _previous_overlays(archive: zipfile.ZipFile, package: Package, name: str) -> set[str]:
    """The Media Overlays the source has already (a read-along book narrated
    again) and the audio they play: left out, as the new ones take their place."""
    overlays = {item.path for item in package.items if item.media_type == SMIL_TYPE}
    audio = set()
    for path in overlays:
        root = parse_xml(read_member(archive, path, name))
        if root is not None:
            audio |= {resolve_href(path, clip.get("src") or "") for clip in root.iter("{*}audio")}
    return overlays | audio


def _copy(archive: zipfile.ZipFile, epub: zipfile.ZipFile, book: _Book, left_out: set[str],
          name: str) -> None:
    """Every member but `left_out`, as it was (an EPUB 2 page given EPUB 3's doctype)."""
    pages = {item.path for item in book.package.items if item.media_type in DOCUMENT_TYPES}
    for member in archive.infolist():
        if member.filename in left_out or member.is_dir():
            continue
        data = read_member(archive, member.filename, name)
        if book.upgrade and member.filename in pages:
            data = _upgraded(book, member.filename, data)
        epub.writestr(zipfile.ZipInfo(member.filename, member.date_time), data, member.compress_type)


def _upgraded(book: _Book, document: str, data: bytes) -> bytes:
    data, book.properties[document] = upgraded_page(data)
    return data


def _write_page(epub: zipfile.ZipFile, book: _Book, document: str, data: bytes) -> None:
    epub.writestr(document, _upgraded(book, document, data) if book.upgrade else numeric_entities(data))


def _write_chapter(epub: zipfile.ZipFile, book: _Book, chapter: NarratedChapter, number: int, page: bytes,
                   pars: list[tuple[str, int, int]]) -> None:
    smil = book.add(f"{number:03d}.smil", SMIL_TYPE)
    audio = book.add(f"{number:03d}.mp3", "audio/mpeg")
    _write_page(epub, book, chapter.document, page)
    hrefs = href(chapter.document, book.folder), href(audio.path, book.folder)
    epub.writestr(smil.path, overlay(*hrefs, pars))
    epub.write(chapter.audio, audio.path, zipfile.ZIP_STORED)
    book.overlays.append(Overlay(chapter.document, smil, duration(pars)))


def _write_nav(epub: zipfile.ZipFile, book: _Book, toc: Sequence[tuple[str, str]], name: str) -> None:
    nav = book.add("nav.xhtml", XHTML_TYPE, "nav")
    entries = [(href(document, book.folder), label) for document, label in toc]
    package = book.package
    epub.writestr(nav.path, nav_document(package.title or name, package.language or "und", entries))
