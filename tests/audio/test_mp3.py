"""MP3 frame parsing against real encoder output (lameenc) and a real decoder (miniaudio).

Observed with lameenc 1.7 / miniaudio 1.59: lameenc writes bare frames, with
no ID3 tag and no Xing/Info frame (even flush() of no input yields one or two
frames). miniaudio decodes exactly frames * samples-per-frame, so the
reader's count equals the decoder's with no fixed offset; given a bare Info
frame (no LAME delay fields) miniaudio skips it and trims nothing. The LAME
encoder delay, about 1105 samples of leading silence, is therefore in the
decoded audio, not trimmed.
"""

from __future__ import annotations

import array
import io
import math
import random
import struct
from functools import cache

import lameenc
import miniaudio
import pytest
from mutagen.apev2 import APEv2
from mutagen.id3 import ID3, TIT2

from narrator.audio.mp3 import FrameHeader, FrameReader, audio_frames, parse_header
from narrator.errors import AudioError


@cache
def encode(rate: int, channels: int, kbps: int, seconds: float = 0.5, freq: int = 440) -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(kbps)
    encoder.set_in_sample_rate(rate)
    encoder.set_out_sample_rate(rate)  # else LAME may pick another rate
    encoder.set_channels(channels)
    encoder.set_quality(7)
    n = int(rate * seconds)
    pcm = array.array("h", (int(8000 * math.sin(2 * math.pi * freq * i / rate))
                            for i in range(n) for _ in range(channels)))
    return bytes(encoder.encode(pcm.tobytes())) + bytes(encoder.flush())


def decoded_samples(data: bytes) -> int:
    return miniaudio.mp3_read_s16(data).num_frames


def id3v2(title: str = "Chapter 1") -> bytes:
    tags = ID3()
    tags.add(TIT2(encoding=3, text=[title]))
    out = io.BytesIO()
    tags.save(out)
    return out.getvalue()


def syncsafe(n: int) -> bytes:
    return bytes((n >> shift) & 0x7F for shift in (21, 14, 7, 0))


def id3v1() -> bytes:
    return b"TAG" + b"Title".ljust(30, b"\0") + b"\0" * 95


def apev2() -> bytes:
    tags = APEv2()
    tags["Title"] = "Chapter 1"
    out = io.BytesIO()
    tags.save(out)
    return out.getvalue()


def run(pieces, check_buffer: bool = False) -> tuple[list[bytes], FrameReader]:
    """Feed pieces, finish, and check no byte is unaccounted for."""
    reader = FrameReader()
    frames: list[bytes] = []
    for piece in pieces:
        frames += reader.feed(piece)
        if check_buffer:  # never holds more than about one frame
            assert len(reader._buf) < 2000
    frames += reader.finish()
    total = sum(len(p) for p in pieces)
    assert sum(map(len, frames)) + reader.skipped_bytes == total
    assert reader.frames == len(frames)
    assert reader.samples == sum(parse_header(f).samples for f in frames)
    return frames, reader


def split(data: bytes) -> list[bytes]:
    frames, _, _ = audio_frames(data)
    assert b"".join(frames) == data
    return frames


# -- headers -----------------------------------------------------------------


@pytest.mark.parametrize(
    "word, expected",
    [
        ("fffb9064", FrameHeader("1", 3, 128000, 44100, False, 2, 417, 1152)),
        ("fffb92c4", FrameHeader("1", 3, 128000, 44100, True, 1, 418, 1152)),
        ("fff340c4", FrameHeader("2", 3, 32000, 22050, False, 1, 104, 576)),
        ("fff364c4", FrameHeader("2", 3, 48000, 24000, False, 1, 144, 576)),
        ("ffe328c4", FrameHeader("2.5", 3, 16000, 8000, False, 1, 144, 576)),
        ("fffd8004", FrameHeader("1", 2, 128000, 44100, False, 2, 417, 1152)),
        ("ffff4204", FrameHeader("1", 1, 128000, 44100, True, 2, 140, 384)),
    ],
)
def test_parse_header_values(word, expected):
    assert parse_header(bytes.fromhex(word)) == expected
    assert parse_header(b"junk" + bytes.fromhex(word), 4) == expected


