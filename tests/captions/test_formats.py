"""Caption files in every format, parsed back: ASS through pysubs2 and a
libass-like reader, JSON through json.loads."""

from __future__ import annotations

import io
import json
import random
import re

import pysubs2
import pytest

from narrator.captions.cues import CAPTION_STYLES, Cue, build_cues
from narrator.captions.formats import (
    CAPTION_FORMATS,
    PLAY_RES,
    ass_escape,
    ass_time,
    write_ass,
    write_caption_file,
    write_srt,
)
from narrator.model import Word
from tests.captions.timed_words import CountingWords, random_words, spoken_of, timed


def write(fmt: str, words, *, style: str = "sentence", audio_end_ms: int | None = None) -> tuple[int, str]:
    words = list(words)
    if audio_end_ms is None:
        audio_end_ms = max((w.end_ms for w in words), default=0) + 1000
    out = io.StringIO()
    count = write_caption_file(fmt, iter(words), out, style=style, audio_end_ms=audio_end_ms)
    return count, out.getvalue()


# --------------------------------------------------------------------------
# Reading ASS event text the way libass does


def read_ass_text(text: str) -> tuple[str, list[str]]:
    """(what is shown, the override blocks): `{...}` is an override block,
    `\\N` a line break, `\\{` `\\}` literal braces, any other backslash
    itself; the word joiner is invisible."""
    shown, blocks, i = [], [], 0
    while i < len(text):
        char, nxt = text[i], text[i + 1 : i + 2]
        if char == "{":
            close = text.index("}", i)
            blocks.append(text[i + 1 : close])
            i = close + 1
            continue
        if char == "\\" and nxt in ("N", "{", "}", "h"):
            shown.append({"N": "\n", "h": "\u00a0"}.get(nxt, nxt))
            i += 2
            continue
        shown.append(char)
        i += 1
    return "".join(shown).replace("\u2060", ""), blocks


def karaoke(text: str) -> list[int]:
    """The \\k values of an event, checking that nothing else is overridden."""
    _, blocks = read_ass_text(text)
    assert all(re.fullmatch(r"\\k\d+", block) for block in blocks), blocks
    return [int(block[2:]) for block in blocks]


def centis(ms: int) -> int:
    return (ms + 5) // 10


# --------------------------------------------------------------------------
# ASS


def test_ass_loads_in_pysubs2_with_its_style_and_size():
    words = timed("Hello there, world.\n\nA second paragraph here.", word_ms=400, gap_ms=100)
    count, text = write("ass", words)
    subs = pysubs2.SSAFile.from_string(text)
    assert count == len(subs.events) == 2
    assert (int(subs.info["PlayResX"]), int(subs.info["PlayResY"])) == PLAY_RES == (1920, 1080)
    style = subs.styles["Default"]
    assert style.fontsize == 60 and style.alignment == pysubs2.Alignment.BOTTOM_CENTER
    assert style.primarycolor == pysubs2.Color(255, 255, 255, 0)
    assert all(event.style == "Default" and event.type == "Dialogue" for event in subs.events)


def test_ass_karaoke_exact():
    words = [Word("Hello,", 1000, 1400), Word("big", 1500, 1800), Word("world.", 1900, 2300)]
    cues = list(build_cues(words, audio_end_ms=5000))
    out = io.StringIO()
    assert write_ass(cues, out) == 1
    assert out.getvalue().splitlines()[-1] == (
        "Dialogue: 0,0:00:01.00,0:00:02.30,Default,,0,0,0,,{\\k50}Hello, {\\k40}big {\\k40}world."
    )


def test_ass_karaoke_line_breaks_and_gaps():
    # Two lines; a gap before "world" belongs to the word before it.
    words = [
        Word("Hello,", 0, 300), Word("big", 1000, 1200), Word("wide", 1200, 1500), Word("world.", 1500, 1900)
    ]
    cues = list(build_cues(words, audio_end_ms=5000, max_chars=12))
    assert cues[0].lines == ("Hello, big", "wide world.")
    out = io.StringIO()
    write_ass(cues, out)
    event = pysubs2.SSAFile.from_string(out.getvalue()).events[0]
    assert event.text == "{\\k100}Hello, {\\k20}big\\N{\\k30}wide {\\k40}world."
    assert sum(karaoke(event.text)) * 10 == event.end - event.start


def test_ass_karaoke_clamps_words_into_the_cue():
    # A cue pushed past its first word, a word before the previous one, a
    # word after the cue end: \k values stay >= 0 and still sum to the cue.
    words = (Word("a", 900, 950), Word("b", 1400, 1500), Word("c", 1200, 1300), Word("d", 2500, 2600))
    cue = Cue(1003, 2004, ("a b c d",), words)
    out = io.StringIO()
    write_ass([cue], out)
    event = pysubs2.SSAFile.from_string(out.getvalue()).events[0]
    assert (event.start, event.end) == (1000, 2000)
    assert karaoke(event.text) == [40, 0, 60, 0]


