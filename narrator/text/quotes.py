"""Quoted speech in a chapter: where each quote is, and who says it.

Quotation marks: straight double quotes, curly double quotes (“ ”), German
„ “, guillemets « », and curly single quotes ‘ ’ where they cannot be
apostrophes (‘ after a space or an opening bracket opens; ’ closes only an
open single quote, and only before a space, punctuation or the end:
"don’t" and "’tis" stay words). Quotes inside a quote belong to it.

A quote that runs over several paragraphs stays one quote: its paragraphs
end open and the next begins with an opening mark again, as English prose
writes it. A quote never closed (an unbalanced mark) is not a quote: its
text stays with the narrator, and nothing is lost.

Who says it: a speech verb and a name next to the quote, in the narration
right after it ("…," said Ada / "…," Ada asked) or right before it (Ada
said, "…" / asked Ada: "…"); else the speaker of the quote before it in the
same paragraph. Only names the caller knows count (the characters of a
voices file); a quote with no known name is dialogue.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

# Speech verbs of attribution, in the past tense and the present.
SPEECH_VERBS = (
    "said", "says", "asked", "asks", "replied", "replies", "answered", "answers", "cried", "cries",
    "called", "calls", "shouted", "shouts", "whispered", "whispers", "muttered", "mutters", "added", "adds",
    "continued", "continues", "began", "begins", "exclaimed", "exclaims", "told", "tells", "went on",
    "murmured", "murmurs", "insisted", "insists", "agreed", "agrees", "snapped", "snaps", "yelled", "yells",
    "laughed", "laughs", "sighed", "sighs", "demanded", "demands", "explained", "explains", "wondered",
)
_OPENERS = {"\"": "\"", "\u201c": "\u201d", "\u201e": "\u201c", "\u00ab": "\u00bb", "\u2018": "\u2019"}
_BEFORE_OPENING = " \t\n([{\u2014\u2013-"  # what may come right before an opening mark


@dataclass(frozen=True)
class Quote:
    """A quote: its parts, (paragraph, start, end) with the marks included,
    one per paragraph it spans; and who says it (a known name), if found."""

    parts: tuple[tuple[int, int, int], ...]
    speaker: str | None = None

    @property
    def first(self) -> tuple[int, int, int]:
        return self.parts[0]


def find_quotes(paragraphs: Sequence[str], names: Sequence[str] = ()) -> list[Quote]:
    """Every quote of the paragraphs (one chapter), in order, attributed to
    one of `names` where a speech verb and the name stand next to it, or
    else to the speaker of the quote before it in the same paragraph."""
    found: list[Quote] = []
    for quote in _marked(paragraphs):
        speaker = _speaker(paragraphs, quote, names)
        before = found[-1] if found else None
        if speaker is None and before is not None and before.parts[-1][0] == quote.first[0]:
            speaker = before.speaker  # a paragraph is one speaker's turn: "…," said Ada. "…"
        found.append(Quote(quote.parts, speaker))
    return found


def _marked(paragraphs: Sequence[str]) -> list[Quote]:
    quotes: list[Quote] = []
    pending: list[tuple[int, int, int]] = []  # the parts of a quote left open by the paragraphs before
    pending_closer: str | None = None
    for number, text in enumerate(paragraphs):
        if not (pending and _continues(text, pending_closer)):
            pending, pending_closer = [], None  # an open quote not taken up again was narration
        following = paragraphs[number + 1] if number + 1 < len(paragraphs) else ""
        ignored: set[int] = set()  # opening marks that turned out to open nothing (‘em, a stray ")
        while True:
            closed, opened = _scan(text, ignored)
            if opened is None or _continues(following, opened[0]):
                break
            ignored.add(opened[1])  # never closed, and not a quote going on: look again without it
        for start, end in closed:
            part = (number, start, end)
            quotes.append(Quote((*pending, part) if pending and start == 0 else (part,)))
            pending, pending_closer = [], None
        if opened is not None:  # it goes on in the next paragraph
            part = (number, opened[1], len(text))
            pending = [*pending, part] if pending and opened[1] == 0 else [part]
            pending_closer = opened[0]
        else:
            pending, pending_closer = [], None
    return quotes


def _scan(text: str, ignored: set[int]) -> tuple[list[tuple[int, int]], tuple[str, int] | None]:
    """The quotes closed in a paragraph, (start, end), and the one left open
    at its end: its closing mark and where it opened."""
    closed: list[tuple[int, int]] = []
    opened: tuple[str, int] | None = None
    for i, mark in enumerate(text):
        if opened is None:
            if mark in _OPENERS and i not in ignored and _opens(text, i):
                opened = (_OPENERS[mark], i)
        elif mark == opened[0] and _closes(text, i, mark):
            closed.append((opened[1], i + 1))
            opened = None
    return closed, opened


def _continues(text: str, closer: str | None) -> bool:
    """Whether a paragraph takes up a quote left open: it starts with that quote's opening mark."""
    return closer is not None and text[:1] in _OPENERS and _OPENERS[text[:1]] == closer


def _opens(text: str, i: int) -> bool:
    mark = text[i]
    before = text[i - 1] if i else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    if mark == "\u2018" or mark == "\"":
        return (before in _BEFORE_OPENING or before in _OPENERS) and not after.isspace()
    return not after.isspace() or mark == "\u00ab"


def _closes(text: str, i: int, mark: str) -> bool:
    after = text[i + 1] if i + 1 < len(text) else " "
    if mark in ("\u2019", "\""):
        # An apostrophe has a letter after it (don’t); a closing mark has a space or punctuation.
        return not after.isalnum()
    return True


def _speaker(paragraphs: Sequence[str], quote: Quote, names: Sequence[str]) -> str | None:
    if not names:
        return None
    number, _, end = quote.parts[-1]
    after = paragraphs[number][end:]
    first, start, _ = quote.first
    before = paragraphs[first][:start]
    for name in sorted(names, key=len, reverse=True):
        if _after_pattern(name).match(after) or _before_pattern(name).search(before):
            return name
    return None


_VERBS = "|".join(re.escape(verb) for verb in SPEECH_VERBS)


@functools.lru_cache(maxsize=256)
def _after_pattern(name: str) -> re.Pattern[str]:
    """Right after a quote: `, said Ada` / ` Ada asked` (a comma, stop or dash may come first)."""
    who = re.escape(name)
    return re.compile(rf"\s*[,.?!\u2014\u2013-]?\s*(?:(?:{_VERBS})\s+{who}\b|{who}\s+(?:{_VERBS})\b)")


@functools.lru_cache(maxsize=256)
def _before_pattern(name: str) -> re.Pattern[str]:
    """Right before a quote: `Ada said, ` / `asked Ada: ` at the end of the narration."""
    who = re.escape(name)
    return re.compile(rf"(?:\b{who}\s+(?:{_VERBS})|\b(?:{_VERBS})\s+{who})[,:]?\s*$")


def quoted_text(paragraphs: Sequence[str], quote: Quote) -> str:
    """The words of a quote, without its marks: what `[quotes]` in a voices file matches."""
    marks = "".join(_OPENERS) + "".join(_OPENERS.values()) + " "
    return " ".join(paragraphs[n][start:end].strip(marks) for n, start, end in quote.parts)
