"""HTML and XHTML to paragraphs, for .html/.htm/.xhtml files and EPUB documents.

Markup is parsed with lxml and never with regexes. Parsing is safe by
construction: no DTD is loaded, no entity is expanded (an unknown one is
dropped, the XHTML ones such as &nbsp; become their characters), and
nothing is fetched from the network.

What is spoken: the text of block elements (p, li, blockquote, dd, td...,
any div holding text), one paragraph each, whitespace collapsed and <br>
read as a space; headings h3-h6 as paragraphs of their own. Never spoken:
the head, scripts, styles, noscript, templates, SVG, MathML, image alt
text, ruby annotations, form controls, hidden elements (hidden,
aria-hidden="true", display:none), footnote and endnote bodies and the
note reference marks that point to them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from html.entities import name2codepoint
from typing import NamedTuple
from xml.sax.saxutils import escape

import lxml.html
from lxml import etree

from narrator.text.plain import collapse, is_speakable

EPUB_NS = "http://www.idpf.org/2007/ops"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# Subtrees whose text is never read aloud.
SKIP = frozenset(
    ["head", "title", "meta", "link", "script", "style", "noscript", "template", "svg", "math", "img",
     "picture", "object", "embed", "video", "audio", "iframe", "canvas", "map", "area", "rt", "rp", "button",
     "select", "textarea", "input"]
)
# Elements that end the paragraph before them and start a new one.
_BLOCKS = frozenset(
    ["address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog",
     "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "hr",
     "html", "legend", "li", "main", "menu", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody",
     "tfoot", "thead", "tr", "ul"]
)
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_CELLS = frozenset({"td", "th"})
# Notes are reference matter: their bodies and the marks that point to them.
_NOTE_TYPES = frozenset(
    ["footnote", "footnotes", "endnote", "endnotes", "rearnote", "rearnotes", "note", "noteref"]
)
_NOTE_ROLES = frozenset({"doc-footnote", "doc-endnote", "doc-endnotes", "doc-noteref"})
# A superscript holding only a link like "1", "*", "[2]" or "†" is a note mark.
_NOTE_MARK = re.compile(r"[\[(]?[\w*\u2020\u2021\u00a7]{1,4}[\])]?")
# Punctuation that hugs the word before a dropped image or note mark.
_CLOSING_PUNCTUATION = tuple(".,;:!?)]}\u2019\u201d")
# libxml2 errors that only concern entities: the document is otherwise
# well-formed XML, so it is re-read in recovery mode with the entities left
# as references rather than handed to the (less faithful) HTML parser.
_ENTITY_ERRORS = frozenset({"ERR_UNDECLARED_ENTITY", "ERR_RESOURCE_LIMIT", "ERR_ENTITY_LOOP"})


class Block(NamedTuple):
    """A paragraph-level run of text: "prose", "label" (spoken, not prose:
    h3-h6) or "heading" (h1/h2, with its level)."""

    kind: str
    text: str
    level: int = 0
    markup: str | None = None  # the text as inline XHTML, emphasis kept (when the walk was asked for it)


# --- parsing --------------------------------------------------------------


def parse_markup(data: bytes, *, xml: bool) -> etree._Element:
    """The document's root: strict XML first when `xml`, else (or when the
    XML is malformed) lxml's forgiving HTML parser."""
    if xml:
        root = parse_xml(data)
        if root is not None:
            return root
    return _parse_html(data)


def safe_xml_parser(recover: bool = False, keep_comments: bool = False) -> etree.XMLParser:
    """A new parser per document: lxml parsers keep an error log, and
    sharing one across threads is not safe."""
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        recover=recover,
        remove_comments=not keep_comments,
        remove_pis=not keep_comments,
    )


def parse_xml(data: bytes, keep_comments: bool = False) -> etree._Element | None:
    """The document as XML, or None when it is not well-formed. Entities
    it uses without declaring them (&nbsp; in XHTML) are the one error
    forgiven: they are kept as references, and nothing else is lost."""
    try:
        return etree.fromstring(data, safe_xml_parser(keep_comments=keep_comments))
    except etree.XMLSyntaxError as error:
        serious = {entry.type_name for entry in error.error_log if entry.level_name != "WARNING"}
        if not serious <= _ENTITY_ERRORS:
            return None
    try:
        return etree.fromstring(data, safe_xml_parser(recover=True, keep_comments=keep_comments))
    except etree.XMLSyntaxError:
        return None


