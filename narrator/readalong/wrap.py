"""Wrapping a run of a document's text in one element, in place.

What the DOM calls surrounding a range: the text at either end is split,
inline elements the run starts or ends inside are split in two (`<em>one.
two</em>` becomes `<em>one.</em><em>two</em>` around a cut), and the run
between is moved into a new `<span id>`. Every character of text stays where
it was, in the same order and inside the same elements, so the page reads
and looks the same; only the highlight has something to hold.

A run that would need a block, a table cell or a list item split cannot be
wrapped as one: `can_wrap` says so before anything is changed, and the
caller wraps smaller runs instead.

lxml keeps text in an element's `text` (before its first child) and each
child's `tail` (after it); a point between characters is held here as the
element it is in, the child it comes before, and an offset into that run.
"""

from __future__ import annotations

from typing import NamedTuple

from lxml import etree

from narrator.text.html import local_name
from narrator.text.positions import Position

# Inline elements that may be split in two around a cut: the pieces mean and
# look what the whole did. Not <q> (each half would get quotation marks) nor
# <bdi>/<bdo> (each half would be isolated on its own).
SPLITTABLE = frozenset(
    ["a", "abbr", "b", "cite", "code", "data", "del", "dfn", "em", "font", "i", "ins", "kbd",
     "mark", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var"]
)
# Elements that may be moved whole into a span: phrasing content.
PHRASING = SPLITTABLE | frozenset(
    ["q", "bdi", "bdo", "br", "wbr", "img", "ruby", "rb", "rt", "rp", "svg", "math", "input", "label",
     "output", "meter", "progress", "audio", "video", "object", "embed", "canvas", "picture", "map", "area",
     "button", "select", "textarea", "noscript", "template", "script"]
)
# Elements whose own text runs may not hold a span (only whitespace belongs there).
_NO_PHRASING = frozenset(
    ["html", "head", "table", "thead", "tbody", "tfoot", "tr", "colgroup", "ul", "ol", "dl", "menu",
     "select", "optgroup", "datalist", "hgroup", "ruby"]
)


class _Point(NamedTuple):
    """Between two characters: in `parent`'s run before its child number `child`, at `offset`."""

    parent: etree._Element
    child: int
    offset: int


def can_wrap(first: Position, last: Position) -> bool:
    """Whether the run from `first` to `last` (characters, both included)
    can be wrapped in one element without splitting anything but inline
    elements, and stays valid XHTML when it is."""
    start, end = _before(first), _after(last)
    top = _common(start.parent, end.parent)
    if top is None or local_name(top) in _NO_PHRASING:
        return False
    low = _lifted(start, top, at_end=False)
    high = _lifted(end, top, at_end=True)
    if low is None or high is None:
        return False
    # Whole children moved into the span must be phrasing (comments and entities are fine).
    return all(not isinstance(child.tag, str) or local_name(child) in PHRASING for child in top[low:high])


def wrap(first: Position, last: Position, tag: str, id_: str) -> etree._Element:
    """Wrap the run from `first` to `last` (both included) in a new `tag`
    element with `id_`, which `can_wrap` allowed. Positions after the run are
    left valid (its tail keeps them), so wrap the runs of a document last first."""
    start, end = _before(first), _after(last)
    top = _common(start.parent, end.parent)
    assert top is not None
    end, _ = _lift(end, top, at_end=True)
    start, split = _lift(start, top, at_end=False)
    if split:  # an element before the end was split in two: the end moved one child on
        end = _Point(end.parent, end.child + 1, end.offset)
    return _surround(top, start, end, tag, id_)


# --- points ---------------------------------------------------------------


def _run(parent: etree._Element, index: int) -> str:
    """The text before child `index` (after the last child when index == len)."""
    text = parent.text if index == 0 else parent[index - 1].tail
    return text or ""


def _set_run(parent: etree._Element, index: int, text: str) -> None:
    if index == 0:
        parent.text = text or None
    else:
        parent[index - 1].tail = text or None


def _at(node: etree._Element, slot: str, offset: int) -> _Point:
    if slot == "text":
        return _Point(node, 0, offset)
    parent = node.getparent()
    assert parent is not None
    return _Point(parent, parent.index(node) + 1, offset)


def _before(position: Position) -> _Point:
    if position.slot == "node":  # an entity: the point just before it
        parent = position.node.getparent()
        assert parent is not None
        index = parent.index(position.node)
        return _Point(parent, index, len(_run(parent, index)))
    return _at(position.node, position.slot, position.offset)


def _after(position: Position) -> _Point:
    if position.slot == "node":
        return _at(position.node, "tail", 0)
    return _at(position.node, position.slot, position.offset + 1)


def _common(a: etree._Element, b: etree._Element) -> etree._Element | None:
    # A list, not ids: lxml makes its Python objects on demand, and an id can be reused once one is freed.
    ancestors = [a, *a.iterancestors()]
    return next((node for node in [b, *b.iterancestors()] if any(node is x for x in ancestors)), None)


def _child_towards(top: etree._Element, node: etree._Element) -> etree._Element:
    """The child of `top` that holds `node` (or is it)."""
    while node.getparent() is not top:
        parent = node.getparent()
        assert parent is not None
        node = parent
    return node


# --- lifting a point up to the common ancestor ------------------------------


def _at_edge(point: _Point, at_end: bool) -> bool:
    """Whether nothing but whitespace of its element lies before the point
    (or after, at the end): then the span takes the whole element rather
    than leave a twin holding a space."""
    run = _run(point.parent, point.child)
    if at_end:
        return point.child == len(point.parent) and not run[point.offset:].strip()
    return point.child == 0 and not run[:point.offset].strip()


def _up(point: _Point, at_end: bool) -> _Point:
    """The same place one level up: before its element when nothing of the
    element precedes it (at a start), else after the element (where, split,
    its second half begins)."""
    element = point.parent
    parent = element.getparent()
    assert parent is not None
    index = parent.index(element)
    if not at_end and _at_edge(point, at_end):
        return _Point(parent, index, len(_run(parent, index)))
    return _Point(parent, index + 1, 0)


def _lifted(point: _Point, top: etree._Element, at_end: bool) -> int | None:
    """The child index the point reaches in `top`, or None if an element on
    the way is not one that may be split."""
    while point.parent is not top:
        if not _at_edge(point, at_end) and local_name(point.parent) not in SPLITTABLE:
            return None
        point = _up(point, at_end)
    return point.child


def _lift(point: _Point, top: etree._Element, at_end: bool) -> tuple[_Point, bool]:
    """The point lifted into `top`, splitting the elements it is inside;
    whether a child of `top` was split."""
    split = False
    while point.parent is not top:
        lifted = _up(point, at_end)
        if not _at_edge(point, at_end):
            _split(point.parent, point)
            split = lifted.parent is top
        point = lifted
    return point, split


def _split(element: etree._Element, point: _Point) -> None:
    """Split `element` at `point` (inside it): what follows goes to a twin
    right after it, without the id (ids are unique), and takes its tail."""
    attributes = {name: value for name, value in element.attrib.items() if name != "id"}
    twin = element.makeelement(element.tag, attributes)
    run = _run(element, point.child)
    moved = element[point.child:]
    _set_run(element, point.child, run[:point.offset])
    twin.tail, element.tail = element.tail, None
    element.addnext(twin)
    twin.text = run[point.offset:] or None
    for child in moved:
        twin.append(child)  # each keeps its tail


def _surround(top: etree._Element, start: _Point, end: _Point, tag: str, id_: str) -> etree._Element:
    namespace = etree.QName(top).namespace
    span = top.makeelement(f"{{{namespace}}}{tag}" if namespace else tag, {"id": id_})
    first_run, last_run = _run(top, start.child), _run(top, end.child)
    moved = top[start.child:end.child]
    _set_run(top, start.child, first_run[:start.offset])
    top.insert(start.child, span)
    if not moved:  # both ends in the same run
        span.text = first_run[start.offset:end.offset] or None
    else:
        span.text = first_run[start.offset:] or None
        for child in moved:
            span.append(child)
        moved[-1].tail = last_run[:end.offset] or None
    span.tail = last_run[end.offset:] or None
    return span
