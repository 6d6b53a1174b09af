"""The SRT and WebVTT writers of captions.formats, parsed back."""

from __future__ import annotations

import io
import random
import re

import pytest

from narrator.captions.cues import Cue, build_cues
from narrator.captions.formats import srt_timestamp, vtt_timestamp, write_srt, write_vtt
from narrator.model import Word
from tests.captions.timed_words import random_words, timed

SAMPLE = [
    Cue(0, 1500, ("Hello, world.",)),
    Cue(1500, 4250, ("A second cue,", "on two lines.")),
]


def test_write_srt_exact():
    out = io.StringIO()
    assert write_srt(iter(SAMPLE), out) == 2
    assert out.getvalue() == (
        "1\n"
        "00:00:00,000 --> 00:00:01,500\n"
        "Hello, world.\n"
        "\n"
        "2\n"
        "00:00:01,500 --> 00:00:04,250\n"
        "A second cue,\n"
        "on two lines.\n"
    )


def test_write_vtt_exact():
    out = io.StringIO()
    assert write_vtt(iter(SAMPLE), out) == 2
    assert out.getvalue() == (
        "WEBVTT\n"
        "\n"
        "00:00:00.000 --> 00:00:01.500\n"
        "Hello, world.\n"
        "\n"
        "00:00:01.500 --> 00:00:04.250\n"
        "A second cue,\n"
        "on two lines.\n"
    )


def test_vtt_text_never_contains_arrow_and_is_escaped():
    out = io.StringIO()
    write_vtt([Cue(0, 1000, ("a --> b", "Tom & <Jerry>"))], out)
    body = out.getvalue().split("\n", 3)[3]
    assert "-->" not in body
    assert body == "a --&gt; b\nTom &amp; &lt;Jerry&gt;\n"


def test_writers_on_no_cues():
    srt, vtt = io.StringIO(), io.StringIO()
    assert write_srt([], srt) == 0 and srt.getvalue() == ""
    assert write_vtt([], vtt) == 0 and vtt.getvalue() == "WEBVTT\n\n"


def test_writers_end_to_end_from_words():
    words = timed("Hello, world.\n\nGoodbye now.", word_ms=400, gap_ms=100)
    out = io.StringIO()
    assert write_srt(build_cues(words, audio_end_ms=5000), out) == 2
    assert out.getvalue() == (
        "1\n00:00:00,000 --> 00:00:00,900\nHello, world.\n\n"
        "2\n00:00:01,000 --> 00:00:01,900\nGoodbye now.\n"
    )


def test_write_vtt_word_timestamps_exact():
    words = [
        Word("Hello,", 1000, 1400), Word("big", 1500, 1800), Word("<world>", 1900, 2300),
        Word("and", 2400, 2600), Word("you.", 2700, 3000, ends_paragraph=True),
        Word("Bye", 5000, 5400),
    ]
    out = io.StringIO()
    assert write_vtt(build_cues(words, audio_end_ms=6000, max_chars=16), out) == 2
    assert out.getvalue() == (
        "WEBVTT\n"
        "\n"
        "00:00:01.000 --> 00:00:03.000\n"
        "Hello, <00:00:01.500>big\n"
        "<00:00:01.900>&lt;world&gt; <00:00:02.400>and <00:00:02.700>you.\n"
        "\n"
        "00:00:05.000 --> 00:00:05.800\n"
        "Bye\n"
    )


def test_vtt_word_timestamps_only_where_the_spec_allows():
    # Tags must be after the cue start and every earlier tag, before the end.
    words = (
        Word("early", 900, 1000),  # before the (pushed) cue start
        Word("at-start", 1000, 1100),  # equal to the cue start: no tag
        Word("ok", 1500, 1600),
        Word("same", 1500, 1600),  # equal to the previous tag: no tag
        Word("back", 1400, 1450),  # earlier than the previous tag: no tag
        Word("at-end", 2000, 2100),  # equal to the cue end: no tag
    )
    cue = Cue(1000, 2000, (" ".join(w.text for w in words),), words)
    out = io.StringIO()
    write_vtt([cue], out)
    assert out.getvalue().split("\n")[3] == "early at-start <00:00:01.500>ok same back at-end"


