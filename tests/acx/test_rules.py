"""ACX levels and rules over synthesized audio arrays (the pure core).

The expected values are derived from the signals themselves (numpy over
the same samples, or the closed form of a sine), never typed in. Decoded
MP3 files are in test_check.py; these helpers are shared with it and with
test_mastering.py.
"""

from __future__ import annotations

import math

import lameenc
import numpy as np
import pytest

from narrator.acx.rules import (
    HEAD_S,
    MAX_MINUTES,
    MIN_BITRATE,
    NOISE_FLOOR_MAX_DB,
    PEAK_MAX_DB,
    RMS_DB,
    SAMPLE_RATE,
    SOUND_THRESHOLD_DB,
    TAIL_S,
    Levels,
    StreamFacts,
    judge,
    judge_book,
)
from narrator.audio.pcm import to_s16

RATE = 44100


# ---- synthesized audio, shared by the ACX test files ---------------------------

def speech(seconds: float, rate: int = RATE, seed: int = 0, plosives: bool = False) -> np.ndarray:
    """Speech-like mono audio at 1.0 RMS: voiced syllables (harmonics of a
    100-160 Hz pitch under an attack/release envelope) grouped into words,
    with fricative noise and pauses between words. It starts and ends on a
    syllable. `plosives` adds 6 ms bursts 12 dB over the syllables' level:
    the sharp peaks a limiter exists for."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * rate))
    t = 0
    while True:
        syllables = rng.integers(1, 4)
        for _ in range(syllables):
            n = int(rng.uniform(0.12, 0.28) * rate)
            if t + n > len(out):
                break
            out[t:t + n] += _syllable(n, rate, rng)
            if plosives and rng.random() < 0.3:
                burst = int(0.006 * rate)
                out[t:t + burst] += 4.0 * rng.standard_normal(burst) * np.hanning(burst)
            t += n + int(0.03 * rate)
        else:
            t += int(rng.uniform(0.08, 0.35) * rate)
            if t < len(out) - rate // 2:
                continue
        break
    end = np.flatnonzero(out)[-1] + 1  # end on sound, as promised
    out = out[:end]
    return out / math.sqrt(np.mean(out ** 2))


def _syllable(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / rate
    f0 = rng.uniform(100, 160) * (1 + 0.1 * t / t[-1])  # a gliding pitch
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 25))
    fricative = 0.15 * rng.standard_normal(n)
    envelope = np.ones(n)
    attack, release = int(0.015 * rate), int(0.04 * rate)
    envelope[:attack] = np.linspace(0, 1, attack)
    envelope[-release:] = np.linspace(1, 0, release)
    return (voice + fricative) * envelope


def at_db(x: np.ndarray, db: float) -> np.ndarray:
    """x scaled to `db` RMS."""
    return x * (10 ** (db / 20) / math.sqrt(np.mean(np.square(x, dtype=np.float64))))


def noise(seconds: float, db: float, rate: int = RATE, seed: int = 1) -> np.ndarray:
    return at_db(np.random.default_rng(seed).standard_normal(round(seconds * rate)), db)


def rms_db(x: np.ndarray) -> float:
    return 10 * math.log10(np.mean(np.square(np.asarray(x, dtype=np.float64))))


def peak_db(x: np.ndarray) -> float:
    return 20 * math.log10(np.abs(x).max())


def sound_span(x: np.ndarray, rate: int = RATE) -> tuple[float, float]:
    """Head and tail seconds as the rules define them, computed directly:
    10 ms ticks, mean over channels, RMS above the threshold."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    tick = rate // 100
    whole = len(x) // tick * tick
    energy = (x[:whole] ** 2).mean(axis=1).reshape(-1, tick).mean(axis=1)
    loud = np.flatnonzero(energy > 10 ** (SOUND_THRESHOLD_DB / 10))
    return loud[0] * tick / rate, (len(x) - (loud[-1] + 1) * tick) / rate


