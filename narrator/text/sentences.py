"""Where a sentence ends: one definition for cutting text (the messages sent
to a service, the embedded server's generations) and for breaking captions.

A stop ends a sentence unless it belongs to its word: a title before a name
("Dr. Reed", "St. Ives"), a common abbreviation ("e.g.", "i.e.", "a.m.",
"No. 5"), an initial ("A. Tester"); a decimal point has no space after it;
initials run together ("C.S. Lewis") too; and a stop before a word in lower
case ends nothing: an ellipsis trailing off, a quoted question before its
speaker ("Are you sure?" she asked), an abbreviation no list holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# . ! ? and the ellipsis end a sentence before whitespace; the danda, the
# double danda and the CJK full stops end one even with no space after them.
STOPS = ".!?\u2026"
UNSPACED_STOPS = "\u0964\u0965\u3002\uff01\uff1f"
# Closing quotes and brackets stay with the sentence they close: `end."` `(end!)` `好！」`.
CLOSERS = "\"'\u201d\u2019\u00bb\u203a)]}\u300d\u300f\uff09\u3011\u300b\u3009"

_CLOSING = f"[{re.escape(CLOSERS)}]*"
# A sentence's end in running text, with the whitespace after it.
SENTENCE_END = re.compile(rf"[{re.escape(STOPS)}]{_CLOSING}\s+|[{UNSPACED_STOPS}]{_CLOSING}\s*")
# A word that ends a sentence (unless `is_abbreviation` says its stop is its own).
ENDS_SENTENCE = re.compile(rf"[{re.escape(STOPS)}{UNSPACED_STOPS}]{_CLOSING}$")

# Words whose full stop is their own: titles, which a name always follows, and
# abbreviations that run on inside a sentence far more often than they end one.
TITLES = frozenset({"mr", "mrs", "ms", "mx", "messrs", "dr", "prof", "st", "mt", "ft", "sr", "jr", "fr",
                    "rev", "hon", "gen", "col", "capt", "lt", "sgt", "cmdr", "gov", "sen", "rep"})
ABBREVIATIONS = TITLES | frozenset({"e.g", "i.e", "a.m", "p.m", "vs", "cf", "approx", "ca", "viz"})
# Their stop is their own before a number only ("No. 5", "Fig. 3"; but "She said no. Then").
NUMBERING = frozenset({"no", "nos", "vol", "vols", "fig", "figs", "ch", "pp"})
_OPENERS = "\"'\u201c\u2018\u00ab\u2039([{"
_WORD_BEFORE = re.compile(r"\S+$")
_LONGEST_ABBREVIATION = 12  # a longer word before a stop is no abbreviation: no need to look further back


def is_abbreviation(word: str, following: str = "") -> bool:
    """Whether the full stop ending `word` belongs to it: a known abbreviation
    ("Dr.", "e.g."), in any case, an initial ("A."), or a numbering word
    ("No.") when the text `following` it starts with a digit."""
    if not word.endswith("."):
        return False
    stem = word[:-1].lstrip(_OPENERS).lower()
    initial = len(stem) == 1 and stem.isalpha() and word[-2].isupper()
    # Initials run together ("C.S.", "J.R.R.", "U.S."): a letter before every stop.
    initials = "." in stem and all(len(part) == 1 and part.isalpha() for part in stem.split("."))
    return initial or initials or stem in ABBREVIATIONS or (stem in NUMBERING and following[:1].isdigit())


def ends_sentence(word: str) -> bool:
    """Whether a word ends its sentence: a stop, closers after it, and not an abbreviation's own."""
    return bool(ENDS_SENTENCE.search(word)) and not is_abbreviation(word)


def _word_before(text: str, end: int) -> str:
    """The word ending at `end`, or "" when it is longer than any abbreviation."""
    word = _WORD_BEFORE.search(text, max(end - _LONGEST_ABBREVIATION, 0), end)
    whole = word is not None and (word.start() == 0 or text[word.start() - 1].isspace())
    return word.group() if word is not None and whole else ""


def sentence_ends(text: str, start: int = 0, end: int | None = None) -> Iterator[int]:
    """Where each sentence in text[start:end] ends (after the whitespace that follows it)."""
    for match in SENTENCE_END.finditer(text, start, len(text) if end is None else end):
        following = text[match.end():match.end() + 1]
        if is_abbreviation(_word_before(text, match.start() + 1), following):
            continue
        if following.islower():
            # The sentence goes on: an ellipsis trailing off, a quoted question before its speaker
            # (`"Are you sure?" she asked.`), an abbreviation no list holds ("etc. were sold").
            continue
        yield match.end()
