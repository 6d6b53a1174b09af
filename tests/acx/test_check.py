"""`narrator check` on real MP3 files: synthesized audio at known levels,
encoded with lameenc, decoded by miniaudio, judged against ACX's rules.

Expected numbers come from the source signal (numpy over the samples that
were encoded) and from the codec's known delay, within a tolerance for
what MP3 encoding changes."""

from __future__ import annotations

import io
import json

import miniaudio
import numpy as np
import pytest
from mutagen.id3 import ID3, TIT2

from narrator.acx.check import BookReport, check_paths, format_report, report_json
from narrator.audio.encode import CODEC_DELAY_SAMPLES
from narrator.audio.mp3 import audio_frames
from narrator.audio.pcm import decode_batches, decode_frames, read_frames, to_s16
from narrator.errors import AudioError, DocumentError, ExitCode
from tests.acx.test_rules import RATE, book_audio, by_rule, encode_mp3, peak_db, rms_db, sound_span

# MP3 at 192 kbps measures a little under its source (LAME's quantizer
# rounds towards zero): about 0.3 dB on tones and speech. A peak is one
# sample of a waveform the codec reshapes, so it moves more.
LEVEL_TOLERANCE_DB = 0.5
PEAK_TOLERANCE_DB = 1.0


def write(folder, name: str, x: np.ndarray, rate: int = RATE, kbps: int = 192):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_mp3(x, rate, kbps))
    return path


def failing(report: BookReport, index: int = 0) -> set[str]:
    return {r.rule for r in report.files[index].failures}


@pytest.fixture(scope="module")
def good():
    """Audio made to the rules: 0.75 s head, speech at -20 dB, 2.5 s tail, -70 dB bed."""
    return book_audio()


def test_a_file_made_to_the_rules_passes_and_measures_as_its_source(tmp_path, good):
    path = write(tmp_path, "01 - Opening.mp3", good)
    report = check_paths(path)
    assert report.passed and report.exit_code == ExitCode.OK
    assert report.files[0].name == "01 - Opening.mp3"
    results = by_rule(report.files[0].results)
    assert results["rms"].measured == pytest.approx(rms_db(good), abs=LEVEL_TOLERANCE_DB)
    assert results["peak"].measured == pytest.approx(peak_db(good), abs=PEAK_TOLERANCE_DB)
    assert results["noise-floor"].measured == pytest.approx(-70, abs=1.5)
    # The decoded file starts with the codec's delay and ends with the last frame's padding.
    facts = report.files[0].facts
    delay = CODEC_DELAY_SAMPLES / RATE
    padding = facts.duration - len(good) / RATE - delay
    head, tail = sound_span(good)
    assert results["head"].measured == pytest.approx(head + delay, abs=0.015)
    assert results["tail"].measured == pytest.approx(tail + padding, abs=0.015)
    stream = (facts.sample_rate, facts.channels, facts.bitrates, facts.cbr)
    assert stream == (RATE, 1, frozenset({192_000}), True)


def test_stream_facts_count_the_frames_the_decoder_plays(tmp_path, good):
    path = write(tmp_path, "a.mp3", good)
    facts = check_paths(path).files[0].facts
    assert facts.duration * RATE == miniaudio.mp3_read_f32(path.read_bytes()).num_frames


def with_burst(x: np.ndarray, amplitude: float) -> np.ndarray:
    """x with 20 ms of a 1 kHz tone at `amplitude` in the middle: a peak
    MP3 reproduces closely, unlike a one-sample click."""
    x = x.copy()
    start, n = len(x) // 2, RATE // 50
    x[start:start + n] = amplitude * np.sin(2 * np.pi * 1000 * np.arange(n) / RATE)
    return x


