"""Plain text to Book: blank-line paragraphs, chapters at standalone heading lines.

Also home to the helpers both parsers share (title from file name, whitespace
collapsing, the final chapter assembly and the no-prose error), so the two
formats agree on those rules by construction.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePath

from narrator.errors import DocumentError
from narrator.model import Book, Chapter

# --- shared helpers -------------------------------------------------------


def collapse(text: str) -> str:
    """Every run of whitespace (including newlines, NBSP) to one space; trimmed."""
    return " ".join(text.split())


_TAG = re.compile(r"<[^<>]*>")


def without_tags(markup: str) -> str:
    """The text of inline markup or SSML: its tags out, its character references read."""
    return html.unescape(_TAG.sub("", markup))


def is_speakable(text: str) -> bool:
    """A paragraph with no letter or digit ("* * *", "---", "…") says nothing."""
    return any(char.isalnum() for char in text)


def title_from_name(name: str) -> str:
    """`my_first-book.md` -> `My First Book`; existing capitals are kept (NASA)."""
    words = re.split(r"[\s_\-]+", PurePath(name).stem)
    title = " ".join(word[:1].upper() + word[1:] for word in words if word)
    return title or "Untitled"


@dataclass
class Section:
    """A chapter being built. `title` None means "before the first heading"."""

    title: str | None
    paragraphs: list[str] = field(default_factory=list)
    has_prose: bool = False
    markup: list[str] = field(default_factory=list)  # each paragraph as inline XHTML, if the reader keeps it

    def add(self, paragraph: str, prose: bool = True, markup: str | None = None) -> None:
        self.paragraphs.append(paragraph)
        self.has_prose = self.has_prose or prose
        if markup is not None:
            self.markup.append(markup)


def describe(found: Counter[str]) -> str:
    """`Counter({"heading": 2, "image": 1})` -> "found 2 headings and 1 image"."""
    parts = [f"{count} {kind}{'' if count == 1 else 's'}" for kind, count in found.items() if count]
    if not parts:
        return "the document is empty"
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"found {listed}, but no paragraphs"


def assemble_book(
    name: str, title: str, author: str | None, sections: list[Section], found: Counter[str]
) -> Book:
    """Drop sections without prose; an untitled leading section takes the book title."""
    chapters = tuple(
        Chapter(section.title or title, tuple(section.paragraphs),
                markup=tuple(section.markup) if len(section.markup) == len(section.paragraphs) else ())
        for section in sections
        if section.has_prose
    )
    if not chapters:
        raise DocumentError(f"{name}: no prose to narrate ({describe(found)})")
    return Book(title=title, author=author, chapters=chapters)


# --- chapter headings -----------------------------------------------------

_UNITS = "one two three four five six seven eight nine"
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety"
_UNIT_ORDINALS = "first second third fourth fifth sixth seventh eighth ninth"
_TEEN_ORDINALS = (
    "tenth eleventh twelfth thirteenth fourteenth fifteenth sixteenth seventeenth "
    "eighteenth nineteenth"
)
_TENS_ORDINALS = "twentieth thirtieth fortieth fiftieth sixtieth seventieth eightieth ninetieth"


def _alternatives(words: str) -> str:
    # Longest first so "seventeen" is not matched as "seven" + leftovers.
    return "|".join(sorted(words.split(), key=len, reverse=True))


_SIMPLE_WORDS = " ".join([_TEENS, _UNITS, _TEEN_ORDINALS, _UNIT_ORDINALS, _TENS_ORDINALS])
# "Twenty", "Twenty-One", "twenty one", "Twenty-First"; then the one-word rest.
_COMPOUND_WORD = (
    rf"(?:{_alternatives(_TENS)})(?:[\s-]+(?:{_alternatives(_UNITS + ' ' + _UNIT_ORDINALS)}))?"
)
_NUMBER_WORD = rf"(?:{_COMPOUND_WORD}|{_alternatives(_SIMPLE_WORDS)})"
# Strict Roman numerals (the lookahead forbids the empty match), so a word like
# "Chapter mild" is not mistaken for one.
_ROMAN = r"(?=[mdclxvi])m{0,4}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
_NUMBER = rf"(?:\d+|{_ROMAN}|{_NUMBER_WORD})"
# A subtitle needs a separator ("Chapter 7: The Road"); without one the line
# must end at the number, so "Chapter 7 was the best part." is prose.
_SUBTITLE = r"(?:\s*[:.\-\u2013\u2014]\s*\S.*|\.)?"
_HEADING = re.compile(
    rf"(?:(?:chapter|part|book)\s+{_NUMBER}|prologue|epilogue|preface|interlude|afterword)"
    rf"{_SUBTITLE}",
    re.IGNORECASE,
)
# Real headings are short; a long line matching the pattern is a sentence.
_HEADING_MAX_CHARS = 100


def is_chapter_heading(line: str) -> bool:
    line = collapse(line)
    return len(line) <= _HEADING_MAX_CHARS and _HEADING.fullmatch(line) is not None


# --- parsing --------------------------------------------------------------


def _blocks(text: str) -> list[list[str]]:
    """Groups of consecutive non-blank lines (each stripped)."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            current.append(line.strip())
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def parse_text(text: str, name: str) -> Book:
    """Plain text to Book. Title from the file name; no author."""
    title = title_from_name(name)
    found: Counter[str] = Counter()
    first = Section(None)
    sections = [first]
    for lines in _blocks(text):
        if len(lines) == 1 and is_chapter_heading(lines[0]):
            found["chapter heading"] += 1
            sections.append(Section(collapse(lines[0])))
            continue
        paragraph = collapse(" ".join(lines))
        if is_speakable(paragraph):
            sections[-1].add(paragraph)
        else:
            found["wordless paragraph"] += 1
    if len(sections) == 1:
        # No headings at all: the single chapter is named after the file.
        first.title = title
    return assemble_book(name, title, None, sections, found)