@pytest.mark.parametrize(
    "word",
    [
        "00000000",
        "7ffb9064",  # no sync
        "ffeb9064",  # reserved version
        "fff99064",  # reserved layer
        "fffb0064",  # free bitrate
        "fffbf064",  # bad bitrate index
        "fffb9c64",  # reserved sample rate
        "fffb9066",  # reserved emphasis
        "ffe540c4",  # MPEG-2.5 layer II does not exist
        "fffb90",  # too short
    ],
)
def test_parse_header_rejects(word):
    assert parse_header(bytes.fromhex(word)) is None


def test_parse_header_offset_past_end():
    assert parse_header(bytes.fromhex("fffb9064"), 1) is None


# -- real encoder output -----------------------------------------------------

FORMATS = [
    (44100, 2, 128),
    (44100, 1, 128),
    (48000, 2, 192),
    (22050, 1, 32),  # MPEG-2: 576 samples per frame
    (24000, 1, 48),
    (22050, 2, 64),
    (8000, 1, 16),  # MPEG-2.5
]


@pytest.mark.parametrize("rate, channels, kbps", FORMATS)
def test_encoded_stream_counts_match_decoder(rate, channels, kbps):
    data = encode(rate, channels, kbps)
    frames, reader = run([data])
    assert b"".join(frames) == data  # lameenc writes no tags and no Info frame
    assert reader.skipped_bytes == 0
    assert reader.sample_rate == rate
    assert all(parse_header(f).size == len(f) for f in frames)
    per_frame = 1152 if rate >= 32000 else 576
    assert reader.samples == len(frames) * per_frame == decoded_samples(data)
    assert audio_frames(data) == (frames, reader.samples, rate)


def test_split_at_every_offset_gives_same_frames():
    chunk_a, chunk_b = encode(22050, 1, 32, 0.1), encode(22050, 1, 32, 0.1, freq=660)
    data = id3v2() + chunk_a + id3v2("Chapter 2") + chunk_b + apev2() + id3v1()
    expected = split(chunk_a) + split(chunk_b)
    for i in range(len(data) + 1):
        frames, reader = run([data[:i], data[i:]])
        assert frames == expected, i
    frames, reader = run([data[i : i + 1] for i in range(len(data))], check_buffer=True)
    assert frames == expected
    assert reader.skipped_bytes == len(data) - len(chunk_a) - len(chunk_b)


def test_random_pieces_keep_buffer_small():
    chunks = [encode(24000, 1, 48, 0.3, freq=f) for f in (300, 400, 500)]
    data = b"".join(id3v2() + c for c in chunks)
    rng = random.Random(7)
    pieces, i = [], 0
    while i < len(data):
        n = rng.randint(1, 700)
        pieces.append(data[i : i + n])
        i += n
    frames, _ = run(pieces, check_buffer=True)
    assert frames == [f for c in chunks for f in split(c)]


# -- tags --------------------------------------------------------------------


def test_id3v2_at_front():
    chunk, tag = encode(44100, 2, 128), id3v2()
    assert tag.startswith(b"ID3")
    frames, reader = run([tag + chunk])
    assert frames == split(chunk)
    assert reader.skipped_bytes == len(tag)


def test_id3v2_between_chunks_and_split_across_feeds():
    a, b, tag = encode(44100, 1, 128), encode(44100, 1, 128, freq=880), id3v2()
    expected = split(a) + split(b)
    assert run([a + tag + b])[0] == expected
    # Split inside the 10-byte header, inside the body, and right at its end.
    for cut in (1, 3, 6, 9, 10, 200, len(tag) - 1, len(tag)):
        frames, reader = run([a + tag[:cut], tag[cut:] + b])
        assert frames == expected, cut
        assert reader.skipped_bytes == len(tag)


