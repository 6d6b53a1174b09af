"""Voices against the real embedded server, each a distinct espeak-ng voice:
quoted words reach the dialogue or character voice's sessions and no
narration word does, the captions stay in reading order, and changing one
character's voice sends only that character's runs again."""

from __future__ import annotations

import json
import zipfile
from collections import Counter

from narrator.model import Book, Chapter
from narrator.server.app import EmbeddedServer
from narrator.settings import NarrateOptions
from narrator.text.voices import Voices
from tests.helpers import run, spoken_words
from tests.narrating import narrate_book
from tests.test_cli import narrator

BOOK = Book("Salt", None, (
    Chapter("One", (
        "The harbour was quiet. \u201cCome home,\u201d said Ada. \u201cBring the salt.\u201d",
        "Tom looked up. \u201cWhere is it?\u201d he asked.",
        "\u201cIt was long ago,",
        "\u201cand nobody remembers it now,\u201d said Ada.",
    )),
    Chapter("Two", ("The end came slowly, and nobody spoke of it again.",)),
))


def narrate(tmp_path, name, voices, chapter_files=False):
    async def go():
        async with EmbeddedServer(api_key="voices-key") as server:
            options = NarrateOptions(tmp_path / name, provider="elevenlabs", endpoint=server.url,
                                     voice="en-us", output_format="mp3_22050_32", progress=False,
                                     captions=("json",), voices=voices, chapter_files=chapter_files)
            return await narrate_book(BOOK, "salt", options), server.stats
    return run(go())


def heard_by(stats) -> dict[str, list[str]]:
    """Each voice's words, as the server heard them."""
    words: dict[str, list[str]] = {}
    for voice, text in stats.heard:
        words.setdefault(voice, []).extend(text.split())
    return words


VOICES = Voices(dialogue="de", characters=(("Ada", "en-gb"),), chapters=((2, 2, "es"),))


def test_quotes_reach_their_voices_and_narration_stays_with_the_narrator(tmp_path, monkeypatch):
    monkeypatch.setenv("ELEVENLABS_API_KEY", "voices-key")
    result, stats = narrate(tmp_path, "voiced", VOICES)
    heard = heard_by(stats)
    assert set(heard) == {"en-us", "de", "en-gb", "es"}
    assert " ".join(heard["es"]) == "Two. The end came slowly, and nobody spoke of it again."  # chapter 2
    ada = " ".join(heard["en-gb"])
    assert "Come home,\u201d" in ada and "Bring the salt." in ada
    assert "It was long ago," in ada and "and nobody remembers it now,\u201d" in ada  # one quote, one voice
    assert " ".join(heard["de"]) == "\u201cWhere is it?\u201d"  # he asked: no name, the dialogue voice
    # The narration, attributions included, and nothing else (runs are sent in any order); the two
    # runs "said Ada." are the same words in the same voice: sent once, heard twice in the book.
    narration = "One. The harbour was quiet. said Ada. Tom looked up. he asked."
    assert Counter(heard["en-us"]) == Counter(narration.split())
    # Every word once, in reading order, paragraph ends where the paragraphs end.
    words = json.loads(result.captions["json"].read_text())["words"]
    assert [w["text"] for w in words] == spoken_words(BOOK)
    ends = [i for i, w in enumerate(words) if w["paragraph_end"]]
    lengths = [len(p.split()) for c in BOOK.chapters for p in (c.title + ".", *c.paragraphs)]
    assert ends == [sum(lengths[:k + 1]) - 1 for k in range(len(lengths))]
    assert all(a["start"] <= b["start"] for a, b in zip(words, words[1:]))
    assert result.segments > 6  # the paragraphs were cut into runs


def test_changing_one_characters_voice_sends_only_that_characters_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("ELEVENLABS_API_KEY", "voices-key")
    first, _ = narrate(tmp_path, "book", VOICES)
    again, stats = narrate(tmp_path, "book", Voices(dialogue="de", characters=(("Ada", "fr"),),
                                                    chapters=VOICES.chapters))
    assert again.reused_segments == first.segments - 3  # Ada's three runs
    assert {voice for voice, _ in stats.heard} == {"fr"}
    assert Counter(v for v, _ in stats.heard)["fr"] >= 3


def test_a_chapter_in_another_voice_and_a_voices_file_from_the_command_line(tmp_path):
    (tmp_path / "voices.toml").write_text('narrator = "en-us"\ndialogue = "de"\n[chapters]\n"2" = "fr"\n')
    (tmp_path / "book.md").write_text("# Salt\n\n## One\n\n\u201cGo,\u201d she said.\n\n## Two\n\nThe end.\n")
    done = narrator("narrate", tmp_path / "book.md", "-o", tmp_path / "out",
                    "--voices", tmp_path / "voices.toml", "--captions", "json", "--read-along")
    assert done.returncode == 0, done.stderr
    words = json.loads((tmp_path / "out" / "book.json").read_text())["words"]
    assert [w["text"] for w in words] == ["One.", "\u201cGo,\u201d", "she", "said.", "Two.", "The", "end."]
    # The read-along page is the paragraph whole again, though two voices spoke it.
    with zipfile.ZipFile(tmp_path / "out" / "book.read-along.epub") as book:
        page = book.read("OEBPS/text/chapter-001.xhtml").decode()
    assert '<p><span id="s2">\u201cGo,\u201d she said.</span></p>' in page
    bad = narrator("narrate", tmp_path / "book.md", "-o", tmp_path / "bad", "--voices", tmp_path / "book.md")
    assert bad.returncode == 3 and len(bad.stderr.strip().splitlines()) == 1


def test_a_set_paragraph_pause_comes_between_paragraphs_not_between_runs(tmp_path):
    from narrator.book.layout import Pauses
    from tests.narrating import narrate_now

    options = NarrateOptions(tmp_path, progress=False, captions=("json",), voices=VOICES,
                             pauses=Pauses(paragraph=1.0))
    result = narrate_now(BOOK, "paused", options)
    words = json.loads(result.captions["json"].read_text())["words"]
    gaps = [(a["paragraph_end"], b["start"] - a["end"]) for a, b in zip(words, words[1:])]
    assert min(gap for ends, gap in gaps if ends) >= 1.0
    assert max(gap for ends, gap in gaps if not ends) < 0.9  # no paragraph pause at a change of voice ...
    come = next(i for i, w in enumerate(words) if w["text"] == "\u201cCome")
    assert words[come]["start"] - words[come - 1]["end"] > 0.15  # ... and the sentence's own pause kept


def test_a_chapter_voice_speaks_the_whole_chapter_quotes_and_all(tmp_path):
    from narrator.runner import plan_book

    voices = Voices(dialogue="de", characters=(("Ada", "en-gb"),), chapters=((1, 1, "es"),))
    planned = plan_book(BOOK, NarrateOptions(tmp_path, voice="en-us", voices=voices))
    first = [s for s in planned.segments if s.chapter == 0]
    assert {s.voice for s in first} == {"es"} and all(s.ends is None for s in first)
    assert {s.voice for s in planned.segments if s.chapter == 1} == {None}  # chapter 2: the narrator
