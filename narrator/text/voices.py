"""Who speaks each run of a book: the narrator, a dialogue voice for quoted
speech, a voice per character, a voice per chapter.

A voices file (TOML, or a `[voices]` table in a job file):

    narrator = "NARRATOR_ID"
    dialogue = "DIALOGUE_ID"        # quoted speech with no known speaker
    [characters]
    Ada = "ADA_ID"                  # a quote attributed to Ada
    [chapters]
    "12" = "EPILOGUE_ID"            # a whole chapter, or "3-5", by `narrator chapters` numbers
    [quotes]
    "Come home" = "Ada"             # a quote beginning with these words is Ada's (or "narrator", "dialogue")

A paragraph whose voices change is cut into runs at the edges of its quotes
(moved to the nearest space, so no word is cut in two); each run is spoken
by its voice, and the runs are joined in reading order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from narrator.errors import ConfigError
from narrator.problems import read_toml
from narrator.text.quotes import Quote, find_quotes, quoted_text
from narrator.text.segments import Piece

_RANGE = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")
_KEYS = {"narrator", "dialogue", "characters", "chapters", "quotes"}


@dataclass(frozen=True)
class Voices:
    narrator: str | None = None  # None: --voice, else the provider's default
    dialogue: str | None = None  # None: quotes with no known speaker stay with the narrator
    characters: tuple[tuple[str, str], ...] = ()  # name -> voice
    chapters: tuple[tuple[int, int, str], ...] = ()  # first, last chapter number (1-based) -> voice
    quotes: tuple[tuple[str, str], ...] = ()  # a quote's first words -> a character, "narrator" or "dialogue"

    @property
    def splits(self) -> bool:
        """Whether quotes get voices of their own (else paragraphs are never cut)."""
        return bool(self.dialogue or self.characters)

    def of_chapter(self, number: int) -> str | None:
        """The voice of chapter `number` (1-based, the book's own numbering), if one is set."""
        return next((voice for first, last, voice in self.chapters if first <= number <= last), None)


def read_voices(path: Path) -> Voices:
    return voices_from_table(read_toml(path, "the voices file"), str(path))


def voices_from_table(table: dict[str, object], where: str) -> Voices:
    """A voices table checked: one line naming `where` and the key for anything wrong."""
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown voices key {unknown[0]!r}: a voices table holds "
                          "narrator, dialogue, [characters], [chapters] and [quotes]")
    for key in ("narrator", "dialogue"):
        if key in table and not _is_text(table[key]):
            raise ConfigError(f"{where}: {key} must be a voice id (a text)")
    characters = _pairs(table, "characters", where)
    quotes = _pairs(table, "quotes", where)
    names = {name for name, _ in characters} | {"narrator", "dialogue"}
    for start, who in quotes:
        if who not in names:
            raise ConfigError(f"{where}: [quotes] {start!r} = {who!r}: not a character in [characters], "
                              "nor narrator or dialogue")
    chapters = tuple((*_chapter_range(key, where), voice) for key, voice in _pairs(table, "chapters", where))
    return Voices(_text(table.get("narrator")), _text(table.get("dialogue")), characters, chapters, quotes)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) else None


def _pairs(table: dict[str, object], key: str, where: str) -> tuple[tuple[str, str], ...]:
    section = table.get(key, {})
    if not isinstance(section, dict) or not all(_is_text(v) and str(k).strip() for k, v in section.items()):
        raise ConfigError(f"{where}: [{key}] must be a table of texts, e.g. [{key}] then "
                          "\"Ada\" = \"VOICE_ID\"")
    return tuple((str(name).strip(), str(value).strip()) for name, value in section.items())


def _chapter_range(key: str, where: str) -> tuple[int, int]:
    match = _RANGE.fullmatch(key)
    first, last = (int(match.group(1)), int(match.group(2) or match.group(1))) if match else (0, 0)
    if not 1 <= first <= last:
        raise ConfigError(f"{where}: [chapters] {key!r} is not a chapter number or range such as \"12\" or "
                          "\"3-5\" (as `narrator chapters` numbers them)")
    return first, last


# --- runs -------------------------------------------------------------------

def runs(paragraphs: Sequence[str], voices: Voices, narrator: str | None, *,
         title: bool = False, default: str | None = None) -> list[Piece]:
    """The chapter's paragraphs as runs, each with its voice: `narrator`
    (the chapter's voice) for narration, the title (first, when `title`)
    included; quotes in the dialogue voice or their speaker's. A voice that
    is `default` (the book's narrator) is written None, as the narrator's
    is. Adjacent runs of one voice are one run; every word is in exactly one."""
    narrator = None if narrator == default else narrator
    prose = list(paragraphs[1:] if title else paragraphs)
    quotes = find_quotes(prose, [name for name, _ in voices.characters]) if voices.splits else []
    by_paragraph: dict[int, list[tuple[int, int, str | None]]] = {}
    for quote in quotes:
        voice = _quote_voice(prose, quote, voices, narrator)
        voice = None if voice == default else voice
        for number, start, end in quote.parts:
            by_paragraph.setdefault(number, []).append((start, end, voice))
    result: list[Piece] = [(paragraphs[0], narrator, True)] if title else []
    for number, text in enumerate(prose):
        result += _paragraph_runs(text, by_paragraph.get(number, []), narrator)
    return result


def _quote_voice(prose: Sequence[str], quote: Quote, voices: Voices, narrator: str | None) -> str | None:
    characters = dict(voices.characters)
    words = quoted_text(prose, quote)
    forced = next((who for start, who in voices.quotes if words.startswith(start)), None)
    who = forced or quote.speaker
    if who == "narrator":
        return narrator
    if who in characters:
        return characters[who]
    return voices.dialogue or narrator


def _paragraph_runs(text: str, quoted: list[tuple[int, int, str | None]],
                    narrator: str | None) -> list[Piece]:
    """The paragraph cut at its quotes' edges, moved out to the nearest spaces."""
    cuts: list[tuple[int, int, str | None]] = []
    for start, end, voice in sorted(quoted):
        start = text.rfind(" ", 0, start) + 1
        space = text.find(" ", end)
        end = len(text) if space < 0 else space
        if cuts and start < cuts[-1][1]:
            start = cuts[-1][1]  # two quotes in one word: the first one's voice has it
        if start < end:
            cuts.append((start, end, voice))
    pieces: list[tuple[str, str | None]] = []
    at = 0
    for start, end, voice in cuts:
        pieces += [(text[at:start], narrator), (text[start:end], voice)]
        at = end
    pieces.append((text[at:], narrator))
    merged: list[tuple[str, str | None]] = []
    for piece, voice in ((p.strip(), v) for p, v in pieces):
        if not piece:
            continue
        if merged and not any(c.isalnum() for c in piece):
            voice = merged[-1][1]  # nothing to say ("…", a dash): it stays with the run before it
        if merged and merged[-1][1] == voice:
            merged[-1] = (merged[-1][0] + " " + piece, voice)
        else:
            merged.append((piece, voice))
    return [(piece, voice, i == len(merged) - 1) for i, (piece, voice) in enumerate(merged)]