@pytest.mark.parametrize("make, rule, expected", [
    (lambda: book_audio(db=-27), "rms", lambda x: rms_db(x)),
    # Loud, its peaks clipped at -6 dB so that only the RMS breaks a rule.
    (lambda: np.clip(book_audio(db=-15), -0.5, 0.5), "rms", lambda x: rms_db(x)),
    (lambda: with_burst(book_audio(), 0.9), "peak", lambda x: peak_db(x)),
    (lambda: book_audio(bed_db=-55), "noise-floor", lambda x: -55),
    (lambda: book_audio(head=0.2), "head", lambda x: sound_span(x)[0] + CODEC_DELAY_SAMPLES / RATE),
    (lambda: book_audio(head=1.4), "head", lambda x: sound_span(x)[0] + CODEC_DELAY_SAMPLES / RATE),
    (lambda: book_audio(tail=0.5), "tail", None),
    (lambda: book_audio(tail=5.5), "tail", None),
], ids=["quiet", "loud", "peak", "noise-floor", "short-head", "long-head", "short-tail", "long-tail"])
def test_each_level_rule_fails_alone_with_the_measured_value(tmp_path, make, rule, expected):
    x = make()
    report = check_paths(write(tmp_path, "x.mp3", x))
    assert failing(report) == {rule}
    result = by_rule(report.files[0].results)[rule]
    if expected is not None:
        tolerances = {"head": 0.015, "noise-floor": 1.0, "peak": PEAK_TOLERANCE_DB}
        tolerance = tolerances.get(rule, LEVEL_TOLERANCE_DB)
        assert result.measured == pytest.approx(expected(x), abs=tolerance)
    assert result.off_by > 0 and "the" in result.detail
    assert report.exit_code == ExitCode.CHECK_FAILED


@pytest.mark.parametrize("rate, kbps, rules", [
    (48000, 192, {"sample-rate"}),
    (44100, 128, {"bitrate"}),
    (22050, 64, {"sample-rate", "bitrate"}),
    (44100, 320, set()),
])
def test_sample_rate_and_bit_rate_come_from_the_frames(tmp_path, rate, kbps, rules):
    x = book_audio(rate=rate)
    report = check_paths(write(tmp_path, "x.mp3", x, rate, kbps))
    assert failing(report) == rules
    facts = report.files[0].facts
    assert facts.sample_rate == rate and facts.bitrates == frozenset({kbps * 1000})


def test_frames_of_two_bit_rates_are_not_constant_bit_rate(tmp_path, good):
    half = len(good) // 2
    path = tmp_path / "vbr.mp3"
    path.write_bytes(encode_mp3(good[:half], kbps=192) + encode_mp3(good[half:], kbps=256))
    report = check_paths(path)
    assert failing(report) == {"cbr"}
    assert "2 bit rates from 192 to 256 kbps" in by_rule(report.files[0].results)["cbr"].detail


def info_frame() -> bytes:
    """A Xing "Info" frame as LAME writes at the head of a CBR file, at 128 kbps
    (a bit rate the audio does not use, so counting it would say VBR)."""
    header = bytes((0xFF, 0xFB, 0x90, 0xC4))  # MPEG-1 layer III, 128 kbps, 44.1 kHz, mono
    frame = bytearray(417)  # 144 * 128000 // 44100
    frame[:4] = header
    frame[21:25] = b"Info"
    return bytes(frame)


def test_tags_and_the_info_frame_are_not_audio(tmp_path, good):
    audio = encode_mp3(good)
    path = tmp_path / "tagged.mp3"
    path.write_bytes(id3_tag() + info_frame() + audio)
    report = check_paths(path)
    assert report.passed, format_report(report)
    _, samples, _ = audio_frames(audio)
    assert report.files[0].facts.duration == samples / RATE


def test_stereo_files_are_measured_over_both_channels(tmp_path, good):
    stereo = np.stack([good, 0.9 * good], axis=1)
    report = check_paths(write(tmp_path, "s.mp3", stereo))
    assert report.passed and report.files[0].facts.channels == 2
    results = by_rule(report.files[0].results)
    assert results["rms"].measured == pytest.approx(rms_db(stereo), abs=LEVEL_TOLERANCE_DB)


