"""EPUB 2 and 3 to Book: one chapter per spine document with prose.

Reading happens in two passes over the archive, both from memory:

1. narrator's own checks, with the safe parsers of `html`: the zip's limits
   (`archive`), the container, the package document's manifest and spine,
   DRM. Each failure is one line naming what is missing.
2. ebooklib reads metadata, spine, guide and items from a *stored* copy of
   the archive holding only the documents narrator needs (ebooklib reads
   every manifest item with an unbounded zipfile read; on this copy that
   cannot decompress anything).

Chapter titles come from the navigation document (EPUB 3) or the NCX
(EPUB 2); front and back matter that is not prose is marked in
`Chapter.matter`, not removed (see `MATTER_TYPES`).
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from ebooklib import epub
from lxml import etree

from narrator.errors import DocumentError
from narrator.model import Book, Chapter, Cover
from narrator.text.archive import open_zip, read_member, rebuild_stored
from narrator.text.html import (
    Block,
    body_of,
    document_title,
    element_text,
    elements,
    epub_types,
    first_element,
    local_name,
    parse_markup,
    safe_xml_parser,
    walk,
)
from narrator.text.plain import collapse, describe, is_speakable, title_from_name

# epub:type values (EPUB 3 structural semantics) of documents that are not
# prose to narrate. Dedications, epigraphs, forewords, prefaces,
# acknowledgments, afterwords and appendices are prose and are narrated.
MATTER_TYPES = frozenset(
    ["cover", "titlepage", "halftitlepage", "seriespage", "copyright-page", "imprint", "imprimatur", "colophon", "toc", "toc-brief", "landmarks", "page-list", "loi", "lot", "loa", "lov", "index", "bibliography", "errata", "endnotes", "rearnotes", "footnotes"]
)
# EPUB 2 <guide> reference types, as the matching epub:type.
_GUIDE_TYPES = {
    "cover": "cover",
    "title-page": "titlepage",
    "copyright-page": "copyright-page",
    "colophon": "colophon",
    "toc": "toc",
    "loi": "loi",
    "lot": "lot",
    "index": "index",
    "bibliography": "bibliography",
    "notes": "endnotes",
}
# A document showing the cover image with no more text than this (a caption,
# a "Cover" heading) is the cover page.
_COVER_PAGE_MAX_CHARS = 200
# An unmarked document whose text is mostly links to other documents (at
# least this many, this share of its characters) is a table of contents.
_TOC_MIN_LINKS = 3
_TOC_LINK_SHARE = 2 / 3
_DOCUMENT_TYPES = frozenset({"application/xhtml+xml", "text/html"})
_NCX_TYPE = "application/x-dtbncx+xml"
_CONTAINER = "META-INF/container.xml"
_ENCRYPTION = "META-INF/encryption.xml"
# Font obfuscation (IDPF, Adobe) is allowed in DRM-free books; any other
# algorithm in encryption.xml means the content itself is encrypted.
_FONT_OBFUSCATION = frozenset({"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"})
_OPF_ROLE = "{http://www.idpf.org/2007/opf}role"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
# What ebooklib raises on archives it cannot make sense of.
_EBOOKLIB_ERRORS = (
    epub.EpubException, KeyError, IndexError, AttributeError, TypeError, ValueError,
    etree.LxmlError, zipfile.BadZipFile, UnicodeError,
)


@dataclass
class _Package:
    """What narrator itself reads from the package document, by zip path."""

    opf: str
    manifest: dict[str, tuple[str, str, set[str]]]  # id -> (path, media type, properties)
    spine: list[str]  # idrefs, in reading order
    cover_image: str | None = None
    nav: str | None = None
    ncx: str | None = None


@dataclass
class _Navigation:
    titles: dict[str, str] = field(default_factory=dict)  # document path -> title
    landmarks: dict[str, str] = field(default_factory=dict)  # document path -> matter


def parse_epub(data: bytes, name: str) -> Book:
    """An EPUB's bytes to Book. `name` (the file name) is used in messages."""
    with open_zip(data, name) as archive:
        _refuse_drm(archive, name)
        package = _read_package(archive, name)
        contents = _needed_contents(archive, package, name)
        stored = rebuild_stored(archive, contents)
    navigation = _navigation(package, contents, name)
    ebook = _ebooklib_book(stored, name)
    del stored, contents  # ebooklib holds its own copy of every document
    title = _first_text(_metadata(ebook, "DC", "title")) or title_from_name(name)
    found: Counter[str] = Counter()
    chapters = _chapters(ebook, package, navigation, title, found)
    if not chapters:
        raise DocumentError(f"{name}: no prose to narrate ({describe(found)})")
    return Book(
        title=title,
        author=_authors(ebook),
        chapters=tuple(chapters),
        language=_first_text(_metadata(ebook, "DC", "language")),
        cover=_cover(ebook, package),
    )


