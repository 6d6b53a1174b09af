"""The book MP3 to M4B through a real ffmpeg, read back with mutagen and decoded.

Observed with ffmpeg 9.0 (imageio-ffmpeg's static build): the AAC encoder
primes 1024 samples and the mp4 muxer's edit list skips exactly them
(media_time 1024, segment duration = the MP3's sample count), so the M4B
decodes to the same number of samples as the MP3, at zero lag: chapter
starts mean the same audio in both files.
"""

from __future__ import annotations

import array
import random
import stat
import struct
import subprocess
import zlib
from functools import cache
from pathlib import Path

import miniaudio
import numpy as np
import pytest
from mutagen.mp4 import MP4, Atoms, MP4Cover

from narrator.audio.encode import encode
from narrator.audio.m4b import FFMPEG_ENV, ffmetadata, find_ffmpeg, write_m4b
from narrator.audio.mp3 import audio_frames
from narrator.audio.tags import ChapterMark, book_tag
from narrator.errors import AudioError, ConfigError
from narrator.model import Book, Chapter, Cover
from tests.helpers import samples_ms

try:
    FFMPEG, NO_FFMPEG = find_ffmpeg(), ""
except ConfigError as error:
    FFMPEG, NO_FFMPEG = None, str(error)
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason=f"no ffmpeg to make M4B files: {NO_FFMPEG}")

RATE = 22050
CHAPTER_SECONDS = (2.0, 3.1, 1.7)
TITLES = ("Opening = start; #1", "Zweites Kapitel — «Ça» 第二章", "The end \\ coda")


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + bytes(range(12)) for _ in range(4))
    header = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def book(**changes) -> Book:
    fields = {"title": "Das Buch: «Ça» = 書", "author": "Ann Author", "language": "de",
              "chapters": tuple(Chapter(t, ("text",)) for t in TITLES), "cover": Cover(png(), "image/png")}
    fields.update(changes)
    return Book(**fields)


