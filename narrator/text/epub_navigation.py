"""An EPUB's table of contents: chapter titles from the navigation document
(EPUB 3) or the NCX (EPUB 2), and the front and back matter its landmarks
mark. Links are resolved against the file that holds them (fragments
dropped, %-escapes decoded)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from narrator.errors import DocumentError
from narrator.text.epub_package import MATTER_TYPES, Package, local_target
from narrator.text.html import (
    element_text,
    elements,
    epub_types,
    first_element,
    parse_markup,
    safe_xml_parser,
)
from narrator.text.plain import is_speakable


@dataclass
class Navigation:
    titles: dict[str, str] = field(default_factory=dict)  # document path -> title
    landmarks: dict[str, str] = field(default_factory=dict)  # document path -> matter


def read_navigation(package: Package, contents: dict[str, bytes], name: str) -> Navigation:
    navigation = Navigation()
    if package.nav:
        _read_nav(package.nav, parse_markup(contents[package.nav], xml=True), navigation, name)
    if package.ncx:
        # The NCX only fills in documents the nav does not title.
        _read_ncx(package.ncx, contents[package.ncx], navigation)
    return navigation


def _read_nav(path: str, root: etree._Element, navigation: Navigation, name: str) -> None:
    navs = [(nav, epub_types(nav)) for nav in elements(root, "nav")]
    tocs = [nav for nav, types in navs if "toc" in types]
    if not tocs:
        # EPUB 3 requires it: a nav without one is a broken book, said so
        # rather than read with titles guessed.
        raise DocumentError(f'{name}: its navigation document {path} has no <nav epub:type="toc">')
    for link in elements(tocs[0], "a"):
        _add_title(navigation.titles, local_target(path, link.get("href")), element_text(link))
    for nav, types in navs:
        if "landmarks" in types:
            for link in elements(nav, "a"):
                matter = sorted(epub_types(link) & MATTER_TYPES)
                target = local_target(path, link.get("href"))
                if matter and target:
                    navigation.landmarks.setdefault(target, matter[0])


def _read_ncx(path: str, data: bytes, navigation: Navigation) -> None:
    try:
        root = etree.fromstring(data, safe_xml_parser(recover=True))
    except etree.XMLSyntaxError:
        return  # titles then fall back to the documents' headings
    if root is None:
        return
    for point in elements(root, "navpoint"):
        label = first_element(point, "text")
        content = first_element(point, "content")
        if label is not None and content is not None:
            _add_title(navigation.titles, local_target(path, content.get("src")), element_text(label))


def _add_title(titles: dict[str, str], target: str | None, label: str) -> None:
    # Several entries may point into one document: the first one titles it.
    if target and is_speakable(label):
        titles.setdefault(target, label)
