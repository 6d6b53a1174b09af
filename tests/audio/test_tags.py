"""ID3v2.4 tags rendered to bytes, written in front of real MP3 frames, read back.

Every check goes through a real file: tag bytes then lameenc frames, the way
the assembler streams a book, opened with mutagen's ID3 and MP3 and decoded
with miniaudio.
"""

from __future__ import annotations

import struct
import zlib
from functools import cache

import miniaudio
import pytest
from mutagen.id3 import ID3, CTOCFlags
from mutagen.mp3 import MP3

from narrator.audio.encode import encode
from narrator.audio.mp3 import audio_frames
from narrator.audio.tags import PADDING, ChapterMark, book_tag, chapter_tag, iso639_2
from narrator.model import Book, Chapter, Cover
from tests.helpers import samples_ms

RATE = 22050
FRAME = 576  # samples per MPEG-2 layer III frame


def png(width: int = 3, height: int = 2) -> bytes:
    """A real, tiny RGB PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + bytes(range(3 * width)) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


@cache
def mp3_frames(seconds: float = 3.0) -> bytes:
    """Bare MP3 frames of a rising tone (lameenc writes no tag, no Info frame)."""
    count = int(seconds * RATE)
    pcm = b"".join(struct.pack("<h", (n * (200 + n // 100)) % 20000 - 10000) for n in range(count))
    return encode(pcm, RATE, RATE, 48)


def marks_at(frames: list[bytes], cuts: list[int], titles: list[str]) -> list[ChapterMark]:
    """Chapter marks at frame indexes, timed by counting samples like the assembler."""
    bounds = [0, *cuts, len(frames)]
    return [ChapterMark(title, samples_ms(a * FRAME, RATE), samples_ms(b * FRAME, RATE))
            for title, a, b in zip(titles, bounds, bounds[1:])]


def book(**changes) -> Book:
    fields = {"title": "Le Petit Prince — «Ça» 日本語 📖", "author": "Antoine de Saint-Exupéry",
              "chapters": (Chapter("I", ("Lorsque j'avais six ans",)),), "language": "fr-CA",
              "cover": Cover(png(), "image/png")}
    fields.update(changes)
    return Book(**fields)


def write(tmp_path, tag: bytes, audio: bytes):
    path = tmp_path / "book.mp3"
    with open(path, "wb") as out:  # the assembler's order: tag first, frames streamed after
        out.write(tag)
        out.write(audio)
    return path


TITLES = ["Chapitre premier: «l'éléphant»", "第二章", "Three = 3; #3 \\ end"]


def test_book_tag_chapters_read_back_in_order_with_frame_exact_times(tmp_path):
    audio = mp3_frames()
    frames, samples, rate = audio_frames(audio)
    marks = marks_at(frames, [40, 77], TITLES)
    path = write(tmp_path, book_tag(book(), marks), audio)

    tag = ID3(path)
    assert tag.version == (2, 4, 0)
    toc = tag.getall("CTOC")
    assert len(toc) == 1 and toc[0].element_id == "toc"
    assert toc[0].flags == CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED
    assert toc[0].child_element_ids == ["chp1", "chp2", "chp3"]
    assert toc[0].sub_frames["TIT2"].text == [book().title]
    chapters = {chap.element_id: chap for chap in tag.getall("CHAP")}
    assert sorted(chapters) == ["chp1", "chp2", "chp3"]
    for n, mark in enumerate(marks, start=1):
        chap = chapters[f"chp{n}"]
        assert (chap.start_time, chap.end_time) == (mark.start_ms, mark.end_ms)
        assert (chap.start_offset, chap.end_offset) == (0xFFFFFFFF, 0xFFFFFFFF)
        assert chap.sub_frames["TIT2"].text == [TITLES[n - 1]]
    assert chapters["chp2"].start_time == 1045  # 40 frames * 576 / 22050 s = 1044.9 ms
    assert chapters["chp3"].end_time == samples_ms(samples, rate)


def test_book_tag_frames(tmp_path):
    cover = png(5, 4)
    path = write(tmp_path, book_tag(book(cover=Cover(cover, "image/png")), []), mp3_frames())
    tag = ID3(path)
    assert tag["TIT2"].text == [book().title]
    assert tag["TALB"].text == [book().title]
    assert tag["TPE1"].text == ["Antoine de Saint-Exupéry"]
    assert tag["TCON"].text == ["Audiobook"]
    assert tag["TLAN"].text == ["fra"]
    pictures = tag.getall("APIC")
    assert len(pictures) == 1
    assert (pictures[0].data, pictures[0].mime, pictures[0].type) == (cover, "image/png", 3)
    assert not tag.getall("CTOC") and not tag.getall("CHAP")  # no marks: no empty table of contents


def test_no_author_no_cover_no_language(tmp_path):
    for author in ("", None):
        path = write(tmp_path, book_tag(book(author=author, cover=None, language=None),
                                        [ChapterMark("Only", 0, 1000)]), mp3_frames())
        tag = ID3(path)
        assert "TPE1" not in tag and "TLAN" not in tag and not tag.getall("APIC")
        assert tag["TIT2"].text == [book().title]
        assert [c.element_id for c in tag.getall("CHAP")] == ["chp1"]


def test_blank_chapter_title_gets_a_number(tmp_path):
    marks = [ChapterMark("Opening", 0, 500), ChapterMark("  ", 500, 1000)]
    tag = ID3(write(tmp_path, book_tag(book(), marks), mp3_frames()))
    chapters = {c.element_id: c for c in tag.getall("CHAP")}
    assert chapters["chp2"].sub_frames["TIT2"].text == ["Chapter 2"]


def test_tag_is_v24_with_stated_padding():
    tag = book_tag(book(cover=None), [ChapterMark("A", 0, 10)])
    assert tag[:5] == b"ID3\x04\x00"
    size = sum(b << (7 * (3 - i)) for i, b in enumerate(tag[6:10]))  # syncsafe
    assert size == len(tag) - 10
    assert tag.endswith(b"\0" * PADDING) and len(tag) < 2 * PADDING


def test_audio_after_the_tag_decodes_to_the_same_length(tmp_path):
    audio = mp3_frames()
    frames, samples, rate = audio_frames(audio)
    path = write(tmp_path, book_tag(book(), marks_at(frames, [50], TITLES[:2])), audio)

    decoded = miniaudio.decode_file(str(path), nchannels=1, sample_rate=RATE)
    assert decoded.num_frames == samples == len(frames) * FRAME
    assert decoded.samples == miniaudio.decode(audio, nchannels=1, sample_rate=RATE).samples
    info = MP3(path).info
    assert info.sample_rate == RATE and info.channels == 1
    assert abs(info.length - samples / rate) < 0.03  # mutagen estimates CBR length from the byte count


def test_chapter_tag(tmp_path):
    cover = png()
    path = write(tmp_path, chapter_tag(book(), "第二章 — Ça", 3, 12), mp3_frames())
    tag = ID3(path)
    assert tag.version == (2, 4, 0)
    assert tag["TIT2"].text == ["第二章 — Ça"]
    assert tag["TALB"].text == [book().title]
    assert tag["TPE1"].text == ["Antoine de Saint-Exupéry"]
    assert tag["TCON"].text == ["Audiobook"]
    assert tag["TRCK"].text == ["3/12"]
    assert tag["TLAN"].text == ["fra"]
    assert tag.getall("APIC")[0].data == cover
    assert not tag.getall("CHAP") and not tag.getall("CTOC")
    assert MP3(path).info.sample_rate == RATE


def test_chapter_tag_without_author_or_cover(tmp_path):
    tag = ID3(write(tmp_path, chapter_tag(book(author=None, cover=None), "One", 1, 1), mp3_frames()))
    assert "TPE1" not in tag and not tag.getall("APIC")
    assert tag["TRCK"].text == ["1/1"]


@pytest.mark.parametrize("language, code", [
    ("en", "eng"), ("en-US", "eng"), ("EN_gb", "eng"), ("fr-CA", "fra"), ("de-CH", "deu"),
    ("zh-Hant-TW", "zho"), ("hi", "hin"), ("or", "ori"), ("haw", "haw"), ("fil", "fil"),
    ("und", None), ("x-klingon", None), ("i-default", None), ("qq", None), ("", None), (None, None),
])
def test_iso639_2(language, code):
    assert iso639_2(language) == code


def test_bad_marks_are_refused():
    with pytest.raises(ValueError):
        ChapterMark("backwards", 200, 100)
    with pytest.raises(ValueError, match="chapter 2 starts at 50 ms"):
        book_tag(book(), [ChapterMark("A", 0, 100), ChapterMark("B", 50, 200)])
    with pytest.raises(ValueError):
        chapter_tag(book(), "A", 3, 2)
