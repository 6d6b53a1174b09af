"""A pronunciation lexicon against the real embedded server: the server hears
the aliases, the captions keep the words as written, timed over the speech
of what replaced them, and only the segments that hold an entry change."""

from __future__ import annotations

import json

from narrator.model import Book, Chapter
from narrator.protocol.elevenlabs import StreamSettings
from narrator.runner import plan_book
from narrator.server.app import EmbeddedServer
from narrator.settings import NarrateOptions
from tests.helpers import run, srt_words
from tests.narrating import narrate_book
from tests.test_cli import narrator

LEXICON = """<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" xml:lang="en">
  <lexeme><grapheme>LV</grapheme><alias>level</alias></lexeme>
  <lexeme><grapheme>Qx7</grapheme><alias>the quiet harbour engine</alias></lexeme>
</lexicon>
"""
WRITTEN = Book("Notes", None, (
    Chapter("One", ("The LV was low that morning. Qx7 started at dawn, slowly.", "Nothing else was heard.")),
    Chapter("Two", ("The boats came in before the sun.",)),
))
SPOKEN = Book("Notes", None, (
    Chapter("One", ("The level was low that morning. the quiet harbour engine started at dawn, slowly.",
                    "Nothing else was heard.")),
    Chapter("Two", ("The boats came in before the sun.",)),
))


def words(result) -> list[dict]:
    return json.loads(result.captions["json"].read_text())["words"]


def test_the_server_hears_the_aliases_and_the_captions_keep_the_written_words(tmp_path, monkeypatch):
    monkeypatch.setenv("ELEVENLABS_API_KEY", "lexicon-key")
    (tmp_path / "names.pls").write_text(LEXICON)

    async def narrate(book, name, lexicons):
        async with EmbeddedServer(api_key="lexicon-key") as server:
            options = NarrateOptions(tmp_path / name, provider="elevenlabs", endpoint=server.url,
                                     voice="en-us", output_format="mp3_22050_32", progress=False,
                                     captions=("srt", "json"), lexicons=lexicons)
            return await narrate_book(book, "notes", options), server.stats

    (written, heard), (spoken, _) = run(narrate(WRITTEN, "lexicon", (tmp_path / "names.pls",))), \
        run(narrate(SPOKEN, "plain", ()))
    sent = " ".join(text for _, text in heard.heard)
    assert "level" in sent and "the quiet harbour engine" in sent
    assert "LV" not in sent and "Qx7" not in sent
    shown = [w["text"] for w in words(written)]
    assert srt_words(written.captions["srt"]) == shown  # the SRT shows the words as written too
    assert shown[:5] == ["One.", "The", "LV", "was", "low"] and "Qx7" in shown and "level" not in shown
    # The same words were sent both times, so the audio is the same: the written word takes exactly
    # the span of the words that replaced it.
    assert spoken.characters_sent == 0  # found in the cache: what decides a key is what is sent
    times = {w["text"]: (w["start"], w["end"]) for w in words(written)}
    plain = words(spoken)
    engine = [i for i, w in enumerate(plain) if w["text"] == "quiet"][0] - 1
    assert times["Qx7"] == (plain[engine]["start"], plain[engine + 3]["end"])
    assert times["LV"] == next((w["start"], w["end"]) for w in plain if w["text"] == "level")
    said = [w["text"] for w in plain]
    assert [w for w in shown if w not in ("LV", "Qx7")] == said[:2] + said[3:engine] + said[engine + 4:]


def test_an_entry_changes_the_keys_of_the_segments_that_hold_it_and_only_those(tmp_path):
    (tmp_path / "names.pls").write_text(LEXICON)
    book = Book("B", None, tuple(Chapter(f"C{n}", (f"Paragraph {n} of the book.",)) for n in range(6))
                + (Chapter("Last", ("Here the LV is named.",)),))
    plain = plan_book(book, NarrateOptions(tmp_path))
    lexicon = plan_book(book, NarrateOptions(tmp_path, lexicons=(tmp_path / "names.pls",)))
    changed = [i for i, (a, b) in enumerate(zip(plain.keys, lexicon.keys)) if a != b]
    assert [lexicon.segments[i].paragraphs for i in changed] == [("Last.", "Here the LV is named.")]
    assert lexicon.segments[changed[0]].sent == ("Last.", "Here the level is named.")