def test_id3v2_body_with_sync_words_is_skipped_whole():
    chunk = encode(22050, 1, 32)
    fake = bytes.fromhex("fff340c4") * 100  # looks like a run of frames
    tag = b"ID3\x03\x00\x00" + syncsafe(len(fake)) + fake
    frames, _ = run([tag + chunk])
    assert frames == split(chunk)


def test_id3v2_with_footer():
    chunk, body = encode(22050, 1, 32), b"\0" * 300
    tag = b"ID3\x04\x00\x10" + syncsafe(len(body)) + body + b"3DI\x04\x00\x10" + syncsafe(len(body))
    frames, reader = run([chunk[:500], chunk[500:] + tag + chunk])
    assert frames == split(chunk) * 2
    assert reader.skipped_bytes == len(tag)


def test_id3v1_and_ape_at_end():
    chunk = encode(44100, 2, 128)
    ape, v1 = apev2(), id3v1()
    assert ape.startswith(b"APETAGEX")
    for tail in (v1, ape, ape + v1):
        frames, reader = run([chunk + tail])
        assert frames == split(chunk)
        assert reader.skipped_bytes == len(tail)


def test_headerless_ape_tag_is_skipped():
    chunk = encode(44100, 1, 128)
    item = struct.pack("<II", 9, 0) + b"Title\0Chapter 1"
    footer = b"APETAGEX" + struct.pack("<IIII", 2000, len(item) + 32, 1, 0) + b"\0" * 8
    frames, _ = run([chunk + item + footer + id3v1()])
    assert frames == split(chunk)


def test_frame_followed_directly_by_tag_is_confirmed():
    frame = split(encode(44100, 2, 128))[0]
    assert run([frame + id3v1()])[0] == [frame]
    assert run([frame])[0] == [frame]  # ends exactly at the end of data


# -- Xing / Info / VBRI ------------------------------------------------------


def metadata_frame(frame: bytes, offset: int, tag: bytes) -> bytes:
    """A real frame's header with a zeroed body and a Xing-style tag in it."""
    out = bytearray(frame[:4]) + bytes(len(frame) - 4)
    out[offset : offset + 4] = tag
    return bytes(out)


@pytest.mark.parametrize(
    "rate, channels, kbps, offset",
    [(44100, 2, 128, 36), (44100, 1, 128, 21), (22050, 2, 64, 21), (22050, 1, 32, 13)],
)
@pytest.mark.parametrize("tag", [b"Xing", b"Info"])
def test_xing_info_frame_is_dropped(rate, channels, kbps, offset, tag):
    chunk = encode(rate, channels, kbps)
    audio = split(chunk)
    info = metadata_frame(audio[0], offset, tag)
    frames, reader = run([info + chunk])
    assert frames == audio
    assert reader.skipped_bytes == len(info)
    assert reader.samples == decoded_samples(b"".join(frames)) == decoded_samples(chunk)
    # The tag counts only where the side info ends: one byte off, the frame is audio.
    misplaced = metadata_frame(audio[0], offset + 1, tag)
    frames, reader = run([misplaced + chunk])
    assert frames == [misplaced, *audio] and reader.skipped_bytes == 0


def test_vbri_frame_is_dropped():
    chunk = encode(44100, 2, 128)
    vbri = metadata_frame(split(chunk)[0], 36, b"VBRI")
    frames, reader = run([vbri + chunk])
    assert frames == split(chunk) and reader.skipped_bytes == len(vbri)


def test_metadata_tags_outside_a_frame_are_plain_garbage():
    assert run([b""])[0] == []
    frames, reader = run([b"Xing" * 20])
    assert frames == [] and reader.skipped_bytes == 80
    chunk = encode(44100, 2, 128)
    frames, reader = run([b"Xing" * 20 + chunk])
    assert frames == split(chunk) and reader.skipped_bytes == 80


# -- damage ------------------------------------------------------------------