def test_vtt_without_word_times_or_matching_words_is_plain():
    words = (Word("a", 0, 100), Word("b", 500, 600))
    cue = Cue(0, 1000, ("a b",), words)
    out = io.StringIO()
    write_vtt([cue], out, word_times=False)
    assert out.getvalue().endswith("\na b\n")
    # Words that do not spell the lines are not trusted for timing.
    out = io.StringIO()
    write_vtt([Cue(0, 1000, ("a c",), words)], out)
    assert out.getvalue().endswith("\na c\n")


def test_vtt_timed_text_is_escaped_and_never_holds_an_arrow():
    words = (
        Word("a", 0, 100), Word("-->", 200, 300), Word("Tom", 400, 500), Word("&", 600, 700),
        Word("<Jerry>", 800, 900),
    )
    cue = Cue(0, 1000, ("a --> Tom", "& <Jerry>"), words)
    out = io.StringIO()
    write_vtt([cue], out)
    body = out.getvalue().split("\n", 3)[3]
    assert "-->" not in body
    assert body == (
        "a <00:00:00.200>--&gt; <00:00:00.400>Tom\n"
        "<00:00:00.600>&amp; <00:00:00.800>&lt;Jerry&gt;\n"
    )


_VTT_TIME = r"(\d\d+):(\d\d):(\d\d)\.(\d{3})"


def vtt_ms(stamp: str) -> int:
    h, m, s, ms = re.fullmatch(_VTT_TIME, stamp).groups()
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def check_vtt(text: str, cues: list[Cue]) -> None:
    """Parse a written VTT back: timings, tag validity and placement, text."""
    blocks = text.split("\n\n")
    assert blocks[0] == "WEBVTT"
    blocks = [b for b in blocks[1:] if b]
    assert len(blocks) == len(cues)
    for block, cue in zip(blocks, cues):
        timing, payload = block.rstrip("\n").split("\n", 1)
        start, end = (vtt_ms(t) for t in timing.split(" --> "))
        assert (start, end) == (cue.start_ms, cue.end_ms)
        tokens = payload.replace("\n", " ").split(" ")
        assert len(tokens) == len(cue.words)
        last = start
        for token, word in zip(tokens, cue.words):
            tag = re.match(rf"<({_VTT_TIME})>", token)
            if tag:
                at = vtt_ms(tag.group(1))
                assert start < at < end and at > last  # the WebVTT rule
                assert at == word.start_ms  # before its own word
                last = at
                token = token[tag.end():]
            else:
                # Left out only where the rule forbids it.
                assert not (last < word.start_ms < end)
            assert "<" not in token and ">" not in token
            unescaped = token.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
            assert unescaped == word.text
        assert payload.count("\n") == len(cue.lines) - 1  # the wrapper's breaks


@pytest.mark.parametrize("seed", range(100))
def test_random_vtt_word_timestamps_parse_back(seed: int):
    rng = random.Random(30_000 + seed)
    chaotic = seed % 3 == 0
    words = random_words(rng, chaotic=chaotic)
    for word in rng.sample(range(len(words)), min(5, len(words))):
        words[word] = Word(rng.choice(["<b>", "a&b", "-->", "x>y"]), words[word].start_ms, words[word].end_ms)
    audio_end = max((w.end_ms for w in words), default=0) + 1000
    cues = list(build_cues(words, audio_end_ms=audio_end))
    out = io.StringIO()
    assert write_vtt(iter(cues), out) == len(cues)
    check_vtt(out.getvalue(), cues)


@pytest.mark.parametrize(
    ("ms", "srt", "vtt"),
    [
        (0, "00:00:00,000", "00:00:00.000"),
        (999, "00:00:00,999", "00:00:00.999"),
        (3_599_999, "00:59:59,999", "00:59:59.999"),
        (36_000_000, "10:00:00,000", "10:00:00.000"),
        (360_000_000, "100:00:00,000", "100:00:00.000"),
    ],
)
def test_timestamps(ms: int, srt: str, vtt: str):
    assert srt_timestamp(ms) == srt
    assert vtt_timestamp(ms) == vtt


def test_negative_timestamp_is_rejected():
    with pytest.raises(ValueError):
        srt_timestamp(-1)