def _parse_html(data: bytes) -> etree._Element:
    # EPUB documents are UTF-8 or UTF-16; without a stated encoding libxml2
    # would guess Latin-1.
    encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8"
    parser = lxml.html.HTMLParser(
        encoding=encoding, remove_comments=True, remove_pis=True, no_network=True
    )
    try:
        return lxml.html.document_fromstring(data, parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return lxml.html.Element("html")  # empty or unreadable: no text


# --- element helpers ------------------------------------------------------


def local_name(element: etree._Element) -> str:
    """The tag without its namespace, lowercased: "p" for <p> (HTML parser)
    and for <{http://www.w3.org/1999/xhtml}p> (XML parser)."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""  # comment, processing instruction or entity
    return tag.rpartition("}")[2].lower()


def epub_types(element: etree._Element) -> set[str]:
    """The epub:type tokens, whichever parser read the document."""
    value = element.get(f"{{{EPUB_NS}}}type") or element.get("epub:type") or ""
    return set(value.split())


def elements(root: etree._Element, name: str) -> Iterator[etree._Element]:
    """Every element called `name` (any namespace), in document order."""
    return (element for element in root.iter() if local_name(element) == name)


def first_element(root: etree._Element, name: str) -> etree._Element | None:
    return next(elements(root, name), None)


def body_of(root: etree._Element) -> etree._Element | None:
    return root if local_name(root) == "body" else first_element(root, "body")


def document_title(root: etree._Element) -> str:
    """The <title> text, collapsed; "" when there is none or it has no words."""
    head = first_element(root, "head")
    title = first_element(head, "title") if head is not None else None
    text = element_text(title) if title is not None else ""
    return text if is_speakable(text) else ""


def document_language(root: etree._Element) -> str | None:
    return (root.get("lang") or root.get(XML_LANG) or "").strip() or None


def meta_content(root: etree._Element, name: str) -> str | None:
    """<meta name="author" content="..."> and the like."""
    for meta in elements(root, "meta"):
        if (meta.get("name") or "").strip().lower() == name:
            value = collapse(meta.get("content") or "")
            if value:
                return value
    return None


# --- walking --------------------------------------------------------------


def walk(root: etree._Element, found: Counter[str], skip: frozenset[str] = frozenset(),
         markup: bool = False) -> list[Block]:
    """The blocks of the body (or of `root` when there is no body), in
    order; with `markup`, each with its inline XHTML too."""
    start = body_of(root)
    walker = BlockWalker(found, SKIP | skip, keep_markup=markup)
    walker.run(start if start is not None else root)
    return walker.blocks


def element_text(element: etree._Element) -> str:
    """The text one element would say (a nav link, a title, a note mark "*"),
    on one line; wordless text is kept."""
    walker = BlockWalker(Counter(), SKIP, keep_wordless=True)
    walker.run(element)
    return collapse(" ".join(block.text for block in walker.blocks))


_ENTER, _END, _TAIL = range(3)
# Where a run of a block's text is in the tree: an element's text or tail, or
# a whole node (an entity reference left unexpanded).
Origin = tuple[etree._Element, str]


class BlockWalker:
    """Depth-first over the tree with an explicit stack: a hostile document
    nested thousands deep cannot exhaust Python's recursion limit."""

    def __init__(self, found: Counter[str], skip: frozenset[str], keep_wordless: bool = False,
                 keep_markup: bool = False):
        self.found = found
        self.skip = skip
        self.keep_wordless = keep_wordless
        self.keep_markup = keep_markup
        self.blocks: list[Block] = []
        self.parts: list[str] = []
        # Where each part came from: (element, "text" | "tail" | "node"), None when it is ours (", ").
        self.origins: list[Origin | None] = []
        self.heading: etree._Element | None = None
        self.after_drop = False

    def run(self, root: etree._Element) -> None:
        stack: list[tuple[etree._Element, int]] = [(root, _ENTER)]
        while stack:
            node, step = stack.pop()
            if step == _TAIL:
                self.text(node.tail, (node, "tail"))
            elif step == _END:
                self.end(node)
            elif not isinstance(node.tag, str):
                if isinstance(node, etree._Entity):
                    self.text(_entity_text(node.name), (node, "node"))
                stack.append((node, _TAIL))
            elif node is not root and self.is_skipped(node):
                self.after_drop = True
                stack.append((node, _TAIL))
            else:
                self.start(node)
                if node is not root:  # the root's tail is outside what was asked for
                    stack.append((node, _TAIL))
                stack.append((node, _END))
                stack.extend((child, _ENTER) for child in reversed(node))
        self.flush()

    def is_skipped(self, node: etree._Element) -> bool:
        name = local_name(node)
        if name in self.skip:
            if name == "img":
                self.found["image"] += 1
            return True
        if epub_types(node) & _NOTE_TYPES or (node.get("role") or "") in _NOTE_ROLES:
            self.found["note"] += 1
            return True
        if node.get("hidden") is not None or (node.get("aria-hidden") or "").strip() == "true":
            return True
        if "display:none" in (node.get("style") or "").replace(" ", "").lower():
            return True
        return name in ("sup", "a") and _is_note_mark(node)

    def start(self, node: etree._Element) -> None:
        name = local_name(node)
        if name == "br":
            self.add(" ")
        elif name in _HEADINGS and self.heading is None:
            self.flush()
            self.heading = node
        elif name in _CELLS and is_speakable("".join(self.parts)):
            self.add(", ")  # a table row is read as "cell, cell, cell"
        elif name in _BLOCKS:
            self.flush()
        self.text(node.text, (node, "text"))

    def end(self, node: etree._Element) -> None:
        if node is self.heading:
            self.heading = None
            text = collapse("".join(self.parts))
            if text and (self.keep_wordless or is_speakable(text)):
                level = _HEADINGS[local_name(node)]
                self.found["heading"] += 1
                self.emit(Block("heading" if level <= 2 else "label", text, level), node)
            self.parts.clear()
            self.origins.clear()
        elif local_name(node) in _BLOCKS:
            self.flush()

    def text(self, text: str | None, origin: Origin) -> None:
        if not text:
            return
        if self.after_drop and text.startswith(_CLOSING_PUNCTUATION) and self.parts:
            self.parts[-1] = self.parts[-1].rstrip()
        self.add(text, origin)
        self.after_drop = False

    def add(self, text: str, origin: Origin | None = None) -> None:
        self.parts.append(text)
        self.origins.append(origin)

    def flush(self) -> None:
        if self.heading is not None:
            return  # blocks nested in a heading stay part of it
        text = collapse("".join(self.parts))
        if text and (self.keep_wordless or is_speakable(text)):
            self.emit(Block("prose", text), None)
        elif text:
            self.found["wordless paragraph"] += 1
        self.parts.clear()
        self.origins.clear()

    def emit(self, block: Block, heading: etree._Element | None) -> None:
        """A block found; `parts` and `origins` still hold what it was made of."""
        if self.keep_markup:
            block = block._replace(markup=collapse(inline_markup(self.parts, self.origins)))
        self.blocks.append(block)


# Inline elements a generated page keeps, by what they are called in HTML.
_EMPHASIS = frozenset(
    ["em", "i", "strong", "b", "code", "s", "del", "u", "sub", "sup", "small", "mark", "cite"]
)


def inline_markup(parts: list[str], origins: list[Origin | None]) -> str:
    """A block's text as inline XHTML: each run inside the emphasis elements
    (em, strong, code...) that hold it in the tree, every other tag left out."""
    out: list[str] = []
    open_: list[str] = []
    for part, origin in zip(parts, origins):
        wanted = open_ if origin is None else _emphasis(origin)
        keep = 0
        while keep < min(len(open_), len(wanted)) and open_[keep] == wanted[keep]:
            keep += 1
        out += [f"</{name}>" for name in reversed(open_[keep:])] + [f"<{name}>" for name in wanted[keep:]]
        out.append(escape(part))
        open_ = wanted
    out += [f"</{name}>" for name in reversed(open_)]
    return "".join(out)


def _emphasis(origin: Origin) -> list[str]:
    """The emphasis elements around a run of text, outermost first, up to its block."""
    node, slot = origin
    element = node if slot == "text" else node.getparent()
    names: list[str] = []
    while element is not None and local_name(element) not in _BLOCKS and local_name(element) not in _HEADINGS:
        if local_name(element) in _EMPHASIS:
            names.append(local_name(element))
        element = element.getparent()
    return names[::-1]


def _entity_text(name: str) -> str:
    """An entity left unexpanded: the XHTML ones (&nbsp;, &mdash;) are
    characters; anything else the document declared itself is dropped."""
    code = name2codepoint.get(name)
    return chr(code) if code is not None else ""


def _is_note_mark(node: etree._Element) -> bool:
    """A note reference without epub:type: a superscript link "1" (<sup><a>
    or <a><sup>) or a bracketed in-book link "[1]"."""
    if len("".join(node.itertext()).strip()) > 12:
        return False  # cheap: most links and superscripts are words
    text = element_text(node)
    if _NOTE_MARK.fullmatch(text) is None:
        return False
    inner = {local_name(element) for element in node.iter() if element is not node}
    if local_name(node) == "sup":
        return "a" in inner
    if "#" not in (node.get("href") or ""):
        return False
    return "sup" in inner or re.fullmatch(r"\[\d{1,3}\]", text) is not None
