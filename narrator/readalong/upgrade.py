"""An EPUB 2 page as EPUB 3 wants it, which Media Overlays need: the HTML5
doctype, characters instead of the named entities only XHTML 1.1's DTD
declared, and the features the package must declare (scripts, SVG, MathML).
Nothing else in the page changes."""

from __future__ import annotations

import re
from html.entities import name2codepoint

from narrator.text.html import parse_xml

# A DOCTYPE at the head of a document (XHTML 1.1's, say).
_DOCTYPE = re.compile(rb"\A(\xef\xbb\xbf)?(\s*<\?xml[^>]*\?>)?(\s*)<!DOCTYPE[^>\[]*(\[[^\]]*\])?\s*>", re.I)
_ENTITY = re.compile(rb"&([A-Za-z][A-Za-z0-9]*);")
_XML_ENTITIES = frozenset([b"amp", b"lt", b"gt", b"quot", b"apos"])  # declared in every XML document
# The manifest property EPUB 3 asks for a page holding any of these elements.
_FEATURES = {
    "{http://www.w3.org/1999/xhtml}script": "scripted",
    "{http://www.w3.org/2000/svg}svg": "svg",
    "{http://www.w3.org/1998/Math/MathML}math": "mathml",
}


def upgraded_page(data: bytes) -> tuple[bytes, set[str]]:
    """The page as EPUB 3 wants it, and the manifest properties it needs."""
    data = _DOCTYPE.sub(lambda m: (m.group(1) or b"") + (m.group(2) or b"") + m.group(3) + b"<!DOCTYPE html>",
                        data, count=1)
    data = numeric_entities(data)
    return data, _features(data)


def numeric_entities(data: bytes) -> bytes:
    """Named character references (&nbsp;) as numeric ones (&#160;): no EPUB 3
    page may use a name only a DTD declares, and the characters are the same."""
    return _ENTITY.sub(_numeric, data)


def _numeric(match: re.Match[bytes]) -> bytes:
    """&nbsp; as &#160;: the reference XHTML 1.1's DTD declared, which <!DOCTYPE html> does not."""
    name = match.group(1)
    code = name2codepoint.get(name.decode("ascii"))
    return match.group() if name in _XML_ENTITIES or code is None else b"&#%d;" % code


def _features(data: bytes) -> set[str]:
    root = parse_xml(data)
    if root is None:
        return set()  # not XML: it declares nothing a reader could use
    return {_FEATURES[str(element.tag)] for element in root.iter(*_FEATURES)}
