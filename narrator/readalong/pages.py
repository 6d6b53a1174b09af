"""A narrated chapter's page: its XHTML with each fragment wrapped in an
element with an id, the highlight's style linked, and the clips its overlay
gives those ids. One document tree at a time."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from narrator.model import Word
from narrator.readalong import fragments as cutting
from narrator.readalong.package import href, unique_ids
from narrator.readalong.wrap import wrap
from narrator.text.html import first_element, local_name, parse_xml
from narrator.text.positions import mapped_blocks


@dataclass(frozen=True)
class NarratedChapter:
    document: str  # zip path of its XHTML in the source
    paragraphs: tuple[str, ...]  # what was spoken: its title first, when spoken
    title_spoken: bool
    words: Sequence[Word]  # on its audio's timeline, one per word of `paragraphs`
    audio: Path  # its MP3 file


Pars = list[tuple[str, int, int]]  # (fragment id, clip begin ms, clip end ms), in reading order


def wrapped_page(data: bytes, chapter: NarratedChapter, granularity: str,
                 style: str) -> tuple[bytes, Pars] | None:
    """The chapter's XHTML with its fragments wrapped, and its overlay's
    (id, begin, end) clips; None for a page that is not well-formed XML,
    which is kept as it is, without highlights."""
    root = parse_xml(data, keep_comments=True)  # comments and all: the page is written back
    if root is None:
        return None
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
        new = next(ids)
        fragment.heading.set("id", new)
        return new
    return next(ids)


def _link_style(root: etree._Element, url: str) -> None:
    """Link the highlight's style, unless a read-along book narrated before did."""
    head = first_element(root, "head")
    if head is None or any((link.get("href") or "").endswith(posixpath.basename(url))
                           for link in head if local_name(link) == "link"):
        return
    namespace = etree.QName(root).namespace
    link = head.makeelement(f"{{{namespace}}}link" if namespace else "link",
                            {"rel": "stylesheet", "type": "text/css", "href": url})
    link.tail = head[-1].tail if len(head) else None
    head.append(link)

