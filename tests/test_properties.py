"""Property-based tests (hypothesis): readers on random documents, the MP3
frame reader and the timeline on real MP3 streams cut at random offsets.
Examples are bounded so the whole run stays within minutes."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from narrator.audio.mp3 import FrameReader, audio_frames
from narrator.book.timeline import segment_audio
from narrator.errors import NarratorError
from narrator.protocol.events import AudioChunk
from narrator.text.epub import parse_epub
from narrator.text.html_file import parse_html
from narrator.text.markdown import parse_markdown
from narrator.text.plain import parse_text
from tests.audio.test_mp3 import decoded_samples, encode, id3v2, metadata_frame
from tests.text.epub_builder import write_epub

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORDS = st.text(alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Nd"), max_codepoint=0x24F),
                min_size=1, max_size=9)
SENTENCE = st.lists(WORDS, min_size=1, max_size=8).map(lambda w: " ".join(w) + ".")
MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!?]|\*\*|__|`|\]\(|^#{1,6} ", re.MULTILINE)


def paragraphs_of(book) -> list[str]:
    return [p for chapter in book.chapters for p in chapter.paragraphs]


def read_or_refuse(parse, text: str):
    """A Book, or one of narrator's own errors in one line: nothing else."""
    try:
        return parse(text, "doc")
    except NarratorError as error:
        assert "\n" not in str(error) and str(error)
        return None


@FAST
@given(st.text(max_size=400))
def test_any_text_is_a_book_or_one_line(text):
    for parse in (parse_text, parse_markdown, parse_html):
        read_or_refuse(parse, text)


# A Markdown document from random structure, its words free of markup characters.
BLOCK = st.one_of(
    SENTENCE,
    st.tuples(st.integers(1, 3), SENTENCE).map(lambda h: "#" * h[0] + " " + h[1]),
    st.tuples(WORDS, WORDS).map(lambda w: f"**{w[0]}** and _{w[1]}_ and `{w[0]}`."),
    st.tuples(WORDS, WORDS).map(lambda w: f"See [{w[0]}](https://example.org/{w[1]})."),
    st.lists(SENTENCE, min_size=1, max_size=3).map(lambda items: "\n".join(f"- {i}" for i in items)),
    st.tuples(WORDS, SENTENCE).map(lambda b: f"<div class=\"{b[0]}\">{b[1]}</div>"),
    st.tuples(WORDS, WORDS).map(lambda c: f"```\n{c[0]} = {c[1]}\n```"),
    SENTENCE.map(lambda s: f"> {s}"),
)


@FAST
@given(st.lists(BLOCK, min_size=1, max_size=12))
def test_markdown_never_speaks_markup(blocks):
    book = read_or_refuse(parse_markdown, "\n\n".join(blocks))
    for paragraph in paragraphs_of(book) if book else []:
        assert not MARKUP.search(paragraph), paragraph


TAG = st.sampled_from(["p", "div", "span", "b", "i", "em", "section", "blockquote", "li", "h1", "h2", "h3"])
HIDDEN = st.sampled_from(["script", "style", "template"])


@st.composite
def html_documents(draw) -> tuple[str, list[str]]:
    parts, hidden = [], []
    for _ in range(draw(st.integers(1, 10))):
        if draw(st.booleans()):
            secret = draw(WORDS) + "zzq"
            hidden.append(secret)
            tag = draw(HIDDEN)
            parts.append(f"<{tag}>{secret}</{tag}>")
        else:
            tag, inner = draw(TAG), draw(SENTENCE)
            parts.append(f"<{tag}>{inner}</{tag}>")
    return "<html><head><title>T</title></head><body>" + "".join(parts) + "</body></html>", hidden


@FAST
@given(html_documents())
def test_html_never_speaks_tags_or_hidden_text(document):
    html, hidden = document
    book = read_or_refuse(parse_html, html)
    for paragraph in paragraphs_of(book) if book else []:
        assert "<" not in paragraph and ">" not in paragraph, paragraph
        assert not any(secret in paragraph for secret in hidden), paragraph


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(SENTENCE, st.lists(SENTENCE, min_size=1, max_size=4)), min_size=1, max_size=5))
def test_an_epub_of_random_structure_reads_back_its_chapters(tmp_path_factory, chapters):
    path = write_epub(Path(tmp_path_factory.mktemp("epub")) / "book.epub",
                      [(title, paragraphs) for title, paragraphs in chapters])
    book = parse_epub(path.read_bytes(), "book.epub")
    spoken = [p for chapter in book.chapters for p in chapter.paragraphs]
    for _, paragraphs in chapters:
        for paragraph in paragraphs:
            assert paragraph in spoken
    assert not any(MARKUP.search(p) for p in spoken)


# -- MP3 streams cut anywhere --------------------------------------------------

# Real streams, and where each one's side information ends (an Info tag's place).
STREAMS = [(encode(44100, 1, 128), 21), (encode(22050, 2, 64), 21), (encode(22050, 1, 32), 13)]


@st.composite
def dressed_streams(draw) -> tuple[bytes, bytes]:
    """A real stream with what services put around it: an ID3 tag in front,
    an Info frame; and the bare frames it must come down to."""
    stream, offset = draw(st.sampled_from(STREAMS))
    frames = audio_frames(stream)[0]
    info = metadata_frame(frames[0], offset, draw(st.sampled_from([b"Xing", b"Info"])))
    front = id3v2() if draw(st.booleans()) else b""
    return front + info + stream, b"".join(frames)


def cut(data: bytes, offsets: list[int]) -> list[bytes]:
    bounds = sorted({0, len(data), *(o % (len(data) + 1) for o in offsets)})
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


@FAST
@given(dressed_streams(), st.lists(st.integers(0, 1 << 20), max_size=12))
def test_frames_come_out_the_same_however_the_stream_is_cut(dressed, offsets):
    data, bare = dressed
    reader = FrameReader()
    frames = [frame for piece in cut(data, offsets) for frame in reader.feed(piece)] + reader.finish()
    assert b"".join(frames) == bare
    assert reader.samples == decoded_samples(bare)


@FAST
@given(dressed_streams(), st.lists(st.integers(0, 1 << 20), max_size=8))
def test_the_timeline_counts_what_the_decoder_hears(dressed, offsets):
    data, bare = dressed
    chunks = [AudioChunk(piece, None) for piece in cut(data, offsets)]
    audio = segment_audio(["one two three four five six"], chunks)
    assert audio.samples == decoded_samples(bare) == decoded_samples(audio.frames)
    assert audio.duration_ms >= max(w.end for w in audio.words)
