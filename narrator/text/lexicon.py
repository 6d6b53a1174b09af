"""A pronunciation lexicon: words the voice says wrong, and what to send instead.

Two forms. W3C PLS, the XML that ElevenLabs' pronunciation dictionaries
use: a `<lexeme>` holds one or more `<grapheme>`s and an `<alias>` (other
words to say) or a `<phoneme>` (a pronunciation in IPA or X-SAMPA). And a
small TOML form for people who do not write XML:

    [alias]
    "LV" = "level"
    "Dr." = "Doctor"
    [phoneme]            # alphabet = "ipa" (default) or "x-sampa" at the top
    "Nguyen" = "wɪn"

A grapheme matches whole words (runs of text between spaces, with the
punctuation around them left where it is unless the grapheme holds it, as
"Dr." does), in the case the lexicon writes it. Several graphemes may say
the same; the longest that matches wins, so "New York" beats "New".
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from narrator.errors import ConfigError
from narrator.model import Said
from narrator.problems import read_toml
from narrator.text.html import local_name, parse_xml

PLS_NS = "http://www.w3.org/2005/01/pronunciation-lexicon"
ALPHABETS = ("ipa", "x-sampa", "cmu-arpabet")


@dataclass(frozen=True)
class Entry:
    grapheme: str  # the words as written, one space between them
    alias: str | None = None  # words to say instead
    phoneme: str | None = None  # or how to say them
    alphabet: str = "ipa"
    source: str = ""  # "names.pls, lexeme 3": where it came from, for messages

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.grapheme.split())


@dataclass(frozen=True)
class Lexicon:
    entries: tuple[Entry, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.entries)

    @property
    def phonemes(self) -> tuple[Entry, ...]:
        return tuple(entry for entry in self.entries if entry.phoneme is not None)


def read_lexicons(paths: tuple[Path, ...]) -> Lexicon:
    """Every file's entries, in order: a later file's grapheme replaces an earlier one's."""
    chosen: dict[str, Entry] = {}
    for path in paths:
        for entry in _read(path):
            chosen[entry.grapheme] = entry
    return Lexicon(tuple(chosen.values()))


def _read(path: Path) -> list[Entry]:
    if path.suffix.lower() == ".toml":
        return _toml_entries(path, read_toml(path, "the lexicon"))
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the lexicon ({error.strerror or error})") from None
    return _pls_entries(path, data)


def _pls_entries(path: Path, data: bytes) -> list[Entry]:
    if b"<!ENTITY" in data:
        raise ConfigError(f"{path}: declares entities, which narrator never expands: write the words out")
    root = parse_xml(data)
    if root is None or local_name(root) != "lexicon":
        raise ConfigError(f"{path}: not a pronunciation lexicon (PLS): expected well-formed XML with a "
                          "<lexicon> root; or write the TOML form (see docs)")
    alphabet = root.get("alphabet") or "ipa"  # checked where a phoneme uses it
    entries = []
    for number, lexeme in enumerate((e for e in root if local_name(e) == "lexeme"), 1):
        where = f"{path.name}, lexeme {number}"
        graphemes = [_words(e) for e in lexeme if local_name(e) == "grapheme"]
        aliases = [_words(e) for e in lexeme if local_name(e) == "alias"]
        phonemes = [e for e in lexeme if local_name(e) == "phoneme"]
        if not any(graphemes):
            raise ConfigError(f"{path}: lexeme {number} has no <grapheme>: give the word it is for")
        if aliases and aliases[0]:
            entries += [Entry(g, alias=aliases[0], source=where) for g in graphemes if g]
        elif phonemes and _words(phonemes[0]):
            own = _alphabet(path, phonemes[0].get("alphabet") or alphabet, f"lexeme {number}")
            said = _words(phonemes[0])
            entries += [Entry(g, phoneme=said, alphabet=own, source=where) for g in graphemes if g]
        else:
            raise ConfigError(f"{path}: lexeme {number} ({graphemes[0]!r}) has no <alias> or <phoneme>: "
                              "say what to say instead")
    return entries