@pytest.mark.parametrize(
    "word",
    ["{\\b1}bold", "\\N", "}", "{", "a\\hb", "\\", "\\{x\\}", "{\\k500}", "50%{}", "x\\"],
)
def test_ass_words_cannot_inject_overrides(word: str):
    words = [Word("before", 0, 300), Word(word, 400, 700), Word("after", 800, 1100)]
    count, text = write("ass", words)
    events = pysubs2.SSAFile.from_string(text).events
    assert count == len(events) == 1
    shown, _ = read_ass_text(events[0].text)
    assert shown == f"before {word} after"
    assert len(karaoke(events[0].text)) == 3  # only our \k blocks


def test_ass_escape_leaves_plain_text_alone():
    plain = "Caf\u00e9, \u201cquoted\u201d \u2014 50% (yes)!"
    assert ass_escape(plain) == plain


def test_ass_time_rounds_like_pysubs2_and_passes_ten_hours():
    for ms in (0, 4, 5, 14, 15, 999, 1005, 3_599_995, 35_999_984):
        assert ass_time(ms) == pysubs2.formats.substation.SubstationFormat.ms_to_timestamp(ms)
    assert ass_time(36_000_000) == "10:00:00.00"
    assert ass_time(123 * 3_600_000 + 61_234) == "123:01:01.23"


def test_ass_ten_hour_book_loads_back_at_the_right_time():
    start = 10 * 3_600_000 + 1_230
    words = [Word("Late.", start, start + 500), Word("Later.", start + 3_600_000, start + 3_600_600)]
    _, text = write("ass", words)
    events = pysubs2.SSAFile.from_string(text).events
    assert [e.start for e in events] == [start, start + 3_600_000]


def test_ass_word_style_is_plain_one_event_per_word():
    # "{" opens, so it goes with the word after; "}" and "—" with the word before.
    words = timed("Well \u2014 it { rained } today.")
    count, text = write("ass", words, style="word")
    events = pysubs2.SSAFile.from_string(text).events
    assert count == len(events) == 4
    assert [read_ass_text(e.text) for e in events] == [
        ("Well \u2014", []), ("it", []), ("{ rained }", []), ("today.", []),
    ]


@pytest.mark.parametrize("style", CAPTION_STYLES)
@pytest.mark.parametrize("seed", range(60))
def test_random_ass_parses_back(seed: int, style: str):
    rng = random.Random(40_000 + seed)
    words = random_words(rng, chaotic=seed % 3 == 0)
    for i in rng.sample(range(len(words)), min(4, len(words))):
        words[i] = Word(rng.choice(["{\\i1}", "\\N", "a}b", "\\"]), words[i].start_ms, words[i].end_ms)
    audio_end = max((w.end_ms for w in words), default=0) + 1000
    cues = list(build_cues(words, audio_end_ms=audio_end, style=style))
    count, text = write("ass", words, style=style, audio_end_ms=audio_end)
    events = pysubs2.SSAFile.from_string(text).events
    assert count == len(events) == len(cues)
    for event, cue in zip(events, cues):
        assert (event.start, event.end) == (centis(cue.start_ms) * 10, centis(cue.end_ms) * 10)
        shown, blocks = read_ass_text(event.text)
        assert shown == cue.text
        if style == "word":
            assert blocks == []
            continue
        ks = karaoke(event.text)
        assert len(ks) == len(cue.words)
        assert sum(ks) * 10 == event.end - event.start
        # Each word is reached when it starts (to the centisecond), or at once
        # when it starts before the words before it have finished starting.
        reached, floor = centis(cue.start_ms), cue.start_ms
        for k, word in zip(ks, cue.words):
            if word is not cue.words[0]:
                floor = min(max(word.start_ms, floor), cue.end_ms)
                assert reached == centis(floor)
            reached += k


# --------------------------------------------------------------------------
# JSON


def test_json_every_word_in_seconds():
    words = [
        Word("Hello,", 1200, 1450), Word("caf\u00e9", 1500, 1999), Word("\u2014", 2000, 2001),
        Word("", 2001, 2001, ends_paragraph=True), Word("Next", 3000, 3333, ends_paragraph=True),
    ]
    count, text = write("json", words)
    assert count == 4
    assert json.loads(text) == {"words": [
        {"text": "Hello,", "start": 1.2, "end": 1.45, "paragraph_end": False},
        {"text": "caf\u00e9", "start": 1.5, "end": 1.999, "paragraph_end": False},
        {"text": "\u2014", "start": 2.0, "end": 2.001, "paragraph_end": True},  # from the empty word
        {"text": "Next", "start": 3.0, "end": 3.333, "paragraph_end": True},
    ]}
    # ensure_ascii=False: the text is written as is, not as \\u escapes.
    assert "caf\u00e9" in text and "\u2014" in text and "\\u" not in text


