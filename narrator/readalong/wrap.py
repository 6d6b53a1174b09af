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
element it is in, the child whose tail holds it (None: the element's own
text) and an offset into that run. Only sibling and parent links are
followed, never child indices, so wrapping every word of a block of
thousands of lines costs time in proportion to its words.
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
    ["a", "abbr", "acronym", "b", "big", "cite", "code", "data", "del", "dfn", "em", "font", "i", "ins",
     "kbd", "mark", "nobr", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "tt", "u", "var"]
)
# Elements that may be moved whole into a span: phrasing content.
PHRASING = SPLITTABLE | frozenset(
    ["q", "bdi", "bdo", "time", "br", "wbr", "img", "ruby", "rb", "rt", "rp", "svg", "math", "input", "label",
     "output", "meter", "progress", "audio", "video", "object", "embed", "canvas", "picture", "map", "area",
     "button", "select", "textarea", "noscript", "template", "script"]
)
# Elements whose own text runs may not hold a span (only whitespace belongs there).
_NO_PHRASING = frozenset(
    ["html", "head", "table", "thead", "tbody", "tfoot", "tr", "colgroup", "ul", "ol", "dl", "menu",
     "select", "optgroup", "datalist", "hgroup", "ruby", "time"]
)


class _Point(NamedTuple):
    """Between two characters: in `parent`, in the tail of its child `after`
    (or its own text when None), at `offset`."""

    parent: etree._Element
    after: etree._Element | None
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
    return all(not isinstance(child.tag, str) or local_name(child) in PHRASING
               for child in _between(top, low.after, high.after))


def wrap(first: Position, last: Position, tag: str, id_: str) -> etree._Element:
    """Wrap the run from `first` to `last` (both included) in a new `tag`
    element with `id_`, which `can_wrap` allowed. Positions after the run are
    left valid (its tail keeps them), so wrap the runs of a document last first."""
    start, end = _before(first), _after(last)
    top = _common(start.parent, end.parent)
    assert top is not None
    end, _ = _lift(end, top, at_end=True)
    start, twin = _lift(start, top, at_end=False)
    if twin is not None and end.after is start.after:
        # The end was in the tail of the child the start split: that tail is its twin's now.
        end = _Point(top, twin, end.offset)
    return _surround(top, start, end, tag, id_)


# --- points ---------------------------------------------------------------


def _run(parent: etree._Element, after: etree._Element | None) -> str:
    """The text of `after`'s tail, or of `parent` before its first child."""
    text = parent.text if after is None else after.tail
    return text or ""


def _set_run(parent: etree._Element, after: etree._Element | None, text: str) -> None:
    if after is None:
        parent.text = text or None
    else:
        after.tail = text or None


def _first_child(parent: etree._Element) -> etree._Element | None:
    return next(iter(parent), None)


def _between(parent: etree._Element, low: etree._Element | None,
             high: etree._Element | None) -> list[etree._Element]:
    """The children after `low` (from the first when None) up to and including `high`."""
    children: list[etree._Element] = []
    child = _first_child(parent) if low is None else low.getnext()
    while high is not None and high is not low and child is not None:
        children.append(child)
        if child is high:
            break
        child = child.getnext()
    return children


def _at(node: etree._Element, slot: str, offset: int) -> _Point:
    if slot == "text":
        return _Point(node, None, offset)
    parent = node.getparent()
    assert parent is not None
    return _Point(parent, node, offset)


def _before(position: Position) -> _Point:
    if position.slot == "node":  # an entity: the point just before it
        parent, previous = position.node.getparent(), position.node.getprevious()
        assert parent is not None
        return _Point(parent, previous, len(_run(parent, previous)))
    return _at(position.node, position.slot, position.offset)


def _after(position: Position) -> _Point:
    if position.slot == "node":
        return _at(position.node, "tail", 0)
    return _at(position.node, position.slot, position.offset + 1)


def _common(a: etree._Element, b: etree._Element) -> etree._Element | None:
    # A list, not ids: lxml makes its Python objects on demand, and an id can be reused once one is freed.
    ancestors = [a, *a.iterancestors()]
    return next((node for node in [b, *b.iterancestors()] if any(node is x for x in ancestors)), None)


# --- lifting a point up to the common ancestor ------------------------------


def _at_edge(point: _Point, at_end: bool) -> bool:
    """Whether nothing but whitespace of its element lies before the point
    (or after, at the end): then the span takes the whole element rather
    than leave a twin holding a space."""
    run = _run(point.parent, point.after)
    if at_end:
        last = _first_child(point.parent) is None if point.after is None else point.after.getnext() is None
        return last and not run[point.offset:].strip()
    return point.after is None and not run[:point.offset].strip()


def _up(point: _Point, at_end: bool) -> _Point:
    """The same place one level up: before its element when nothing of the
    element precedes it (at a start), else after the element (where, split,
    its second half begins)."""
    element = point.parent
    parent = element.getparent()
    assert parent is not None
    if not at_end and _at_edge(point, at_end):
        previous = element.getprevious()
        return _Point(parent, previous, len(_run(parent, previous)))
    return _Point(parent, element, 0)


def _lifted(point: _Point, top: etree._Element, at_end: bool) -> _Point | None:
    """The point as it would be in `top`, or None if an element on the way
    is not one that may be split."""
    while point.parent is not top:
        if not _at_edge(point, at_end) and local_name(point.parent) not in SPLITTABLE:
            return None
        point = _up(point, at_end)
    return point


def _lift(point: _Point, top: etree._Element, at_end: bool) -> tuple[_Point, etree._Element | None]:
    """The point lifted into `top`, splitting the elements it is inside; the
    twin made of a child of `top`, if one was split."""
    twin = None
    while point.parent is not top:
        lifted = _up(point, at_end)
        twin = _split(point.parent, point) if not _at_edge(point, at_end) else None
        point = lifted
    return point, twin


def _split(element: etree._Element, point: _Point) -> etree._Element:
    """Split `element` at `point` (inside it): what follows goes to a twin
    right after it, without the id (ids are unique), and takes its tail."""
    attributes = {name: value for name, value in element.attrib.items() if name != "id"}
    twin = element.makeelement(element.tag, attributes)
    run = _run(element, point.after)
    moved = _between(element, point.after, _last_child(element))
    _set_run(element, point.after, run[:point.offset])
    twin.tail, element.tail = element.tail, None
    element.addnext(twin)
    twin.text = run[point.offset:] or None
    for child in moved:
        twin.append(child)  # each keeps its tail
    return twin


def _last_child(parent: etree._Element) -> etree._Element | None:
    try:
        return parent[-1]  # found from the end; len() would count every child
    except IndexError:
        return None


def _surround(top: etree._Element, start: _Point, end: _Point, tag: str, id_: str) -> etree._Element:
    namespace = etree.QName(top).namespace
    span = top.makeelement(f"{{{namespace}}}{tag}" if namespace else tag, {"id": id_})
    first_run, last_run = _run(top, start.after), _run(top, end.after)
    moved = _between(top, start.after, end.after)
    _set_run(top, start.after, first_run[:start.offset])
    if start.after is None:
        top.insert(0, span)
    else:
        start.after.addnext(span)  # after its tail, which keeps the text before the run
    if not moved:  # both ends in the same run
        span.text = first_run[start.offset:end.offset] or None
    else:
        span.text = first_run[start.offset:] or None
        for child in moved:
            span.append(child)
        moved[-1].tail = last_run[:end.offset] or None
    span.tail = last_run[end.offset:] or None
    return span