# --- pass 1: narrator's own checks ----------------------------------------


def _refuse_drm(archive: zipfile.ZipFile, name: str) -> None:
    if _ENCRYPTION not in archive.namelist():
        return
    root = _xml(archive, _ENCRYPTION, name)
    algorithms = {method.get("Algorithm") for method in elements(root, "encryptionmethod")}
    if algorithms - _FONT_OBFUSCATION:
        raise DocumentError(
            f"{name}: DRM-protected ({_ENCRYPTION} encrypts its content); "
            "narrator reads DRM-free EPUBs only"
        )


def _read_package(archive: zipfile.ZipFile, name: str) -> _Package:
    names = set(archive.namelist())
    if _CONTAINER not in names:
        raise DocumentError(f"{name}: not an EPUB (no {_CONTAINER} in the archive)")
    opf = _rootfile(_xml(archive, _CONTAINER, name), name)
    if opf not in names:
        raise DocumentError(f"{name}: {_CONTAINER} points to {opf}, which is not in the archive")
    root = _xml(archive, opf, name)
    package = _Package(opf, _manifest(root, opf), _spine(root, opf, name))
    _check_files(package, names, name)
    for path, media_type, properties in package.manifest.values():
        if "nav" in properties:
            package.nav = package.nav or path
        elif media_type == _NCX_TYPE:
            package.ncx = package.ncx or path
    package.cover_image = _cover_image_path(root, package.manifest)
    return package


def _rootfile(container: etree._Element, name: str) -> str:
    # ebooklib takes the first rootfile of this media type; so do we.
    for rootfile in elements(container, "rootfile"):
        path = rootfile.get("full-path")
        if rootfile.get("media-type") == "application/oebps-package+xml" and path:
            return posixpath.normpath(unquote(path))
    raise DocumentError(f"{name}: {_CONTAINER} names no package document (no <rootfile>)")


def _manifest(root: etree._Element, opf: str) -> dict[str, tuple[str, str, set[str]]]:
    manifest = {}
    for item in elements(root, "item"):
        uid, href = item.get("id"), item.get("href")
        if uid and href and not urlsplit(href).scheme:
            path = _resolve(opf, href)
            properties = set((item.get("properties") or "").split())
            manifest[uid] = (path, (item.get("media-type") or "").strip(), properties)
    return manifest


def _spine(root: etree._Element, opf: str, name: str) -> list[str]:
    spine = first_element(root, "spine")
    idrefs = [ref.get("idref") or "" for ref in elements(spine, "itemref")] if spine is not None else []
    if not idrefs:
        raise DocumentError(f"{name}: {opf} has no spine (the reading order); not a usable EPUB")
    return idrefs


def _check_files(package: _Package, names: set[str], name: str) -> None:
    """Every spine item in the manifest, every manifest file in the zip."""
    for idref in package.spine:
        if idref not in package.manifest:
            raise DocumentError(
                f"{name}: the spine lists '{idref}', which the manifest of {package.opf} does not have"
            )
    in_spine = {package.manifest[idref][0] for idref in package.spine}
    for path, _, _ in package.manifest.values():
        if path not in names:
            role = "a spine document" if path in in_spine else "listed in the manifest"
            raise DocumentError(f"{name}: {path} ({role}) is missing from the archive")


def _cover_image_path(root: etree._Element, manifest: dict[str, tuple[str, str, set[str]]]) -> str | None:
    """EPUB 3's properties="cover-image", else EPUB 2's <meta name="cover">."""
    for path, _, properties in manifest.values():
        if "cover-image" in properties:
            return path
    for meta in elements(root, "meta"):
        if meta.get("name") == "cover" and meta.get("content") in manifest:
            return manifest[meta.get("content")][0]
    return None


