"""The package document (OPF) of a read-along book: the source's own, with
its overlays, audio and highlight style added.

Each narrated chapter's item gets `media-overlay`; each overlay gets its
`media:duration`, and the book the total (their sum); `media:active-class`
names the class a reader puts on the fragment being spoken, and
`media:narrator` the voice. Overlay metadata from an earlier run is replaced,
not doubled. Everything else in the package stays as it was.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote

from lxml import etree

from narrator.readalong.smil import clock
from narrator.text.epub_package import resolve_href
from narrator.text.html import local_name

OPF_NS = "http://www.idpf.org/2007/opf"
ACTIVE_CLASS = "-epub-media-overlay-active"
_MEDIA_PROPERTIES = ("media:duration", "media:active-class", "media:narrator", "media:playback-active-class")


@dataclass(frozen=True)
class NewItem:
    id: str
    path: str  # zip path
    media_type: str
    properties: str | None = None


@dataclass(frozen=True)
class Overlay:
    document: str  # zip path of the chapter's XHTML
    item: NewItem  # its SMIL file
    duration_ms: int


def href(path: str, start: str) -> str:
    """`path` (a zip path) relative to the folder `start`, %-escaped as a URL."""
    return quote(posixpath.relpath(path, start or "."))


def unique_ids(taken: set[str], prefix: str) -> Iterator[str]:
    """Ids `prefix1`, `prefix2`... that are not in `taken` (which grows with them)."""
    number = 0
    while True:
        number += 1
        candidate = f"{prefix}{number}"
        if candidate not in taken:
            taken.add(candidate)
            yield candidate


def edit_package(data: bytes, opf_path: str, items: Sequence[NewItem], overlays: Sequence[Overlay],
                 narrator: str, properties: dict[str, set[str]],
                 dropped: AbstractSet[str] = frozenset()) -> bytes:
    """The package with `items` added and those of the files `dropped`
    removed, each overlay on its document's item, the overlay metadata, and
    `properties` (document -> manifest properties EPUB 3 asks for) declared."""
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    folder = posixpath.dirname(opf_path)
    metadata, manifest = _child(root, "metadata"), _child(root, "manifest")
    if not is_epub3(root):
        _upgrade(root, metadata)
    for meta in [m for m in metadata if local_name(m) == "meta" and m.get("property") in _MEDIA_PROPERTIES]:
        metadata.remove(meta)
    for item in list(manifest):
        item.attrib.pop("media-overlay", None)
        if resolve_href(opf_path, item.get("href") or "") in dropped:
            manifest.remove(item)
    for new in items:
        attributes = {"id": new.id, "href": href(new.path, folder), "media-type": new.media_type}
        if new.properties:
            attributes["properties"] = new.properties
        _sub(manifest, "item", **attributes)
    by_path = {resolve_href(opf_path, item.get("href") or ""): item
               for item in manifest if local_name(item) == "item"}
    for document, wanted in properties.items():
        declared = by_path.get(document)
        if declared is not None and wanted:
            _declare(declared, wanted)
    for overlay in overlays:
        by_path[overlay.document].set("media-overlay", overlay.item.id)
        _meta(metadata, "media:duration", clock(overlay.duration_ms), refines=f"#{overlay.item.id}")
    _meta(metadata, "media:duration", clock(sum(o.duration_ms for o in overlays)))
    _meta(metadata, "media:narrator", narrator)
    _meta(metadata, "media:active-class", ACTIVE_CLASS)
    _set_modified(metadata)
    return etree.tostring(root.getroottree(), encoding="UTF-8", xml_declaration=True)


def is_epub3(root: etree._Element) -> bool:
    return (root.get("version") or "").strip().startswith("3")


def _upgrade(root: etree._Element, metadata: etree._Element) -> None:
    """An EPUB 2 package as EPUB 3, which Media Overlays need: the version,
    and no EPUB 2 attributes on the metadata (opf:role, opf:file-as...),
    which EPUB 3 refuses. The nav document it also needs is among the
    items added; dcterms:modified is set for every book."""
    root.set("version", "3.0")
    dates = [element for element in metadata if local_name(element) == "date"]
    published = [d for d in dates if d.get(f"{{{OPF_NS}}}event") == "publication"]
    for extra in [d for d in dates if d is not (published or dates)[0]]:  # EPUB 3 allows one
        metadata.remove(extra)
    for element in metadata:
        for name in [name for name in element.attrib if str(name).startswith(f"{{{OPF_NS}}}")]:
            del element.attrib[name]
    # EPUB 2 names its cover image in <meta name="cover">; EPUB 3 by the item's property.
    covers = [m.get("content") for m in metadata if local_name(m) == "meta" and m.get("name") == "cover"]
    for item in root.iter(f"{{{OPF_NS}}}item"):
        if covers and item.get("id") == covers[0] and (item.get("media-type") or "").startswith("image/"):
            _declare(item, {"cover-image"})


def _declare(item: etree._Element, properties: set[str]) -> None:
    """Add `properties` to a manifest item's own."""
    item.set("properties", " ".join(sorted({*(item.get("properties") or "").split(), *properties})))


def _child(root: etree._Element, name: str) -> etree._Element:
    return next(child for child in root if local_name(child) == name)


def _sub(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
    if len(parent):
        parent[-1].tail = parent.text  # one per line, indented as the first
    element = etree.SubElement(parent, f"{{{OPF_NS}}}{name}", attributes)
    element.text = text
    element.tail = "\n"
    return element


def _meta(metadata: etree._Element, prop: str, text: str, **attributes: str) -> None:
    _sub(metadata, "meta", text, property=prop, **attributes)


def _set_modified(metadata: etree._Element) -> None:
    """dcterms:modified, which EPUB 3 requires once: now, as the book changed."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for meta in metadata:
        if local_name(meta) == "meta" and meta.get("property") == "dcterms:modified":
            meta.text = now
            return
    _meta(metadata, "dcterms:modified", now)