def test_json_times_are_exact_milliseconds():
    rng = random.Random(7)
    words = [Word("w", ms, ms + rng.randint(0, 999)) for ms in sorted(rng.sample(range(40_000_000), 500))]
    _, text = write("json", words)
    for word, item in zip(words, json.loads(text)["words"]):
        assert round(item["start"] * 1000) == word.start_ms and round(item["end"] * 1000) == word.end_ms
        assert re.fullmatch(r"\d+(\.\d{1,3})?", repr(item["start"]))


def test_json_clamps_into_the_audio():
    _, text = write("json", [Word("last", 900, 1300)], audio_end_ms=1000)
    assert json.loads(text)["words"][0] == {"text": "last", "start": 0.9, "end": 1.0, "paragraph_end": False}


def test_json_no_words_is_valid():
    count, text = write("json", [Word("", 0, 0), Word(" ", 0, 0, ends_paragraph=True)])
    assert count == 0 and json.loads(text) == {"words": []}


def test_json_is_the_same_in_every_style():
    words = timed("One two, three.\n\nFour")
    assert write("json", words, style="word") == write("json", words, style="sentence")


@pytest.mark.parametrize("seed", range(30))
def test_random_json_parses_back(seed: int):
    rng = random.Random(50_000 + seed)
    words = random_words(rng)
    words += [Word('quote " back\\slash \u2028 tab\t', 10**8, 10**8 + 5)]
    count, text = write("json", words, audio_end_ms=10**9)
    items = json.loads(text)["words"]
    expected = spoken_of(words)
    assert count == len(items) == len(expected)
    assert [(i["text"], i["start"], i["end"], i["paragraph_end"]) for i in items] == [
        (w.text, w.start_ms / 1000, w.end_ms / 1000, w.ends_paragraph) for w in expected
    ]


# --------------------------------------------------------------------------
# The entry point


def test_formats():
    assert CAPTION_FORMATS == ("srt", "vtt", "ass", "json")


def test_unknown_format_or_style_is_refused():
    with pytest.raises(ValueError, match="'txt'"):
        write_caption_file("txt", [], io.StringIO(), audio_end_ms=0)
    with pytest.raises(ValueError, match="'karaoke'"):
        write_caption_file("srt", [], io.StringIO(), style="karaoke", audio_end_ms=0)


def test_srt_is_plain_cues():
    words = timed("Hello there, world.\n\nGoodbye now.")
    count, text = write("srt", words, audio_end_ms=10_000)
    expected = io.StringIO()
    assert count == write_srt(build_cues(words, audio_end_ms=10_000), expected) == 2
    assert text == expected.getvalue()
    assert "<" not in text


def test_vtt_has_word_times_in_sentence_style_only():
    words = timed("Hello there, world.\n\nGoodbye now.", word_ms=300, gap_ms=100)
    count, sentence = write("vtt", words)
    assert count == 2
    assert sentence.split("\n\n")[1].splitlines()[1] == "Hello <00:00:00.400>there, <00:00:00.800>world."
    count, word = write("vtt", words, style="word")
    assert count == 5
    assert not re.search(r"<\d", word)
    assert word.split("\n\n")[1] == "00:00:00.000 --> 00:00:00.400\nHello"


@pytest.mark.parametrize("fmt", CAPTION_FORMATS)
@pytest.mark.parametrize("style", CAPTION_STYLES)
def test_every_format_on_no_words_is_a_valid_empty_file(fmt: str, style: str):
    count, text = write(fmt, [], style=style, audio_end_ms=0)
    assert count == 0
    if fmt == "ass":
        assert pysubs2.SSAFile.from_string(text).events == []
    elif fmt == "json":
        assert json.loads(text) == {"words": []}
    elif fmt == "vtt":
        assert text == "WEBVTT\n\n"
    else:
        assert text == ""


class StopWriting(Exception):
    pass


class FirstWrites(io.StringIO):
    """Stops the writer after a few writes, noting how much it had read."""

    def __init__(self, words: CountingWords, writes: int):
        super().__init__()
        self.words, self.left, self.taken = words, writes, []

    def write(self, text: str) -> int:
        self.taken.append(self.words.taken)
        self.left -= 1
        if self.left < 0:
            raise StopWriting
        return super().write(text)


@pytest.mark.parametrize("fmt", CAPTION_FORMATS)
@pytest.mark.parametrize("style", CAPTION_STYLES)
def test_every_format_streams(fmt: str, style: str):
    words = CountingWords()
    out = FirstWrites(words, writes=50)
    with pytest.raises(StopWriting):
        write_caption_file(fmt, iter(words), out, style=style, audio_end_ms=words.total * 350)
    # 50 writes in, a few hundred of the 200k words have been read at most.
    assert out.taken[-1] <= 1000
