"""An EPUB's container and package document (the OPF): where the package is,
its manifest, spine, metadata and guide, the cover image, and DRM.

Every file is read from the archive in bounded chunks (`archive`) and parsed
with the safe XML parser of `html` (no entities, no DTD, no network). Each
failure is one line naming what is missing.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from lxml import etree

from narrator.errors import DocumentError
from narrator.text.archive import read_member
from narrator.text.html import elements, first_element, safe_xml_parser
from narrator.text.plain import collapse

# epub:type values (EPUB 3 structural semantics) of documents that are not
# prose to narrate. Dedications, epigraphs, forewords, prefaces,
# acknowledgments, afterwords and appendices are prose and are narrated.
MATTER_TYPES = frozenset(
    ["cover", "titlepage", "halftitlepage", "seriespage", "copyright-page", "imprint", "imprimatur",
     "colophon", "toc", "toc-brief", "landmarks", "page-list", "loi", "lot", "loa", "lov", "index",
     "bibliography", "errata", "endnotes", "rearnotes", "footnotes"]
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
DOCUMENT_TYPES = frozenset({"application/xhtml+xml", "text/html"})
_NCX_TYPE = "application/x-dtbncx+xml"
_PACKAGE_TYPE = "application/oebps-package+xml"
_CONTAINER = "META-INF/container.xml"
_ENCRYPTION = "META-INF/encryption.xml"
# Font obfuscation (IDPF, Adobe) is allowed in DRM-free books; any other
# algorithm in encryption.xml means the content itself is encrypted.
_FONT_OBFUSCATION = frozenset({"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"})
_DC_NS = "http://purl.org/dc/elements/1.1/"
_OPF_NS = "http://www.idpf.org/2007/opf"
_OPF_ROLE = f"{{{_OPF_NS}}}role"


class Item(NamedTuple):
    """A manifest entry whose file is in the archive (its href is local)."""

    id: str
    path: str  # zip path, %-escapes decoded
    media_type: str
    properties: frozenset[str]


class SpineEntry(NamedTuple):
    idref: str
    linear: bool


@dataclass
class Package:
    """What the package document says, with every file as a zip path."""

    opf: str
    items: list[Item]  # the manifest, in document order
    manifest: dict[str, Item]  # by id; the first item wins a duplicated id
    spine: list[SpineEntry]  # the reading order
    title: str | None = None
    author: str | None = None
    language: str | None = None
    guide: dict[str, str] = field(default_factory=dict)  # document path -> matter
    cover_image: str | None = None
    nav: str | None = None
    ncx: str | None = None


def refuse_drm(archive: zipfile.ZipFile, name: str) -> None:
    if _ENCRYPTION not in archive.namelist():
        return
    root = _xml(archive, _ENCRYPTION, name)
    algorithms = {method.get("Algorithm") for method in elements(root, "encryptionmethod")}
    if algorithms - _FONT_OBFUSCATION:
        raise DocumentError(
            f"{name}: DRM-protected ({_ENCRYPTION} encrypts its content); "
            "narrator reads DRM-free EPUBs only"
        )


def read_package(archive: zipfile.ZipFile, name: str) -> Package:
    """The container's package document, checked: the spine is in the
    manifest and every manifest file is in the archive."""
    names = set(archive.namelist())
    if _CONTAINER not in names:
        raise DocumentError(f"{name}: not an EPUB (no {_CONTAINER} in the archive)")
    opf = _rootfile(_xml(archive, _CONTAINER, name), name)
    if opf not in names:
        raise DocumentError(f"{name}: {_CONTAINER} points to {opf}, which is not in the archive")
    root = _xml(archive, opf, name)
    items = _manifest(root, opf)
    manifest: dict[str, Item] = {}
    for item in items:
        manifest.setdefault(item.id, item)
    package = Package(opf, items, manifest, _spine(root, opf, name))
    _check_files(package, names, name)
    package.nav = next((item.path for item in items if "nav" in item.properties), None)
    ncxs = (item.path for item in items if item.media_type == _NCX_TYPE and "nav" not in item.properties)
    package.ncx = next(ncxs, None)
    package.cover_image = _cover_image_path(root, package)
    package.guide = _guide(root, opf)
    _read_metadata(root, package)
    return package


def needed_contents(archive: zipfile.ZipFile, package: Package, name: str) -> dict[str, bytes]:
    """The files narrator reads, by zip path: documents, nav, NCX, cover image."""
    wanted = {item.path for item in package.items if item.media_type in DOCUMENT_TYPES | {_NCX_TYPE}}
    wanted.update(path for path in (package.nav, package.cover_image) if path)
    return {path: read_member(archive, path, name) for path in sorted(wanted)}


def resolve_href(base: str, href: str) -> str:
    """A link's target as a zip path: relative to `base`'s folder, fragment
    dropped, %-escapes decoded ("chapter%201.xhtml#start")."""
    path = unquote(urlsplit(href).path)
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), path))


def local_target(base: str, href: str | None) -> str | None:
    """`href` resolved against `base` when it points into the archive."""
    parts = urlsplit(href or "")
    if href and parts.path and not parts.scheme and not parts.netloc:
        return resolve_href(base, href)
    return None


def join_names(names: list[str]) -> str | None:
    """["A"] -> "A"; ["A", "B"] -> "A and B"; ["A", "B", "C"] -> "A, B and C"."""
    if not names:
        return None
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# --- the container and the package document -------------------------------


def _xml(archive: zipfile.ZipFile, member: str, name: str) -> etree._Element:
    """A package file (container, OPF, encryption.xml): well-formed or refused."""
    try:
        return etree.fromstring(read_member(archive, member, name), safe_xml_parser())
    except etree.XMLSyntaxError as error:
        raise DocumentError(f"{name}: {member} is not well-formed XML ({collapse(str(error))})") from None


def _rootfile(container: etree._Element, name: str) -> str:
    # The first rootfile of the package type: OCF says readers use that one.
    for rootfile in elements(container, "rootfile"):
        path = rootfile.get("full-path")
        if rootfile.get("media-type") == _PACKAGE_TYPE and path:
            return posixpath.normpath(unquote(path))
    raise DocumentError(f"{name}: {_CONTAINER} names no package document (no <rootfile>)")


def _manifest(root: etree._Element, opf: str) -> list[Item]:
    items = []
    for item in elements(root, "item"):
        uid, href = item.get("id"), item.get("href")
        if uid and href and not urlsplit(href).scheme:
            media_type = (item.get("media-type") or "").strip()
            properties = frozenset((item.get("properties") or "").split())
            items.append(Item(uid, resolve_href(opf, href), media_type, properties))
    return items


def _spine(root: etree._Element, opf: str, name: str) -> list[SpineEntry]:
    spine = first_element(root, "spine")
    refs = list(elements(spine, "itemref")) if spine is not None else []
    if not refs:
        raise DocumentError(f"{name}: {opf} has no spine (the reading order); not a usable EPUB")
    return [SpineEntry(ref.get("idref") or "", (ref.get("linear") or "yes").lower() != "no") for ref in refs]


def _check_files(package: Package, names: set[str], name: str) -> None:
    """Every spine item in the manifest, every manifest file in the zip."""
    for entry in package.spine:
        if entry.idref not in package.manifest:
            raise DocumentError(
                f"{name}: the spine lists '{entry.idref}', which the manifest of {package.opf} does not have"
            )
    in_spine = {package.manifest[entry.idref].path for entry in package.spine}
    for item in package.items:
        if item.path not in names:
            role = "a spine document" if item.path in in_spine else "listed in the manifest"
            raise DocumentError(f"{name}: {item.path} ({role}) is missing from the archive")


def _cover_image_path(root: etree._Element, package: Package) -> str | None:
    """EPUB 3's properties="cover-image", else EPUB 2's <meta name="cover">."""
    for item in package.items:
        if "cover-image" in item.properties:
            return item.path
    for meta in elements(root, "meta"):
        image = package.manifest.get(meta.get("content") or "")
        if meta.get("name") == "cover" and image is not None:
            return image.path
    return None


def _guide(root: etree._Element, opf: str) -> dict[str, str]:
    """EPUB 2 <guide> references, as document path -> matter."""
    guide = first_element(root, "guide")
    marked: dict[str, str] = {}
    for reference in elements(guide, "reference") if guide is not None else ():
        matter = _GUIDE_TYPES.get((reference.get("type") or "").strip().lower())
        target = local_target(opf, reference.get("href"))
        if matter and target:
            marked.setdefault(target, matter)
    return marked


# --- metadata -------------------------------------------------------------


def _read_metadata(root: etree._Element, package: Package) -> None:
    """Title, authors and language from the <metadata> element's children."""
    metadata = first_element(root, "metadata")
    if metadata is None:
        return  # the book is still readable: its title comes from the file name
    entries = [(etree.QName(child).namespace, etree.QName(child).localname, child)
               for child in metadata if isinstance(child.tag, str)]
    package.title = _first_text(child for ns, tag, child in entries if (ns, tag) == (_DC_NS, "title"))
    package.language = _first_text(child for ns, tag, child in entries if (ns, tag) == (_DC_NS, "language"))
    creators = [child for ns, tag, child in entries if (ns, tag) == (_DC_NS, "creator")]
    metas = [child for ns, tag, child in entries if tag == "meta" and ns in (_OPF_NS, None)]
    package.author = _authors(creators, metas)


def _first_text(values: Iterable[etree._Element]) -> str | None:
    # OPF metadata values are plain text: an element's own text, not markup nested in it.
    return next((collapse(value.text) for value in values if value.text and collapse(value.text)), None)


def _authors(creators: list[etree._Element], metas: list[etree._Element]) -> str | None:
    """dc:creator entries with the author role (or none stated); when every
    creator has another role (editor...), all of them."""
    # EPUB 3 states roles in <meta refines="#id" property="role">; the last one wins.
    roles = {
        (meta.get("refines") or "").lstrip("#"): (meta.text or "").strip()
        for meta in metas if meta.get("property") == "role"
    }
    named = []
    for creator in creators:
        role = creator.get(_OPF_ROLE) or roles.get(creator.get("id") or "", "")
        if creator.text and collapse(creator.text):
            named.append((collapse(creator.text), role.lower()))
    authors = [who for who, role in named if role in ("", "aut")] or [who for who, _ in named]
    return join_names(list(dict.fromkeys(authors)))