def _toml_entries(path: Path, table: dict[str, object]) -> list[Entry]:
    unknown = set(table) - {"alias", "phoneme", "alphabet"}
    if unknown:
        raise ConfigError(f"{path}: unknown table or key {sorted(unknown)[0]!r}: a lexicon holds [alias], "
                          "[phoneme] and alphabet")
    alphabet = table.get("alphabet", "ipa")  # checked where a phoneme uses it
    entries = []
    for kind in ("alias", "phoneme"):
        section = table.get(kind, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: {kind} must be a table, [{kind}] with \"word\" = \"...\" lines")
        for grapheme, value in section.items():
            where = f"{path.name}, [{kind}] {grapheme!r}"
            if not isinstance(value, str) or not value.split() or not grapheme.split():
                raise ConfigError(f"{path}: [{kind}] {grapheme!r} must be a word and a text to say instead")
            words = " ".join(grapheme.split())
            entries.append(Entry(words, alias=" ".join(value.split()), source=where) if kind == "alias"
                           else Entry(words, phoneme=value.strip(), alphabet=_alphabet(path, alphabet, where),
                                      source=where))
    return entries


def _words(element: etree._Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _alphabet(path: Path, value: object, where: str) -> str:
    if not isinstance(value, str) or value.lower() not in ALPHABETS:
        raise ConfigError(f"{path}: {where}: alphabet {value!r} is not one of {', '.join(ALPHABETS)}")
    return value.lower()


# --- saying a paragraph -----------------------------------------------------

_PUNCTUATION = re.compile(r"\W*")
_EDGES = re.compile(r"^\W+|\W+$")


def say(paragraph: str, lexicon: Lexicon, *, ssml: bool = False) -> Said:
    """The paragraph with the lexicon's graphemes replaced: an alias by its
    words, a phoneme (only when `ssml`) by an SSML <phoneme> tag around the
    grapheme. `counts` says, for each word of the paragraph, how many words
    the voice says for it (a tag is read, not said: its grapheme is); the
    words of one grapheme share them: the first counts them all, the others 0."""
    words = paragraph.split()
    tagged = False
    by_core = _index(lexicon)
    out: list[str] = []
    heard: list[str] = []  # the same, as the voice says it: a tag's grapheme, not the tag
    counts: list[int] = []
    i = 0
    while i < len(words):
        candidates = by_core.get(_core(words[i]), [])
        match = next((m for entry in candidates if (m := _match(words, i, entry))), None)
        if match is None:
            out.append(words[i])
            heard.append(words[i])
            counts.append(1)
            i += 1
            continue
        entry, before, after = match
        out += (before + _replacement(entry, ssml) + after).split()
        said = (before + (entry.alias or entry.grapheme) + after).split()
        heard += said
        tagged = tagged or entry.alias is None
        counts += [len(said)] + [0] * (len(entry.words) - 1)
        i += len(entry.words)
    return Said(" ".join(out), tuple(counts), " ".join(heard) if tagged else None)


@functools.lru_cache(maxsize=8)
def _index(lexicon: Lexicon) -> dict[str, list[Entry]]:
    """The entries by their first word's core, the longest graphemes first:
    made once per lexicon, not once per paragraph."""
    by_core: dict[str, list[Entry]] = {}
    for entry in sorted(lexicon.entries, key=lambda e: (-len(e.words), -len(e.grapheme))):
        by_core.setdefault(_core(entry.words[0]), []).append(entry)
    return by_core


def _core(word: str) -> str:
    """A word without the punctuation around it: what an entry is looked up by."""
    return _EDGES.sub("", word)


def _match(words: list[str], i: int, entry: Entry) -> tuple[Entry, str, str] | None:
    """The entry, and the punctuation before and after it that is not its
    own, if words[i:] start with its grapheme."""
    size = len(entry.words)
    written = words[i:i + size]
    if len(written) < size or written[1:-1] != list(entry.words[1:-1]):
        return None
    first, last = written[0], written[-1]
    start = first.find(entry.words[0])
    if start < 0 or not _PUNCTUATION.fullmatch(first[:start]):
        return None
    end = start + len(entry.words[0])
    if size == 1:
        tail = first[end:]
    elif first[end:] == "" and last.startswith(entry.words[-1]):  # nothing between a grapheme's words
        tail = last[len(entry.words[-1]):]
    else:
        return None
    return (entry, first[:start], tail) if _PUNCTUATION.fullmatch(tail) else None


def _replacement(entry: Entry, ssml: bool) -> str:
    if entry.alias is not None:
        return entry.alias
    assert ssml and entry.phoneme is not None  # refused earlier where SSML is not read
    ph = quoteattr(entry.phoneme)
    return f'<phoneme alphabet="{entry.alphabet}" ph={ph}>{escape(entry.grapheme)}</phoneme>'