# ---- folders -------------------------------------------------------------------

def test_a_folder_is_checked_in_name_order_with_the_book_and_its_chapters(tmp_path, good):
    write(tmp_path, "Book/02 - Two.mp3", good)
    write(tmp_path, "Book/01 - One.mp3", good)
    write(tmp_path, "Book.mp3", good)
    write(tmp_path, "Another.mp3", good)
    (tmp_path / "Book" / "03 - Three.mp3.part").write_bytes(encode_mp3(good))  # unfinished
    (tmp_path / "Book.srt").write_text("1\n", encoding="utf-8")
    (tmp_path / "._Book.mp3").write_bytes(b"\0\5\x16\7")  # a macOS resource fork
    report = check_paths(tmp_path)
    assert [f.name for f in report.files] == [
        "Another.mp3", "Book.mp3", "Book/01 - One.mp3", "Book/02 - Two.mp3"
    ]
    assert report.passed
    assert report.book[0].detail == "Channels: mono in all 4 files"


def test_mono_and_stereo_in_one_book_fail_the_book_rule(tmp_path, good):
    write(tmp_path, "01 - One.mp3", good)
    write(tmp_path, "02 - Two.mp3", np.stack([good, good], axis=1))
    write(tmp_path, "03 - Three.mp3", good)
    report = check_paths(tmp_path)
    assert all(f.passed for f in report.files)
    assert not report.passed and report.exit_code == ExitCode.CHECK_FAILED
    assert report.book[0].detail == "Channels: mixed (2 mono, 1 stereo); not mono: 02 - Two.mp3"


def test_an_unreadable_file_in_a_folder_fails_alone(tmp_path, good):
    write(tmp_path, "01 - One.mp3", good)
    (tmp_path / "02 - Two.mp3").write_text("not audio at all", encoding="utf-8")
    report = check_paths(tmp_path)
    assert report.files[0].passed
    bad = report.files[1]
    assert not bad.passed and "no MPEG audio frames" in bad.error and "02 - Two.mp3" in bad.error
    assert report.book[0].passed  # the one readable file agrees with itself


def _zip_of_mp3(path):
    """A read-along EPUB's shape: MP3s stored in a zip, which a decoder would find frames in."""
    import zipfile

    with zipfile.ZipFile(path, "w") as epub:
        epub.writestr("mimetype", "application/epub+zip")
        epub.writestr("OEBPS/001.mp3", encode_mp3(book_audio(seconds=2)), zipfile.ZIP_STORED)
    return path


@pytest.mark.parametrize("setup, kind, words", [
    (lambda d: d / "missing.mp3", DocumentError, "no such file or folder"),
    (lambda d: d, DocumentError, "no .mp3 files in this folder"),
    (lambda d: _text(d / "notes.txt"), AudioError, "not an MP3 file"),
    (lambda d: _id3_only(d / "empty.mp3"), AudioError, "not an MP3 file"),
    (lambda d: _zip_of_mp3(d / "book.read-along.epub"), AudioError, "a zip archive (an EPUB?)"),
])
def test_nothing_to_check_is_one_clear_error(tmp_path, setup, kind, words):
    path = setup(tmp_path)
    with pytest.raises(kind) as caught:
        check_paths(path)
    message = str(caught.value)
    assert words in message and str(path) in message and "\n" not in message
    assert caught.value.exit_code == (ExitCode.DOCUMENT if kind is DocumentError else ExitCode.AUDIO)


def test_a_file_that_changes_format_part_way_is_not_one_stream(tmp_path):
    path = tmp_path / "joined.mp3"
    path.write_bytes(encode_mp3(book_audio(seconds=2)) + encode_mp3(book_audio(seconds=2, rate=48000), 48000))
    with pytest.raises(AudioError, match="different formats") as caught:
        check_paths(path)
    assert str(path) in str(caught.value)


