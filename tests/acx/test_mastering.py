"""Mastering for --acx: room tone, chapter gain, low-pass and limiter, and
the proof that matters: mastered audio, encoded at 192 kbps CBR and decoded
again, passes every ACX rule where the unmastered audio fails."""

from __future__ import annotations

import math

import numpy as np
import pytest

from narrator.acx.check import check_paths
from narrator.acx.mastering import (
    ATTACK_DB_PER_MS,
    CEILING_DB,
    HOLD_MS,
    MAX_GAIN_DB,
    RELEASE_DB_PER_MS,
    ROOM_TONE_DB,
    TARGET_RMS_DB,
    _limit,  # the limiter without its meter between samples
    chapter_gain_db,
    limit,
    lowpass,
    lowpass_band,
    master,
    room_tone,
)
from narrator.acx.rules import NOISE_FLOOR_MAX_DB, RMS_DB, SOUND_THRESHOLD_DB, Levels
from narrator.audio.pcm import decode_frames
from tests.acx.test_rules import RATE, at_db, by_rule, encode_mp3, noise, peak_db, rms_db, speech

CEILING = 10 ** (CEILING_DB / 20)


def tone(seconds: float, hz: float, amplitude: float, rate: int = RATE) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * hz * np.arange(round(seconds * rate)) / rate)


# ---- room tone -----------------------------------------------------------------