def _needed_contents(archive: zipfile.ZipFile, package: _Package, name: str) -> dict[str, bytes]:
    """The files narrator reads: container, package, documents, NCX, cover."""
    wanted = {_CONTAINER, package.opf}
    for path, media_type, _ in package.manifest.values():
        if media_type in _DOCUMENT_TYPES or media_type == _NCX_TYPE:
            wanted.add(path)
    if package.cover_image:
        wanted.add(package.cover_image)
    return {path: read_member(archive, path, name) for path in sorted(wanted)}


def _xml(archive: zipfile.ZipFile, member: str, name: str) -> etree._Element:
    """A package file (container, OPF, encryption.xml): well-formed or refused."""
    try:
        return etree.fromstring(read_member(archive, member, name), safe_xml_parser())
    except etree.XMLSyntaxError as error:
        raise DocumentError(f"{name}: {member} is not well-formed XML ({collapse(str(error))})") from None


def _resolve(base: str, href: str) -> str:
    """A link's target as a zip path: relative to `base`'s folder, fragment
    dropped, %-escapes decoded ("chapter%201.xhtml#start")."""
    path = unquote(urlsplit(href).path)
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), path))


def _is_local(href: str | None) -> bool:
    parts = urlsplit(href or "")
    return bool(parts.path) and not parts.scheme and not parts.netloc


# --- navigation: titles and landmarks -------------------------------------


def _navigation(package: _Package, contents: dict[str, bytes], name: str) -> _Navigation:
    navigation = _Navigation()
    if package.nav:
        _read_nav(package.nav, parse_markup(contents[package.nav], xml=True), navigation, name)
    if package.ncx:
        # The NCX only fills in documents the nav does not title.
        _read_ncx(package.ncx, contents[package.ncx], navigation)
    return navigation


def _read_nav(path: str, root: etree._Element, navigation: _Navigation, name: str) -> None:
    navs = [(nav, epub_types(nav)) for nav in elements(root, "nav")]
    tocs = [nav for nav, types in navs if "toc" in types]
    if not tocs:
        # ebooklib cannot read such a book either.
        raise DocumentError(f'{name}: its navigation document {path} has no <nav epub:type="toc">')
    for link in elements(tocs[0], "a"):
        _add_title(navigation.titles, path, link.get("href"), element_text(link))
    for nav, types in navs:
        if "landmarks" in types:
            for link in elements(nav, "a"):
                matter = sorted(epub_types(link) & MATTER_TYPES)
                if matter and _is_local(link.get("href")):
                    navigation.landmarks.setdefault(_resolve(path, link.get("href")), matter[0])


def _read_ncx(path: str, data: bytes, navigation: _Navigation) -> None:
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
            _add_title(navigation.titles, path, content.get("src"), element_text(label))


def _add_title(titles: dict[str, str], base: str, href: str | None, label: str) -> None:
    # Several entries may point into one document: the first one titles it.
    if _is_local(href) and is_speakable(label):
        titles.setdefault(_resolve(base, href), label)  # type: ignore[arg-type]


# --- pass 2: ebooklib -----------------------------------------------------


def _ebooklib_book(stored: bytes, name: str) -> epub.EpubBook:
    try:
        return epub.read_epub(io.BytesIO(stored), {"ignore_ncx": True})
    except _EBOOKLIB_ERRORS as error:
        reason = collapse(str(error)) or type(error).__name__
        raise DocumentError(f"{name}: not a readable EPUB (ebooklib: {reason})") from None


def _metadata(ebook: epub.EpubBook, namespace: str, key: str) -> list[tuple[str | None, dict]]:
    try:
        return ebook.get_metadata(namespace, key)
    except KeyError:
        return []  # the package never declared that namespace


def _first_text(values: list[tuple[str | None, dict]]) -> str | None:
    return next((collapse(value) for value, _ in values if value and collapse(value)), None)


def _authors(ebook: epub.EpubBook) -> str | None:
    """dc:creator entries with the author role (or none stated); when every
    creator has another role (editor...), all of them."""
    roles = {
        (attrs or {}).get("refines", "").lstrip("#"): (value or "").strip()
        for value, attrs in _metadata(ebook, "OPF", "meta")
        if (attrs or {}).get("property") == "role"
    }
    creators = []
    for value, attrs in _metadata(ebook, "DC", "creator"):
        attrs = attrs or {}
        role = attrs.get(_OPF_ROLE) or roles.get(attrs.get("id", ""), "")
        if value and collapse(value):
            creators.append((collapse(value), role.lower()))
    authors = [who for who, role in creators if role in ("", "aut")] or [who for who, _ in creators]
    return join_names(list(dict.fromkeys(authors)))