def test_garbage_between_frames_is_skipped():
    chunk = encode(44100, 2, 128)
    audio = split(chunk)
    header = audio[3][:4]
    garbage = b"junk\xff\xff\x00\xff" + header + b"\x00" * 40 + b"\xff\xfb" + header + b"ID" + b"\xff"
    data = b"".join(audio[:3]) + garbage + b"".join(audio[3:])
    frames, reader = run([data])
    assert frames == audio
    assert reader.skipped_bytes == len(garbage)
    assert all(run([data[:i], data[i:]])[0] == audio for i in range(0, len(data), 37))


def test_garbage_at_start_that_looks_like_a_frame():
    chunk = encode(22050, 1, 32)
    garbage = bytes.fromhex("fff340c4") + b"\x01" * 50 + bytes.fromhex("fff340c4fff3")
    frames, reader = run([garbage + chunk])
    assert frames == split(chunk)
    assert reader.skipped_bytes == len(garbage)


def test_random_garbage_with_many_sync_bytes():
    rng = random.Random(1)
    chunk = encode(24000, 1, 48)
    audio = split(chunk)

    def junk() -> bytes:  # a quarter of it 0xFF, so candidate sync words abound
        return bytes(0xFF if rng.random() < 0.25 else rng.randrange(256) for _ in range(rng.randint(1, 300)))

    # After junk a frame counts once the next header confirms it, so junk
    # comes after every other frame. It starts with a non-0xFF byte: a
    # header-like word right after an accepted frame would be trusted.
    data = b"".join(f + (b"\0" + junk() if i % 2 else b"") for i, f in enumerate(audio))
    frames, _ = run([data])
    assert frames == audio


def test_truncated_final_frame_is_dropped():
    chunk = encode(44100, 2, 128)
    audio = split(chunk)
    data = chunk[:-100]
    frames, reader = run([data])
    assert frames == audio[:-1]
    assert reader.skipped_bytes == len(audio[-1]) - 100
    assert run([data[:1000], data[1000:]])[0] == audio[:-1]
    assert run([chunk + audio[0][:3]])[0] == audio  # a stub of a header
    assert run([chunk + id3v2()[:7]])[0] == audio  # a stub of a tag


def test_mixed_sample_rates_raise():
    a, b = encode(44100, 1, 128), encode(22050, 1, 32)
    for pieces in ([a + b], [a, id3v2() + b], [a[:-5], a[-5:] + b]):
        with pytest.raises(AudioError) as caught:
            run(pieces)
        message = str(caught.value)
        assert "\n" not in message and "44100 Hz" in message and "22050 Hz" in message


def test_mixed_channels_raise():
    with pytest.raises(AudioError, match="mono"):
        run([encode(44100, 2, 128) + encode(44100, 1, 128)])


# -- joining and timing ------------------------------------------------------


def test_frames_come_out_as_soon_as_complete():
    # Callers read `samples` between chunks to place captions, so a
    # well-formed stream must not be held back: only the first frame waits,
    # for the next header to confirm it.
    audio = split(encode(22050, 1, 32))
    reader = FrameReader()
    assert reader.feed(id3v2() + audio[0]) == []
    assert reader.feed(audio[1]) == audio[:2]
    for frame in audio[2:]:
        assert reader.feed(frame) == [frame]
    assert reader.finish() == []
    assert reader.samples == 576 * len(audio)


def test_joined_chunks_decode_to_counted_samples():
    rng = random.Random(3)
    chunks = [encode(24000, 1, 48, s, freq=f) for s, f in ((0.3, 300), (0.55, 350), (0.12, 400), (0.8, 450))]
    reader, book = FrameReader(), []
    for chunk in chunks:
        data = id3v2() + chunk + id3v1()
        cuts = sorted(rng.sample(range(1, len(data)), 5))
        for lo, hi in zip([0] + cuts, cuts + [len(data)]):
            book += reader.feed(data[lo:hi])
    book += reader.finish()
    joined = b"".join(book)
    assert joined == b"".join(chunks)
    assert reader.samples == decoded_samples(joined) == sum(audio_frames(c)[1] for c in chunks)
    assert reader.sample_rate == 24000


def test_audio_frames_of_empty_or_junk():
    assert audio_frames(b"") == ([], 0, 0)
    assert audio_frames(b"not audio at all") == ([], 0, 0)
