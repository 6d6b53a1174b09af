"""A read-along EPUB 3: the source book (or one made from the document),
its narrated chapters' text wrapped into fragments, their audio, and a
Media Overlay per chapter that says which clip of audio each fragment is.

Written one chapter at a time into a `.part` file renamed into place: one
document tree, one overlay and a copy buffer are held at once, and the
chapter MP3s are streamed into the zip, stored (audio does not deflate, and
readers seek in it), so a ten-hour book is written in bounded memory.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from narrator.errors import DocumentError
from narrator.files import written_whole
from narrator.model import Word
from narrator.readalong import fragments as cutting
from narrator.readalong.package import ACTIVE_CLASS, NewItem, Overlay, edit_package, href, unique_ids
from narrator.readalong.smil import SMIL_TYPE, duration, overlay
from narrator.readalong.wrap import wrap
from narrator.text.archive import open_zip, read_member
from narrator.text.epub_package import read_package
from narrator.text.html import first_element
from narrator.text.positions import mapped_blocks

STYLE = f""".{ACTIVE_CLASS} {{ background-color: #fff1a8; color: inherit; border-radius: 0.15em; }}
"""
_FOLDER = "narrator"  # beside the package document: what this book adds


@dataclass(frozen=True)
class NarratedChapter:
    document: str  # zip path of its XHTML in the source
    paragraphs: tuple[str, ...]  # what was spoken: its title first, when spoken
    title_spoken: bool
    words: Sequence[Word]  # on its audio's timeline, one per word of `paragraphs`
    audio: Path  # its MP3 file
    estimated: bool  # its words' times were spread by characters


def write_read_along(source: bytes, name: str, chapters: Sequence[NarratedChapter], out: Path,
                     granularity: str, narrator: str) -> None:
    """The read-along book at `out`, from the EPUB `source` (named `name` in messages)."""
    with open_zip(source, name) as archive:
        package = read_package(archive, name)
        folder = posixpath.join(posixpath.dirname(package.opf), _FOLDER)
        narrated = {chapter.document for chapter in chapters}
        taken = {item.id for item in package.items}
        item_ids = unique_ids(taken, "narrator-")
        style = NewItem(next(item_ids), f"{folder}/read-along.css", "text/css")
        items, overlays = [style], []
        with written_whole(out) as part, zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as book:
            book.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip", zipfile.ZIP_STORED)
            for member in _members(archive, {"mimetype", package.opf, *narrated}):
                copied = zipfile.ZipInfo(member.filename, member.date_time)
                book.writestr(copied, read_member(archive, member.filename, name), member.compress_type)
            for number, chapter in enumerate(chapters, 1):
                document = read_member(archive, chapter.document, name)
                smil = NewItem(next(item_ids), f"{folder}/{number:03d}.smil", SMIL_TYPE)
                audio = NewItem(next(item_ids), f"{folder}/{number:03d}.mp3", "audio/mpeg")
                text, pars = _chapter(document, chapter, granularity, style.path, name)
                book.writestr(chapter.document, text)
                hrefs = href(chapter.document, folder), href(audio.path, folder)
                book.writestr(smil.path, overlay(*hrefs, pars))
                book.write(chapter.audio, audio.path, zipfile.ZIP_STORED)
                items += [smil, audio]
                overlays.append(Overlay(chapter.document, smil, duration(pars)))
            book.writestr(style.path, STYLE)
            opf = read_member(archive, package.opf, name)
            book.writestr(package.opf, edit_package(opf, package.opf, items, overlays, narrator))


def _members(archive: zipfile.ZipFile, left_out: set[str]) -> Iterator[zipfile.ZipInfo]:
    return (info for info in archive.infolist() if info.filename not in left_out and not info.is_dir())


def _chapter(data: bytes, chapter: NarratedChapter, granularity: str, style: str,
             name: str) -> tuple[bytes, list[tuple[str, int, int]]]:
    """The chapter's XHTML with its fragments wrapped, and its overlay's (id, begin, end) clips."""
    root = _parse(data, chapter.document, name)
    fragments = cutting.find_fragments(mapped_blocks(root), chapter.paragraphs, chapter.title_spoken,
                                       granularity)
    spoken = sum(len(p.split()) for p in chapter.paragraphs)
    if spoken != len(chapter.words):
        raise AssertionError(f"{chapter.document}: {spoken} words spoken, {len(chapter.words)} timed")
    ids = unique_ids({str(i) for i in root.xpath("//@id")}, "w" if granularity == "word" else "s")
    named = [(fragment, _named(fragment, ids)) for fragment in fragments]
    for fragment, id_ in reversed(named):  # last first: wrapping one leaves the places before it valid
        if fragment.start is not None and fragment.end is not None:
            wrap(fragment.start, fragment.end, "span", id_)
    _link_style(root, href(style, posixpath.dirname(chapter.document)))
    clips = cutting.clips(fragments, chapter.words)
    pars = [(id_, clip.begin_ms, clip.end_ms) for (_, id_), clip in zip(named, clips)]
    return etree.tostring(root.getroottree(), encoding="UTF-8", xml_declaration=True), pars


def _named(fragment: cutting.Fragment, ids: Iterator[str]) -> str:
    """The fragment's id: a new one, or for a heading its own if it has one."""
    if fragment.heading is not None:
        own = fragment.heading.get("id")
        if own:
            return own
        fragment.heading.set("id", next(ids))
        return fragment.heading.get("id") or ""
    return next(ids)


def _parse(data: bytes, member: str, name: str) -> etree._Element:
    """The document as XML, comments and all (it is written back); an
    undeclared entity (&nbsp; in an XHTML file) is kept as it was."""
    for recover in (False, True):
        parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, recover=recover)
        try:
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError:
            continue
        if root is not None:
            return root
    raise DocumentError(f"{name}: {member} is not well-formed XHTML, so it cannot carry a read-along overlay")


def _link_style(root: etree._Element, url: str) -> None:
    head = first_element(root, "head")
    if head is None:
        return
    namespace = etree.QName(root).namespace
    link = head.makeelement(f"{{{namespace}}}link" if namespace else "link",
                            {"rel": "stylesheet", "type": "text/css", "href": url})
    link.tail = head[-1].tail if len(head) else None
    head.append(link)

