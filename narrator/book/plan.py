"""A book planned: its chosen chapters cut into segments, each with the key
its audio is cached under. What a run would send, or find."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from narrator.book.cache import SegmentCache
from narrator.errors import DocumentError
from narrator.model import Book, Segment
from narrator.text.lexicon import Lexicon, say
from narrator.text.segments import Piece, Voicing, plan
from narrator.text.select import select_chapters
from narrator.text.voices import Voices, runs


@dataclass(frozen=True)
class PlannedBook:
    book: Book
    segments: list[Segment]
    keys: list[str]
    # Characters each segment's messages carry on the wire: what the service
    # bills, and so the one count budgets, reports, estimates and quota checks use.
    sent: list[int]
    whole: Book | None = None  # the book before chapters were chosen
    source: Path | None = None  # the document it was read from

    @property
    def characters(self) -> int:
        return sum(self.sent)

    def characters_of(self, segments: list[Segment]) -> int:
        return sum(self.sent[s.index] for s in segments)

    def unfinished(self, cache: SegmentCache) -> list[Segment]:
        """The segments the cache has no whole entry for (sizes checked, not digests)."""
        return [s for s in self.segments if cache.get(self.keys[s.index], verify=False) is None]


def plan_book(book: Book, *, chapters: str | None, speak_titles: bool, key: Callable[[str, str | None], str],
              sent: Callable[[str], int], lexicon: Lexicon | None = None, ssml: bool = False,
              voices: Voices | None = None, narrator: str | None = None) -> PlannedBook:
    """The chapters chosen (`chapters` as --chapters gives it, else the prose)
    cut into segments, each as the `lexicon` has it said (SSML <phoneme> tags
    where `ssml`), keyed by `key(text sent)`, carrying `sent(text sent)`
    characters on the wire: an entry changes the keys of the segments that
    hold it, and only those. With `voices`, paragraphs are cut into runs by
    who speaks them, and each segment is one voice's (its key says whose)."""
    chosen = select_chapters(book, chapters)
    voicing = _voicing(book, chosen, voices, narrator) if voices else None
    segments = [_said(s, lexicon, ssml) for s in plan(chosen, speak_titles=speak_titles, voicing=voicing)]
    if not segments:
        raise DocumentError(f"{book.title}: the chapters chosen hold nothing to speak")
    return PlannedBook(chosen, segments, [key(s.sent_text, s.voice) for s in segments],
                       [sent(s.sent_text) for s in segments], whole=book)


def _voicing(whole: Book, chosen: Book, voices: Voices, narrator: str | None) -> Voicing | None:
    """Who speaks each run of a chosen chapter (None: the `narrator`, also
    where a voice is the narrator's own); None when one voice speaks the book."""
    if not (voices.splits or voices.chapters):
        return None
    # Chapters are numbered in the whole book, as `narrator chapters` lists them.
    numbers = [next(n for n, c in enumerate(whole.chapters, 1) if c is chapter)
               for chapter in chosen.chapters]

    def voicing(index: int, paragraphs: list[str], title: bool) -> list[Piece]:
        chapter = voices.of_chapter(numbers[index])
        if chapter is not None:  # a whole chapter in its voice, quotes and all
            return [(p, None if chapter == narrator else chapter, True) for p in paragraphs]
        # The narrator's voice, named again for a character, is the narrator's: one run, one key.
        return runs(paragraphs, voices, None, title=title, default=narrator)

    return voicing


def _said(segment: Segment, lexicon: Lexicon | None, ssml: bool) -> Segment:
    if not lexicon:
        return segment
    said = tuple(say(paragraph, lexicon, ssml=ssml) for paragraph in segment.paragraphs)
    changed = any(s.text != p for s, p in zip(said, segment.paragraphs))
    return replace(segment, said=said) if changed else segment