def _text(path):
    path.write_text("Chapter one.\n", encoding="utf-8")
    return path


def id3_tag() -> bytes:
    out = io.BytesIO()
    tags = ID3()
    tags.add(TIT2(encoding=3, text=["Chapter 1"]))
    tags.save(out)
    return out.getvalue()


def _id3_only(path):
    path.write_bytes(id3_tag())
    return path


# ---- the report ----------------------------------------------------------------

def test_the_report_names_each_file_and_what_fails_by_how_much(tmp_path, good):
    write(tmp_path, "01 - One.mp3", good)
    write(tmp_path, "02 - Two.mp3", book_audio(db=-27, head=0.2))
    (tmp_path / "03 - Three.mp3").write_bytes(b"junk")
    report = check_paths(tmp_path)
    lines = format_report(report)
    two = by_rule(report.files[1].results)
    assert lines[0] == "PASS  01 - One.mp3"
    assert lines[1] == f"FAIL  02 - Two.mp3: {two['rms'].detail}; {two['head'].detail}"
    assert f"{two['rms'].off_by:.1f} dB below the -23 dB minimum" in lines[1]
    assert lines[2].startswith("FAIL  03 - Three.mp3: unreadable: ")
    table = lines[lines.index("") + 1:]
    assert table[0].split()[:3] == ["file", "length", "RMS"]
    row = next(line for line in table if line.startswith("02 - Two.mp3"))
    assert f"{two['rms'].measured:.1f}!" in row and f"{two['head'].measured:.2f}!" in row
    one = next(line for line in table if line.startswith("01 - One.mp3"))
    assert "!" not in one and "44.1 kHz mono 192k CBR" in one
    assert lines[-1] == "2 of 3 files fail the ACX checks."


def test_the_json_report_is_plain_data(tmp_path):
    write(tmp_path, "silent.mp3", np.zeros(RATE * 3))
    report = check_paths(tmp_path)
    data = json.loads(json.dumps(report_json(report), allow_nan=False))
    entry = data["files"][0]
    assert data["passed"] is False and entry["file"] == "silent.mp3"
    assert entry["stream"] == {"sample_rate": RATE, "channels": 1, "bitrates_kbps": [192], "cbr": True,
                               "duration_s": round(report.files[0].facts.duration, 3), "layer": 3}
    rms = next(r for r in entry["rules"] if r["rule"] == "rms")
    assert rms["passed"] is False and rms["measured"] is None and "digital silence" in rms["detail"]
    assert data["book"][0]["rule"] == "channels"


# ---- decoding ------------------------------------------------------------------

@pytest.mark.parametrize("kbps, channels", [(32, 1), (192, 1), (192, 2)])
def test_batched_decoding_is_bit_identical_to_decoding_at_once(tmp_path, good, kbps, channels):
    x = good[: RATE * 3] if channels == 1 else np.stack([good[: RATE * 3], good[RATE: RATE * 4]], axis=1)
    path = tmp_path / "x.mp3"
    path.write_bytes(encode_mp3(x, kbps=kbps))
    whole, _ = decode_frames(path.read_bytes())
    for batch in (1, 7, 500):
        blocks = list(decode_batches(read_frames(path), batch_frames=batch))
        assert all(b.shape[1] == channels for b in blocks)
        assert np.array_equal(np.concatenate(blocks), whole), batch


def test_decode_frames_refuses_what_is_not_mp3():
    with pytest.raises(AudioError, match="do not start with an MPEG frame header"):
        decode_frames(b"RIFF....WAVEfmt ")


def test_16_bit_pcm_round_trips_through_the_decoder_scale():
    x = np.array([0.0, 0.5, -0.5, -1.0, 1.0], np.float32)
    pcm = np.frombuffer(to_s16(x), "<i2")
    assert list(pcm) == [0, 16384, -16384, -32768, 32767]
    assert np.array_equal(pcm[:4] / 32768, x[:4])