def join_names(names: list[str]) -> str | None:
    """["A"] -> "A"; ["A", "B"] -> "A and B"; ["A", "B", "C"] -> "A, B and C"."""
    if not names:
        return None
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _cover(ebook: epub.EpubBook, package: _Package) -> Cover | None:
    """The cover image's bytes, if it is a JPEG or PNG (what ID3 players show)."""
    if not package.cover_image:
        return None
    opf_folder = posixpath.dirname(package.opf)
    for item in ebook.get_items():
        if posixpath.normpath(posixpath.join(opf_folder, item.file_name)) == package.cover_image:
            return _image(item.content)
    return None


def _image(data: bytes) -> Cover | None:
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


def _spine_documents(ebook: epub.EpubBook, package: _Package) -> Iterator[_Document]:
    """The spine's documents, parsed one at a time: only one tree is alive."""
    opf_folder = posixpath.dirname(package.opf)
    for idref, linear in ebook.spine:
        item = ebook.get_item_with_id(idref)
        # None only for ebooklib's special cover page class, which forgets
        # the item's id; such a page holds no prose.
        if item is None or item.media_type not in _DOCUMENT_TYPES:
            continue
        path = posixpath.normpath(posixpath.join(opf_folder, item.file_name))
        # The raw bytes: EpubHtml.get_content() re-renders the page from a template.
        root = parse_markup(item.content, xml=True)
        yield _Document(path, root, (linear or "yes").lower() != "no")


def _chapters(
    ebook: epub.EpubBook, package: _Package, navigation: _Navigation, book_title: str, found: Counter[str]
) -> list[Chapter]:
    guide = _guide(ebook, package)
    chapters = []
    for document in _spine_documents(ebook, package):
        blocks = walk(document.root, found)
        matter = _matter(document, blocks, package, navigation, guide)
        title = navigation.titles.get(document.path) or _own_title(document.root, blocks, book_title)
        if title:
            blocks = _without_title_headings(blocks, title)
        has_prose = any(block.kind == "prose" for block in blocks)
        if blocks and (has_prose or matter):
            chapters.append(Chapter(title or "", tuple(block.text for block in blocks), matter))
    return [
        chapter if chapter.title else Chapter(f"Chapter {number}", chapter.paragraphs, chapter.matter)
        for number, chapter in enumerate(chapters, 1)
    ]


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


def _guide(ebook: epub.EpubBook, package: _Package) -> dict[str, str]:
    """EPUB 2 <guide> references, as document path -> matter."""
    marked: dict[str, str] = {}
    for reference in ebook.guide or []:
        matter = _GUIDE_TYPES.get((reference.get("type") or "").strip().lower())
        if matter and _is_local(reference.get("href")):
            marked.setdefault(_resolve(package.opf, reference["href"]), matter)
    return marked


def _matter(
    document: _Document, blocks: list[Block], package: _Package, navigation: _Navigation, guide: dict[str, str]
) -> str | None:
    if document.path == package.nav:
        return "toc"
    return (
        _declared_matter(document.root)
        or navigation.landmarks.get(document.path)
        or guide.get(document.path)
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


def _is_cover_page(document: _Document, blocks: list[Block], package: _Package) -> bool:
    """A page that shows the cover image and (almost) nothing else."""
    if not package.cover_image or sum(len(block.text) for block in blocks) > _COVER_PAGE_MAX_CHARS:
        return False
    for element in document.root.iter():
        if local_name(element) in ("img", "image"):
            href = element.get("src") or element.get("href") or element.get(_XLINK_HREF)
            if _is_local(href) and _resolve(document.path, href) == package.cover_image:  # type: ignore[arg-type]
                return True
    return False


def _is_link_list(document: _Document, blocks: list[Block]) -> bool:
    """A contents page nothing marks: mostly links into other documents."""
    links = [
        element for element in elements(document.root, "a")
        if _is_local(element.get("href")) and _resolve(document.path, element.get("href")) != document.path  # type: ignore[arg-type]
    ]
    if len(links) < _TOC_MIN_LINKS:
        return False
    linked = sum(len(element_text(link)) for link in links)
    return linked >= _TOC_LINK_SHARE * sum(len(block.text) for block in blocks)