def test_room_tone_is_quiet_noise_at_exactly_its_level():
    x = room_tone(RATE * 3, RATE)
    assert x.shape == (RATE * 3, 1) and x.dtype == np.float32
    assert rms_db(x) == pytest.approx(ROOM_TONE_DB, abs=0.01)
    levels = Levels.of(x, RATE)
    assert levels.head_seconds is None  # never "sound"
    assert levels.noise_floor_db == pytest.approx(ROOM_TONE_DB, abs=0.5)
    assert levels.noise_floor_db < NOISE_FLOOR_MAX_DB - 9
    assert peak_db(x) < SOUND_THRESHOLD_DB
    # Not digital silence: no 10 ms stretch of it is all zeros.
    assert np.all(np.abs(x[: len(x) // 441 * 441, 0]).reshape(-1, 441).max(axis=1) > 0)


def test_room_tone_is_deterministic_and_stereo_channels_match():
    a = room_tone(RATE, RATE, channels=2, seed=3)
    assert np.array_equal(a, room_tone(RATE, RATE, channels=2, seed=3))
    assert not np.array_equal(a[:, 0], room_tone(RATE, RATE, seed=4)[:, 0])
    assert np.array_equal(a[:, 0], a[:, 1])
    assert room_tone(0, RATE, channels=2).shape == (0, 2)
    assert rms_db(room_tone(RATE, RATE, level_db=-65)) == pytest.approx(-65, abs=0.01)


def test_room_tone_is_pink_with_nothing_below_hearing():
    x = room_tone(RATE * 4, RATE)[:, 0].astype(np.float64)
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)

    def octave(low):
        return power[(freqs >= low) & (freqs < 2 * low)].sum()

    # Equal energy per octave: the octaves at 100 Hz and 3.2 kHz within 1 dB.
    assert 10 * math.log10(octave(100) / octave(3200)) == pytest.approx(0, abs=1)
    # Shaped over a longer block and cut, so a trace leaks below 20 Hz.
    assert power[freqs < 20].sum() < 0.005 * power.sum()


def test_room_tone_survives_mp3_encoding():
    x = room_tone(RATE * 3, RATE)
    decoded, _ = decode_frames(encode_mp3(x))
    body = decoded[2000:-2000, 0]
    assert rms_db(body) == pytest.approx(ROOM_TONE_DB, abs=1.0)
    assert np.all(np.abs(body[: len(body) // 441 * 441]).reshape(-1, 441).max(axis=1) > 0)


# ---- low-pass ------------------------------------------------------------------

def test_lowpass_keeps_speech_in_place_and_removes_what_lame_would_cut():
    low = tone(1, 1000, 0.5)
    inner = slice(500, -500)  # the tone's abrupt start and end are broadband
    assert np.max(np.abs(lowpass(low)[inner] - low[inner])) < 1e-5  # flat and without delay
    high = tone(1, 19000, 0.5)
    assert rms_db(lowpass(high)[1000:-1000]) < rms_db(high) - 60
    stereo = np.stack([low, high], axis=1)
    out = lowpass(stereo)
    assert out.shape == stereo.shape
    assert np.max(np.abs(out[inner, 0] - low[inner])) < 1e-5
    # At a service's 24 kHz the cut sits under LAME's resampler's roll-off: 9.6-10.8 kHz.
    assert tuple(lowpass_band(24000)) == (0.8 * 12000, 0.9 * 12000)
    at_24k = tone(1, 11000, 0.5, rate=24000)
    assert rms_db(lowpass(at_24k, rate=24000)[1000:-1000]) < rms_db(at_24k) - 60


# ---- limiter -------------------------------------------------------------------

def peaky(seconds: float = 6, db: float = -12, seed: int = 0) -> np.ndarray:
    """Speech with plosive bursts, loud enough that they cross the ceiling by 10 dB or more."""
    x = at_db(speech(seconds, seed=seed, plosives=True), db)
    assert peak_db(x) > CEILING_DB + 10
    return x


def test_limited_peaks_stay_under_the_ceiling():
    x = peaky()
    y = limit(x)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.abs(y).max() <= np.float32(CEILING)
    assert limit(x, -6.0).max() <= np.float32(10 ** (-6 / 20))


def test_audio_under_the_ceiling_comes_back_unchanged():
    x = (tone(1, 440, CEILING * 0.99) * np.hanning(RATE)).astype(np.float32)  # no abrupt, broadband edges
    assert np.array_equal(limit(x), x)
    assert limit(np.zeros(0)).shape == (0,)


def test_the_limiter_does_not_hard_clip():
    x = peaky()
    at_ceiling = lambda y: int(np.sum(np.abs(y) >= CEILING * 0.999))  # noqa: E731
    clipped = np.clip(x, -CEILING, CEILING)
    assert at_ceiling(clipped) > 20 * max(1, at_ceiling(limit(x)))


BURST_AT = RATE // 2


def burst_on_tone(amplitude: float) -> np.ndarray:
    """A steady 200 Hz tone under the ceiling and, centred at 0.5 s, a 3 ms
    burst of 1 kHz peaking at `amplitude`: smooth, so its peak between
    samples is its peak at a sample."""
    x = tone(1.0, 200, 0.2)
    n = round(0.003 * RATE)
    burst = amplitude * np.hanning(n) * np.cos(2 * np.pi * 1000 * (np.arange(n) - n // 2) / RATE)
    x[BURST_AT - n // 2:BURST_AT - n // 2 + n] += burst
    return x


def gain_db_of(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The limiter's gain in dB at every sample loud enough to divide by, and where."""
    where = np.flatnonzero(np.abs(x) > 0.01)
    return 20 * np.log10(limit(x)[where] / x[where]), where


def test_the_gain_glides_no_faster_than_the_attack():
    gain, where = gain_db_of(burst_on_tone(2.0))
    steps = np.abs(np.diff(gain))[np.diff(where) == 1]  # neighbouring samples only
    assert steps.max() <= 1.05 * ATTACK_DB_PER_MS * 1000 / RATE


def test_gain_falls_before_a_peak_and_recovers_slowly_after_it():
    x = burst_on_tone(2.0)
    need = 20 * math.log10(np.abs(x).max() / CEILING)
    gain, where = gain_db_of(x)

    def reduction_at(offset_ms):
        # the most reduction in the 1 ms around a moment (zero crossings are skipped)
        near = np.abs(where - (BURST_AT + offset_ms * RATE / 1000)) < RATE / 2000
        return -float(gain[near].min())

    ahead = HOLD_MS + need / ATTACK_DB_PER_MS  # the reduction begins this early
    behind = 1 + HOLD_MS + need / RELEASE_DB_PER_MS  # and is gone this late
    assert reduction_at(-(ahead + 2)) < 1e-5
    # Look-ahead: half way along the attack ramp, half the reduction is there.
    assert reduction_at(-(HOLD_MS + need / ATTACK_DB_PER_MS / 2)) == pytest.approx(need / 2, abs=1.0)
    assert reduction_at(0) == pytest.approx(need, abs=0.5)
    # Release: half way back after the burst, no pumping back up at once.
    assert reduction_at(HOLD_MS + need / RELEASE_DB_PER_MS / 2) == pytest.approx(need / 2, abs=1.0)
    assert reduction_at(behind + 2) < 1e-5


def test_channels_share_one_gain():
    left = peaky()
    right = 0.5 * left  # the right channel never crosses the ceiling by itself
    y = limit(np.stack([left, right], axis=1))
    assert np.abs(y).max() <= np.float32(CEILING)
    loud = np.abs(right) > 1e-3
    assert np.allclose(y[loud, 0] / left[loud], y[loud, 1] / right[loud], rtol=1e-5)
    assert np.any(y[loud, 1] / right[loud] < 0.9)  # right is turned down with left


def test_a_block_that_starts_on_a_peak_is_still_held():
    x = np.concatenate((np.full(10, 0.99), tone(0.5, 300, 0.1)))
    assert np.abs(limit(x)).max() <= np.float32(CEILING)


# ---- gain and room tone lengths --------------------------------------------------

def test_chapter_gain_brings_the_rms_to_the_target():
    x = at_db(speech(5), -31.3)
    levels = Levels.of(x, RATE)
    assert chapter_gain_db(levels) == pytest.approx(TARGET_RMS_DB + 31.3, abs=1e-6)
    # With the room tone it will be framed by, the whole file lands on the target.
    gain = chapter_gain_db(levels, padding_seconds=3.25)
    framed = np.concatenate((np.zeros(round(0.75 * RATE)), x * 10 ** (gain / 20),
                             np.zeros(round(2.5 * RATE))))
    assert rms_db(framed) == pytest.approx(TARGET_RMS_DB, abs=0.01)


def test_chapter_gain_does_not_blow_up_silence():
    assert chapter_gain_db(Levels.of(np.zeros(RATE), RATE)) == 0.0
    assert chapter_gain_db(Levels.of(at_db(speech(2), -70), RATE)) == MAX_GAIN_DB


# What --acx aims a chapter's head and tail at (its --lead-in and --chapter-pause defaults).
HEAD_TARGET_S, TAIL_TARGET_S = 0.75, 2.0


def room_tone_seconds(levels: Levels) -> tuple[float, float]:
    """Room tone to add before and after speech so its head and tail land on
    the targets, counting the quiet it already has. (0, 0) for no sound."""
    head, tail = levels.head_seconds, levels.tail_seconds
    if head is None or tail is None:
        return 0.0, 0.0
    return max(0.0, HEAD_TARGET_S - head), max(0.0, TAIL_TARGET_S - tail)


def test_room_tone_seconds_count_the_quiet_the_speech_already_has():
    x = np.concatenate((np.zeros(RATE // 5), at_db(speech(2), -20), np.zeros(RATE)))
    levels = Levels.of(x, RATE)
    head, tail = room_tone_seconds(levels)
    assert head == pytest.approx(HEAD_TARGET_S - levels.head_seconds)
    assert tail == pytest.approx(TAIL_TARGET_S - levels.tail_seconds)
    long_head = np.concatenate((np.zeros(RATE * 2), at_db(speech(1), -20)))
    assert room_tone_seconds(Levels.of(long_head, RATE))[0] == 0.0
    assert room_tone_seconds(Levels.of(np.zeros(RATE), RATE)) == (0.0, 0.0)


# ---- the whole chain, encoded and checked ------------------------------------------

def chapter(paragraphs: list[np.ndarray], pause: float, channels: int, mastered: bool | str = True,
            rate: int = RATE) -> np.ndarray:
    """Paragraphs through the mastering chain, as --acx assembles a chapter:
    room tone, paragraphs apart by room tone, room tone. `mastered` may be
    "gain only" to leave the low-pass and limiter out."""
    frames = [p.reshape(len(p), channels) for p in paragraphs]
    gap = room_tone(round(pause * rate), rate, channels, seed=2)
    levels = Levels.of(np.concatenate([part for p in frames for part in (p, gap)][:-1]), rate)
    head, tail = room_tone_seconds(levels)
    gain = chapter_gain_db(levels, padding_seconds=head + tail)
    if mastered == "gain only":
        frames = [p * 10 ** (gain / 20) for p in frames]
    elif mastered:
        frames = [master(p, gain, rate=rate) for p in frames]  # one paragraph at a time
    body = [part for p in frames for part in (p, gap)][:-1]
    out = np.concatenate([room_tone(round(head * rate), rate, channels)] + body
                         + [room_tone(round(tail * rate), rate, channels, seed=1)])
    return out[:, 0] if channels == 1 else out


def quiet_peaky_paragraphs(channels: int, rate: int = RATE) -> list[np.ndarray]:
    """Too quiet for ACX (-27 dB) yet peaky: full-band plosive bursts far
    over the -3 dB peak once the gain brings the RMS up."""
    paragraphs = []
    for seed in range(3):
        voice = at_db(speech(4, rate, seed=seed, plosives=True), -27)
        p = voice + noise(len(voice) / rate, -75, rate, seed=seed)  # the service's faint hiss
        paragraphs.append(p if channels == 1 else np.stack([p, 0.8 * p], axis=1))
    return paragraphs


# A service's 22.05 or 24 kHz audio is encoded at 44.1 kHz: LAME resamples
# it, and peaks between the source's samples become samples.
@pytest.mark.parametrize("channels, rate", [(1, RATE), (2, RATE), (1, 24000), (1, 22050)])
def test_mastered_audio_encoded_at_192_kbps_passes_every_rule(tmp_path, channels, rate):
    paragraphs = quiet_peaky_paragraphs(channels, rate)
    path = tmp_path / "01 - Chapter.mp3"
    path.write_bytes(encode_mp3(chapter(paragraphs, 0.6, channels, rate=rate), rate, out_rate=RATE))
    report = check_paths(path)
    failures = [r.detail for f in report.files for r in f.failures]
    assert report.passed, failures
    results = by_rule(report.files[0].results)
    # Aimed at -20; limiting plosives this extreme takes off about 1.5 dB,
    # and 192 kbps MP3 about 0.3: still 1 dB inside the range.
    assert RMS_DB[0] + 1 <= results["rms"].measured <= TARGET_RMS_DB
    assert results["peak"].measured <= CEILING_DB + 0.2
    assert results["head"].measured == pytest.approx(HEAD_TARGET_S, abs=0.05)  # plus the codec's delay
    assert results["tail"].measured == pytest.approx(TAIL_TARGET_S, abs=0.1)


@pytest.mark.parametrize("rate", [RATE, 24000])
def test_the_same_audio_fails_without_the_whole_chain(tmp_path, rate):
    paragraphs = quiet_peaky_paragraphs(1, rate)
    failing = {}
    for mastered in (False, "gain only"):
        path = tmp_path / f"{mastered}.mp3"
        path.write_bytes(encode_mp3(chapter(paragraphs, 0.6, 1, mastered, rate), rate, out_rate=RATE))
        failing[mastered] = {r.rule for r in check_paths(path).files[0].failures}
    assert "rms" in failing[False]  # too quiet as it came
    assert failing["gain only"] == {"peak"}  # loud enough, but its plosives break the peak rule


def test_limiting_sample_peaks_alone_is_not_enough_once_lame_resamples(tmp_path):
    """Why the limiter meters between samples: the same 24 kHz chapter with
    a sample-peak limiter (no low-pass, peaks of samples only) fails."""
    rate = 24000
    paragraphs = quiet_peaky_paragraphs(1, rate)
    levels = Levels.of(np.concatenate(paragraphs), rate)
    gain = chapter_gain_db(levels, padding_seconds=3.25)
    limited = [_sample_peak_limit(p * 10 ** (gain / 20)) for p in paragraphs]
    assert max(np.abs(p).max() for p in limited) <= np.float32(CEILING)
    x = np.concatenate([room_tone(round(0.75 * rate), rate)[:, 0], *limited,
                        room_tone(round(2.5 * rate), rate)[:, 0]])
    path = tmp_path / "samples-only.mp3"
    path.write_bytes(encode_mp3(x, rate, out_rate=RATE))
    assert "peak" in {r.rule for r in check_paths(path).files[0].failures}


def _sample_peak_limit(x: np.ndarray) -> np.ndarray:
    frames = x.astype(np.float32).reshape(len(x), 1)
    return _limit(frames, [], CEILING, 24000)[:, 0]