def bursts(seconds: float, seed: int) -> bytes:
    """Noise in bursts: broadband onsets make cross-correlation lags unambiguous."""
    rng = random.Random(seed)
    count = int(seconds * RATE)
    noise = (rng.randint(-9000, 9000) if (n // 2000) % 3 else 0 for n in range(count))
    return array.array("h", noise).tobytes()


@cache
def chapter_frames() -> tuple[tuple[bytes, int], ...]:
    """Each chapter encoded on its own, like a segment: (frames, samples)."""
    out = []
    for seed, seconds in enumerate(CHAPTER_SECONDS):
        frames, samples, _ = audio_frames(encode(bursts(seconds, seed), RATE, RATE, 48))
        out.append((b"".join(frames), samples))
    return tuple(out)


def marks() -> list[ChapterMark]:
    """Times by counting samples, like the assembler."""
    result, at = [], 0
    for title, (_, samples) in zip(TITLES, chapter_frames()):
        result.append(ChapterMark(title, samples_ms(at, RATE), samples_ms(at + samples, RATE)))
        at += samples
    return result


def book_mp3(folder: Path, the_book: Book) -> Path:
    """The whole-book MP3 as narrator writes it: our ID3 tag (chapters, cover), then frames."""
    path = folder / "book.mp3"
    path.write_bytes(book_tag(the_book, marks()) + b"".join(frames for frames, _ in chapter_frames()))
    return path


def total_samples() -> int:
    return sum(samples for _, samples in chapter_frames())


def audio_edit(path: Path) -> tuple[int, int, int]:
    """(movie timescale, edit segment duration, media time skipped) of the sound track."""
    with open(path, "rb") as f:
        atoms = Atoms(f)
        _, mvhd = atoms[b"moov.mvhd"].read(f)
        timescale = struct.unpack(">I", mvhd[12:16] if mvhd[0] == 0 else mvhd[20:24])[0]
        for trak in atoms[b"moov"].findall(b"trak"):
            _, hdlr = trak[b"mdia", b"hdlr"].read(f)
            if hdlr[8:12] == b"soun":
                # mutagen does not descend into edts: its first child is elst,
                # then version, flags, entry count and the first entry.
                _, edts = trak[b"edts",].read(f)
                assert edts[4:8] == b"elst"
                layout = ">Ii" if edts[8] == 0 else ">Qq"
                duration, media_time = struct.unpack_from(layout, edts, 16)
                return timescale, duration, media_time
    raise AssertionError("no sound track")


def decode_m4b(path: Path) -> array.array:
    done = subprocess.run([FFMPEG, "-nostdin", "-loglevel", "error", "-i", str(path), "-f", "s16le", "-"],
                          capture_output=True, check=True)
    return array.array("h", done.stdout)


def lag(a: array.array, b: array.array, at: int, window: int = 3000, search: int = 2048) -> int:
    """The shift of b against a, in samples, that best matches a's window at `at`."""
    ref = np.asarray(a[at:at + window], dtype=np.float64)
    part = np.asarray(b[at - search:at + search + window], dtype=np.float64)
    scores = np.correlate(part, ref, mode="valid")  # one score per shift, -search..search
    return int(np.argmax(scores)) - search


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    folder = tmp_path_factory.mktemp("m4b")
    mp3 = book_mp3(folder, book())
    out = folder / "book.m4b"
    write_m4b(mp3, book(), marks(), out)
    return mp3, out


@needs_ffmpeg
def test_tags_and_cover(made):
    _, out = made
    tags = MP4(out).tags
    assert tags["©nam"] == [book().title]
    assert tags["©alb"] == [book().title]
    assert tags["©ART"] == ["Ann Author"]
    assert tags["©gen"] == ["Audiobook"]
    assert tags["stik"] == [2]  # iTunes "audiobook" media kind
    assert len(tags["covr"]) == 1
    assert bytes(tags["covr"][0]) == png() and tags["covr"][0].imageformat == MP4Cover.FORMAT_PNG
    assert not list(out.parent.glob("*.part"))


@needs_ffmpeg
def test_chapters_at_the_marks(made):
    _, out = made
    chapters = list(MP4(out).chapters)
    assert [c.title for c in chapters] == list(TITLES)
    for chapter, mark in zip(chapters, marks()):
        assert abs(chapter.start - mark.start_ms / 1000) < 0.002


@needs_ffmpeg
def test_duration_and_format(made):
    mp3, out = made
    info = MP4(out).info
    assert info.channels == 1 and info.sample_rate == RATE  # mono stays mono
    assert info.codec.startswith("mp4a")
    assert 40_000 < info.bitrate < 100_000  # noise bursts: the encoder runs over its 64k target
    timescale, played, primed = audio_edit(out)
    mp3_seconds = total_samples() / RATE
    assert abs(played / timescale - mp3_seconds) < 0.05
    assert primed > 0  # the encoder's priming is skipped by the edit list, not played
    # mutagen's length counts the priming too: it ignores the edit list.
    assert abs(info.length - mp3_seconds - primed / RATE) < 0.05


@needs_ffmpeg
def test_audio_is_aligned_with_the_mp3(made):
    """Chapter starts mean the same audio in both files: same length, no shift."""
    mp3, out = made
    reference = array.array("h", miniaudio.decode_file(str(mp3), nchannels=1, sample_rate=RATE).samples)
    decoded = decode_m4b(out)
    assert len(reference) == total_samples()
    assert abs(len(decoded) - len(reference)) <= RATE * 0.05
    for mark in marks()[1:]:
        at = mark.start_ms * RATE // 1000 + 2100  # into the chapter's first burst
        assert abs(lag(reference, decoded, at)) <= 2


@needs_ffmpeg
def test_jpeg_cover_no_author_lower_bitrate(tmp_path, made):
    jpeg = tmp_path / "cover.jpg"
    subprocess.run([FFMPEG, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "color=red:s=16x16",
                    "-frames:v", "1", str(jpeg)], check=True)
    the_book = book(author=None, cover=Cover(jpeg.read_bytes(), "image/jpeg"), language=None)
    out = tmp_path / "b.m4b"
    write_m4b(book_mp3(tmp_path, the_book), the_book, marks(), out, bitrate_kbps=48)
    tags = MP4(out).tags
    assert "©ART" not in tags
    assert bytes(tags["covr"][0]) == jpeg.read_bytes() and tags["covr"][0].imageformat == MP4Cover.FORMAT_JPEG
    assert MP4(out).info.bitrate < 0.85 * MP4(made[1]).info.bitrate  # 48k against the default 64k


@needs_ffmpeg
def test_no_cover(tmp_path):
    the_book = book(cover=None)
    out = tmp_path / "b.m4b"
    write_m4b(book_mp3(tmp_path, the_book), the_book, marks(), out, ffmpeg=FFMPEG)
    tags = MP4(out).tags
    assert "covr" not in tags  # the MP3's own ID3 picture is not carried over either
    assert [c.title for c in MP4(out).chapters] == list(TITLES)


@needs_ffmpeg
def test_ffmpeg_failure_is_one_line_and_leaves_no_file(tmp_path):
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(b"this is not an mp3 file. " * 200)  # random bytes sometimes probe as audio
    out = tmp_path / "book.m4b"
    out.write_bytes(b"an earlier book")
    with pytest.raises(AudioError) as caught:
        write_m4b(garbage, book(), marks(), out)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"ffmpeg could not make book.m4b from {garbage}: ")
    assert "@ 0x" not in message and "Conversion failed" not in message
    assert "Invalid data" in message  # ffmpeg's own reason
    assert out.read_bytes() == b"an earlier book"
    assert not list(tmp_path.glob("*.part")), "the unfinished file is removed"


def test_unrunnable_ffmpeg_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot run ffmpeg at"):
        write_m4b(tmp_path / "book.mp3", book(), [], tmp_path / "b.m4b", ffmpeg=str(tmp_path / "missing"))
    assert not list(tmp_path.iterdir())


def executable(folder: Path, name: str = "ffmpeg") -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_not_found_is_one_line_with_the_how_to(tmp_path):
    with pytest.raises(ConfigError) as caught:
        find_ffmpeg(environ={"PATH": str(tmp_path)}, bundled=lambda: None)
    assert str(caught.value) == (
        "--format m4b needs ffmpeg: install it (e.g. `apt install ffmpeg`, `brew install ffmpeg`) "
        "or `pip install imageio-ffmpeg`, or set NARRATOR_FFMPEG to its path")
    assert caught.value.exit_code == 3


def test_lookup_order(tmp_path):
    (tmp_path / "env").mkdir()
    (tmp_path / "bin").mkdir()
    chosen, on_path = executable(tmp_path / "env", "my-ffmpeg"), executable(tmp_path / "bin")
    path = {"PATH": str(tmp_path / "bin")}
    assert find_ffmpeg(environ={**path, FFMPEG_ENV: str(chosen)}, bundled=lambda: "bundled") == str(chosen)
    assert find_ffmpeg(environ={**path, FFMPEG_ENV: ""}, bundled=lambda: "bundled") == str(on_path)
    assert find_ffmpeg(environ={"PATH": str(tmp_path / "env")}, bundled=lambda: "bundled") == "bundled"


def test_narrator_ffmpeg_must_be_an_executable_file(tmp_path):
    plain = tmp_path / "ffmpeg.txt"
    plain.write_text("not a program")
    for value in (str(plain), str(tmp_path), str(tmp_path / "absent")):
        with pytest.raises(ConfigError) as caught:
            find_ffmpeg(environ={FFMPEG_ENV: value, "PATH": ""}, bundled=lambda: "bundled")
        assert str(caught.value).startswith(f"{FFMPEG_ENV}={value} is not an executable file")
        assert "\n" not in str(caught.value)


def test_ffmetadata_text():
    the_book = Book("A = B; #1 \\ two\nlines", "Ann", (), cover=None)
    text = ffmetadata(the_book, [ChapterMark("One", 0, 2012), ChapterMark(" ", 2012, 5120)])
    assert text == (
        ";FFMETADATA1\n"
        "title=A \\= B\\; \\#1 \\\\ two\\\nlines\n"
        "album=A \\= B\\; \\#1 \\\\ two\\\nlines\n"
        "artist=Ann\n"
        "album_artist=Ann\n"
        "genre=Audiobook\n"
        "media_type=2\n"
        "[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=2012\ntitle=One\n"
        "[CHAPTER]\nTIMEBASE=1/1000\nSTART=2012\nEND=5120\ntitle=Chapter 2\n")


def test_ffmetadata_without_author_or_chapters_and_odd_characters():
    text = ffmetadata(Book("T\r\nU\0V\rW", None, ()), [])
    assert text == ";FFMETADATA1\ntitle=T\\\nUV\\\nW\nalbum=T\\\nUV\\\nW\ngenre=Audiobook\nmedia_type=2\n"


@needs_ffmpeg
def test_escaped_metadata_survives_ffmpeg(tmp_path):
    title = "A = B; #1 \\ two\nlines"
    odd = [ChapterMark("x=1;#2\\3\n4", m.start_ms, m.end_ms) for m in marks()]
    the_book = book(title=title, cover=None)
    out = tmp_path / "b.m4b"
    write_m4b(book_mp3(tmp_path, the_book), the_book, odd, out)
    assert MP4(out).tags["©nam"] == [title]
    assert [c.title for c in MP4(out).chapters] == ["x=1;#2\\3\n4"] * 3