def test_a_phoneme_where_ssml_is_not_read_is_one_line_before_anything_is_made(tmp_path):
    (tmp_path / "names.toml").write_text('[phoneme]\n"Nguyen" = "wɪn"\n')
    (tmp_path / "book.md").write_text("# B\n\nAsk Nguyen.\n")
    done = narrator("narrate", tmp_path / "book.md", "-o", tmp_path / "out",
                    "--lexicon", tmp_path / "names.toml")
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        "narrator: error: names.toml, [phoneme] 'Nguyen': 'Nguyen' has a <phoneme>, which only ElevenLabs "
        "reads, and only with --ssml: give it an <alias> (words to say) instead"]
    assert not (tmp_path / "out").exists()


def test_a_job_file_takes_lexicons_beside_it(tmp_path):
    (tmp_path / "names.pls").write_text(LEXICON)
    (tmp_path / "book.md").write_text("# B\n\nThe LV held.\n")
    (tmp_path / "job.toml").write_text('input = "book.md"\noutput = "out"\nlexicon = ["names.pls"]\n'
                                       'captions = ["json"]\n')
    done = narrator("run", tmp_path / "job.toml", cwd="/")
    assert done.returncode == 0, done.stdout + done.stderr
    shown = [w["text"] for w in json.loads((tmp_path / "out" / "book.json").read_text())["words"]]
    assert shown == ["B.", "The", "LV", "held."]


def test_a_phoneme_goes_as_ssml_where_elevenlabs_reads_it_and_the_word_is_timed(tmp_path, monkeypatch):
    monkeypatch.setenv("ELEVENLABS_API_KEY", "lexicon-key")
    (tmp_path / "names.toml").write_text('alphabet = "x-sampa"\n[phoneme]\n"Nguyen" = "wIn"\n')
    book = Book("B", None, (Chapter("One", ("Ask Nguyen about the harbour today.",)),))

    async def narrate():
        async with EmbeddedServer(api_key="lexicon-key") as server:
            options = NarrateOptions(tmp_path / "out", provider="elevenlabs", endpoint=server.url,
                                     voice="en-us", model="eleven_flash_v2", progress=False,
                                     captions=("json",),
                                     lexicons=(tmp_path / "names.toml",),
                                     stream=StreamSettings(enable_ssml_parsing=True))
            return await narrate_book(book, "b", options), server.stats

    result, stats = run(narrate())
    assert any('<phoneme alphabet="x-sampa" ph="wIn">Nguyen</phoneme>' in text for _, text in stats.heard)
    assert result.warnings == [] and result.interpolated_words == 0  # the tag is read, not spoken
    timed = words(result)
    assert [w["text"] for w in timed] == ["One.", "Ask", "Nguyen", "about", "the", "harbour", "today."]
    assert all(b["start"] - a["end"] < 0.3 for a, b in zip(timed[1:], timed[2:]))  # no word squeezed or lost
    assert all(w["end"] - w["start"] > 0.05 for w in timed)


def test_a_phoneme_for_a_model_that_skips_it_is_one_line(tmp_path):
    from narrator.errors import ConfigError

    (tmp_path / "names.toml").write_text('[phoneme]\n"Nguyen" = "w\u026an"\n')
    options = NarrateOptions(tmp_path, provider="elevenlabs", lexicons=(tmp_path / "names.toml",),
                             stream=StreamSettings(enable_ssml_parsing=True))
    try:
        options.lexicon()
    except ConfigError as error:
        assert str(error).startswith("names.toml, [phoneme] 'Nguyen': 'Nguyen' has a <phoneme>, which "
                                     "eleven_multilingual_v2 skips")
    else:
        raise AssertionError("accepted")


def test_text_that_sends_the_same_words_but_reads_otherwise_is_made_again(tmp_path):
    (tmp_path / "names.pls").write_text(LEXICON)
    (tmp_path / "book.md").write_text("# B\n\nThe LV held fast.\n")
    args = ("narrate", tmp_path / "book.md", "-o", tmp_path / "out", "--captions", "json")
    assert narrator(*args, "--lexicon", tmp_path / "names.pls").returncode == 0
    # The same words sent as before, other words shown.
    (tmp_path / "book.md").write_text("# B\n\nThe level held fast.\n")
    done = narrator(*args, "--lexicon", tmp_path / "names.pls")
    assert done.returncode == 0 and "up to date" not in done.stdout + done.stderr
    shown = [w["text"] for w in json.loads((tmp_path / "out" / "book.json").read_text())["words"]]
    assert shown == ["B.", "The", "level", "held", "fast."]