def encode_mp3(x: np.ndarray, rate: int = RATE, kbps: int = 192, out_rate: int | None = None) -> bytes:
    """(n,) mono or (n, channels) float audio to CBR MP3 with lameenc, which
    resamples it to `out_rate` if given."""
    x = np.asarray(x, dtype=np.float32)
    channels = 1 if x.ndim == 1 else x.shape[1]
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(kbps)
    encoder.set_in_sample_rate(rate)
    encoder.set_out_sample_rate(out_rate or rate)
    encoder.set_channels(channels)
    encoder.set_quality(7)
    return bytes(encoder.encode(to_s16(x))) + bytes(encoder.flush())


def book_audio(head: float = 0.75, tail: float = 2.5, seconds: float = 8.0, db: float = -20.0,
               bed_db: float = -70.0, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Quiet noise, speech-like audio at `db` RMS over a noise bed, quiet noise."""
    voice = at_db(speech(seconds, rate, seed), db)
    x = np.concatenate((np.zeros(int(head * rate)), voice, np.zeros(int(tail * rate))))
    return x + noise(len(x) / rate, bed_db, rate, seed + 1)


def facts(**changes) -> StreamFacts:
    base = {"sample_rate": SAMPLE_RATE, "channels": 1, "bitrates": frozenset({MIN_BITRATE}),
            "duration": 600.0}
    return StreamFacts(**{**base, **changes})


def by_rule(results) -> dict:
    return {r.rule: r for r in results}


# ---- Levels -------------------------------------------------------------------

def test_a_sine_measures_its_closed_form_rms_and_peak():
    amplitude = 0.25
    x = amplitude * np.sin(2 * np.pi * 441 * np.arange(RATE * 2) / RATE)  # whole cycles
    levels = Levels.of(x, RATE)
    assert levels.rms_db == pytest.approx(20 * math.log10(amplitude / math.sqrt(2)), abs=1e-4)
    assert levels.peak_db == pytest.approx(20 * math.log10(amplitude), abs=1e-3)
    assert levels.duration == 2.0


def test_stereo_is_measured_over_both_channels_and_dual_mono_equals_mono():
    x = at_db(speech(3), -20)
    mono = Levels.of(x, RATE)
    dual = Levels.of(np.stack([x, x], axis=1), RATE)
    assert dual.rms_db == pytest.approx(mono.rms_db, abs=1e-6)
    assert dual.peak_db == mono.peak_db
    assert dual.head_seconds == mono.head_seconds and dual.tail_seconds == mono.tail_seconds
    # One silent channel halves the power: 3 dB down.
    half = Levels.of(np.stack([x, np.zeros_like(x)], axis=1), RATE)
    assert half.rms_db == pytest.approx(mono.rms_db - 10 * math.log10(2), abs=1e-4)


@pytest.mark.parametrize("block", [97, 441, 4410, 65536])
def test_streaming_in_any_block_size_gives_the_same_levels(block):
    x = book_audio(seconds=4, head=0.6, tail=1.3)
    whole = Levels.of(x, RATE)
    streamed = Levels(RATE)
    for i in range(0, len(x), block):
        streamed.add(x[i:i + block])
    for name in ("rms_db", "peak_db", "noise_floor_db", "head_seconds", "tail_seconds", "frames"):
        assert getattr(streamed, name) == pytest.approx(getattr(whole, name), abs=1e-9), name


def test_noise_floor_is_the_quietest_half_second():
    voice = at_db(speech(3), -20)
    pause = noise(1.0, -66)
    x = np.concatenate((voice, pause, voice)) + noise(7, -80, seed=5)[: 2 * len(voice) + len(pause)]
    levels = Levels.of(x, RATE)
    # Somewhere in a 1 s pause lies a whole window on the 250 ms grid.
    assert levels.noise_floor_db == pytest.approx(rms_db(pause), abs=0.3)
    # A pause shorter than a window takes speech into every window: not the floor.
    short = np.concatenate((voice, noise(0.3, -66), voice))
    assert Levels.of(short, RATE).noise_floor_db > rms_db(pause) + 10


def test_digital_silence_and_too_short_files_still_measure():
    silent = Levels.of(np.zeros(RATE), RATE)
    assert silent.rms_db == silent.peak_db == silent.noise_floor_db == -math.inf
    assert silent.head_seconds is None and silent.tail_seconds is None
    short = noise(0.3, -40)  # shorter than one noise window: the whole file
    assert Levels.of(short, RATE).noise_floor_db == pytest.approx(rms_db(short), abs=1e-4)
    assert Levels(RATE).rms_db == -math.inf  # nothing fed


def test_head_and_tail_are_the_quiet_before_and_after_sound():
    x = book_audio(head=0.62, tail=1.7, seconds=3)
    levels = Levels.of(x, RATE)
    head, tail = sound_span(x)
    assert levels.head_seconds == pytest.approx(head, abs=1e-9)
    assert levels.tail_seconds == pytest.approx(tail, abs=0.011)  # the partial last tick
    # Within a 10 ms tick of where the speech starts and ends.
    assert levels.head_seconds == pytest.approx(0.62, abs=0.011)
    assert levels.tail_seconds == pytest.approx(1.7, abs=0.011)


# 2 dB either side: a 10 ms tick of noise varies about 0.3 dB from its mean.
@pytest.mark.parametrize("level, sound", [(SOUND_THRESHOLD_DB + 2, True), (SOUND_THRESHOLD_DB - 2, False)])
def test_sound_is_above_the_threshold(level, sound):
    x = np.zeros(RATE * 2)
    x[RATE // 2: RATE] = noise(0.5, level)
    levels = Levels.of(x, RATE)
    if sound:
        assert levels.head_seconds == pytest.approx(0.5, abs=0.011)
        assert levels.tail_seconds == pytest.approx(1.0, abs=0.011)
    else:
        assert levels.head_seconds is None


def test_sound_in_the_last_partial_tick_leaves_no_tail():
    x = np.zeros(RATE + 100)
    x[-50:] = 0.5
    assert Levels.of(x, RATE).tail_seconds == 0.0


def test_blocks_of_the_wrong_shape_are_refused():
    levels = Levels(RATE, channels=2)
    with pytest.raises(ValueError, match="channels"):
        levels.add(np.zeros(10))
    with pytest.raises(ValueError):
        Levels(50)


# ---- judge ---------------------------------------------------------------------

def test_audio_made_to_the_rules_passes_every_rule():
    x = book_audio()
    results = judge(Levels.of(x, RATE), facts(duration=len(x) / RATE))
    assert [r.rule for r in results if not r.passed] == []
    assert {r.rule for r in results} == {"rms", "peak", "noise-floor", "head", "tail", "sample-rate",
                                         "bitrate", "cbr", "length"}
    assert all(r.off_by is None for r in results)


def test_a_quiet_file_fails_rms_by_the_measured_amount():
    x = book_audio(db=-26.0)
    levels = Levels.of(x, RATE)
    rms = by_rule(judge(levels, facts()))["rms"]
    assert not rms.passed
    assert rms.measured == pytest.approx(rms_db(x), abs=1e-6)
    assert rms.off_by == pytest.approx(RMS_DB[0] - rms_db(x), abs=1e-6)
    assert rms.detail == f"RMS {rms_db(x):.1f} dB: {rms.off_by:.1f} dB below the -23 dB minimum"
    assert rms.allowed == "-23 to -18 dB"


def test_a_loud_file_fails_rms_and_peak_above_their_maximums():
    x = book_audio(db=-10.0)
    results = by_rule(judge(Levels.of(x, RATE), facts()))
    assert results["rms"].off_by == pytest.approx(rms_db(x) - RMS_DB[1], abs=1e-6)
    assert "above the -18 dB maximum" in results["rms"].detail
    assert results["peak"].off_by == pytest.approx(peak_db(x) - PEAK_MAX_DB, abs=1e-3)
    assert "above the -3 dB maximum" in results["peak"].detail


def test_noise_floor_head_and_tail_fail_with_their_distances():
    x = book_audio(head=0.3, tail=6.0, bed_db=-55)
    results = by_rule(judge(Levels.of(x, RATE), facts()))
    head, tail = sound_span(x)
    assert results["head"].off_by == pytest.approx(HEAD_S[0] - head, abs=1e-9)
    assert results["tail"].off_by == pytest.approx(tail - TAIL_S[1], abs=0.011)
    assert results["noise-floor"].off_by == pytest.approx(-55 - NOISE_FLOOR_MAX_DB, abs=0.3)
    assert "s below the 0.5 s minimum" in results["head"].detail
    assert "s above the 5 s maximum" in results["tail"].detail


def test_digital_silence_fails_loudly_but_reads_well():
    results = by_rule(judge(Levels.of(np.zeros(RATE * 3), RATE), facts()))
    assert results["rms"].detail == "RMS digital silence: far below the -23 dB minimum"
    assert results["noise-floor"].passed and results["peak"].passed
    assert not results["head"].passed and results["head"].measured is None
    assert "no sound above -50 dB" in results["head"].detail


def test_a_value_a_hair_outside_the_range_says_so():
    x = at_db(book_audio(), RMS_DB[0] - 0.02)  # the whole file, room tone and all
    rms = by_rule(judge(Levels.of(x, RATE), facts()))["rms"]
    assert not rms.passed
    assert "less than 0.1 dB below" in rms.detail


@pytest.mark.parametrize("changes, rule, off_by, words", [
    ({"sample_rate": 48000}, "sample-rate", 48000 - SAMPLE_RATE,
     f"Sample rate 48000 Hz: ACX requires {SAMPLE_RATE} Hz"),
    ({"sample_rate": 22050}, "sample-rate", SAMPLE_RATE - 22050,
     f"Sample rate 22050 Hz: ACX requires {SAMPLE_RATE} Hz"),
    ({"bitrates": frozenset({128_000})}, "bitrate", (MIN_BITRATE - 128_000) / 1000,
     "below the 192 kbps minimum"),
    ({"duration": (MAX_MINUTES + 1.5) * 60}, "length", 1.5, "above the 120 min maximum"),
])
def test_stream_facts_break_their_rules(changes, rule, off_by, words):
    results = by_rule(judge(Levels.of(book_audio(), RATE), facts(**changes)))
    assert [r.rule for r in results.values() if not r.passed] == [rule]
    assert results[rule].off_by == pytest.approx(off_by)
    assert words in results[rule].detail


def test_exactly_120_minutes_and_exactly_192_kbps_pass():
    results = by_rule(judge(Levels.of(book_audio(), RATE), facts(duration=MAX_MINUTES * 60)))
    assert results["length"].passed and results["bitrate"].passed


def test_variable_bit_rate_fails_cbr_and_names_the_spread():
    vbr = facts(bitrates=frozenset({128_000, 192_000, 320_000}))
    results = by_rule(judge(Levels.of(book_audio(), RATE), vbr))
    assert not results["cbr"].passed and results["cbr"].measured == "VBR"
    assert "3 bit rates from 128 to 320 kbps" in results["cbr"].detail
    assert not results["bitrate"].passed  # the 128 kbps frames


def test_layer_ii_is_not_mp3():
    results = by_rule(judge(Levels.of(book_audio(), RATE), facts(layer=2)))
    assert not results["layer"].passed and "layer II" in results["layer"].detail


def test_the_book_rule_wants_one_kind_of_channels_and_names_the_odd_files():
    same = judge_book({"01.mp3": 1, "02.mp3": 1})
    assert same.passed and same.detail == "Channels: mono in all 2 files"
    mixed = judge_book({"01.mp3": 1, "02.mp3": 2, "03.mp3": 1})
    assert not mixed.passed
    assert mixed.detail == "Channels: mixed (2 mono, 1 stereo); not mono: 02.mp3"
