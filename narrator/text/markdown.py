"""Markdown to Book by walking markdown-it's token stream.

Markup is removed by *not emitting* it while walking tokens, never by regexes
over the source, so escapes, entities and nesting behave exactly as any
CommonMark renderer would see them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import NamedTuple
from xml.sax.saxutils import escape

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.front_matter import front_matter_plugin

from narrator.model import Book
from narrator.text.plain import (
    Section,
    assemble_book,
    collapse,
    is_speakable,
    title_from_name,
)

_MD = (
    MarkdownIt("commonmark")
    .enable(["table", "strikethrough"])
    .use(front_matter_plugin)
    .use(footnote_plugin)
)

# Inline tokens whose content is words the reader sees.
_TEXT_TOKENS = frozenset({"text", "text_special", "code_inline"})
# Punctuation that hugs the word before it; used to close the gap an image or
# footnote reference leaves ("the map ![m](m.png)." -> "the map.").
_CLOSING_PUNCTUATION = tuple(".,;:!?)]}\u2019\u201d")


class Block(NamedTuple):
    """One unit of the document, in order.

    kind: "heading" (a top-level heading, a chapter candidate), "prose"
    (paragraph, list item, quote, table row) or "label" (spoken but not prose,
    e.g. a heading nested in a blockquote). `markup`: the text as inline
    XHTML, emphasis kept, for a page that shows it.
    """

    kind: str
    text: str
    level: int = 0
    markup: str | None = None


def parse_markdown(text: str, name: str) -> Book:
    """Markdown to Book; title from front matter, a title h1, or the file name."""
    found: Counter[str] = Counter()
    meta = None
    blocks: list[Block] = []
    for part in _parts(text):
        tokens = _MD.parse(part)
        if meta is None:
            meta = _front_matter(tokens)
            if meta is not None:
                found["front matter block"] += 1
        blocks += _walk(tokens, found)
        del tokens  # a part's token tree is the largest thing reading holds
    title_heading = _title_heading(blocks)
    if title_heading is not None:
        blocks = blocks[1:]
    title = (meta or {}).get("title")
    if not title:
        title = title_heading.text if title_heading else title_from_name(name)
    sections = _sections(blocks, name)
    return assemble_book(name, title, (meta or {}).get("author"), sections, found)


# --- parts ----------------------------------------------------------------

# markdown-it's token tree is about ten times the source: a ten-hour book's
# would be most of narrator's peak memory. A large document is parsed in
# parts cut before a top-level ATX heading outside code fences, which no
# Markdown construct can continue across, unless reference or footnote
# definitions (which reach across the whole document) are present.
_PART_CHARS = 50_000
_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:", re.MULTILINE)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^#{1,6}(\s|$)")


def _parts(text: str) -> Iterator[str]:
    if len(text) <= _PART_CHARS or _DEFINITION.search(text):
        yield text
        return
    start, position, fence = 0, 0, None
    for line in text.splitlines(keepends=True):
        opener = _FENCE.match(line)
        if opener and (fence is None or opener.group(1)[0] == fence[0]
                       and len(opener.group(1)) >= len(fence)):
            fence = None if fence else opener.group(1)
        elif (fence is None and position - start >= _PART_CHARS and _HEADING.match(line)
              and "<!--" not in text[start:position]):
            yield text[start:position]
            start = position
        position += len(line)
    yield text[start:]


# --- front matter ---------------------------------------------------------


def _front_matter(tokens: Sequence[Token]) -> dict[str, str] | None:
    """`title:` and `author:` from a leading `---` block; other keys ignored.

    Parsed by hand: two flat keys do not justify a YAML dependency.
    """
    for token in tokens:
        if token.type == "front_matter":
            return _simple_keys(token.content, ("title", "author"))
    return None


def _simple_keys(content: str, wanted: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in content.split("\n"):
        key, colon, value = line.partition(":")
        key = key.strip().lower()
        if not colon or key not in wanted or key in values:
            continue
        value = _unquote(value.strip())
        if value:
            values[key] = collapse(value)
    return values


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


# --- token walk -----------------------------------------------------------


def _walk(tokens: Sequence[Token], found: Counter[str]) -> Iterator[Block]:
    """Block tokens to Blocks; drops code, HTML blocks, rules and footnote text."""
    in_footnotes = 0
    heading: Token | None = None
    row: list[str] | None = None
    for token in tokens:
        kind = token.type
        if kind == "footnote_block_open":
            in_footnotes += 1
            found["footnote"] += 1
        elif kind == "footnote_block_close":
            in_footnotes -= 1
        elif in_footnotes:
            continue  # footnote definitions are reference matter, not narration
        elif kind in ("fence", "code_block"):
            found["code block"] += 1
        elif kind == "html_block":
            found["HTML block"] += 1
        elif kind == "hr":
            found["horizontal rule"] += 1
        elif kind == "heading_open":
            heading = token
        elif kind == "heading_close":
            heading = None
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close":
            # A table row is spoken as one sentence-like run: "cell, cell, cell".
            if row and is_speakable(", ".join(row)):
                yield Block("prose", ", ".join(row), markup=escape(", ".join(row)))
            row = None
        elif kind == "inline":
            spoken, markup = _inline_text(token.children or [], found)
            if not spoken:
                continue
            if row is not None:
                row.append(spoken)
            elif heading is not None:
                found["heading"] += 1
                # Headings nested in quotes or lists are content, not structure.
                top_level = heading.level == 0
                yield Block("heading" if top_level else "label", spoken, int(heading.tag[1:]), markup)
            elif is_speakable(spoken):
                yield Block("prose", spoken, markup=markup)


# Inline markers kept on a read-along page, as the XHTML element each becomes.
_EMPHASIS = {"em": "em", "strong": "strong", "s": "s"}


def _inline_text(children: Sequence[Token], found: Counter[str]) -> tuple[str, str]:
    """The words of an inline run (markers, link targets, images, refs
    dropped), and the same run as inline XHTML with its emphasis kept."""
    parts: list[str] = []
    markup: list[str] = []
    after_drop = False
    for child in children:
        kind = child.type
        if kind in _TEXT_TOKENS:
            content = child.content
            if after_drop and content.startswith(_CLOSING_PUNCTUATION) and parts:
                parts[-1] = parts[-1].rstrip()
                markup[-1] = markup[-1].rstrip()
            parts.append(content)
            markup.append(f"<code>{escape(content)}</code>" if kind == "code_inline" else escape(content))
            after_drop = False
        elif kind in ("softbreak", "hardbreak"):
            parts.append(" ")
            markup.append(" ")
        elif kind == "html_inline":
            # Tags vanish and the text between them stays; a <br> still
            # separates the words on either side.
            if _is_break_tag(child.content):
                parts.append(" ")
                markup.append(" ")
        elif kind in ("image", "footnote_ref"):
            if kind == "image":
                found["image"] += 1
            after_drop = True
        elif kind.endswith(("_open", "_close")) and kind.rpartition("_")[0] in _EMPHASIS:
            # Nothing to speak; on a page, the emphasis.
            name, _, end = kind.rpartition("_")
            markup.append(f"<{'/' if end == 'close' else ''}{_EMPHASIS[name]}>")
        # links carry only markup: their text stays, their targets go.
    return collapse("".join(parts)), collapse("".join(markup))


def _is_break_tag(tag: str) -> bool:
    """`<br>`, `<br/>`, `<BR />`; not `<brand>`."""
    return tag[:3].lower() == "<br" and not tag[3:4].isalnum()


# --- chapters -------------------------------------------------------------


def _title_heading(blocks: list[Block]) -> Block | None:
    """The single h1 that opens the document above lower headings, if any.

    Such an h1 names the book, so chapters start one level down.
    """
    headings = [block for block in blocks if block.kind == "heading"]
    h1s = [block for block in headings if block.level == 1]
    if len(h1s) != 1 or blocks[0] is not h1s[0]:
        return None
    return h1s[0] if any(block.level > 1 for block in headings) else None


def _sections(blocks: list[Block], name: str) -> list[Section]:
    levels = [block.level for block in blocks if block.kind == "heading"]
    if not levels:
        # No headings: one chapter named after the file.
        section = Section(title_from_name(name))
        for block in blocks:
            section.add(block.text, prose=block.kind == "prose", markup=block.markup)
        return [section]
    chapter_level = min(levels)
    sections = [Section(None)]  # text before the first chapter heading
    for block in blocks:
        if block.kind == "heading" and block.level == chapter_level:
            sections.append(Section(block.text))
        else:
            # Deeper headings ("The Storm") are spoken as their own paragraph,
            # but do not by themselves make a chapter worth keeping.
            sections[-1].add(block.text, prose=block.kind == "prose", markup=block.markup)
    return sections
