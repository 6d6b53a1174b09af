"""What `--acx` does to audio so each chapter file passes the ACX checks.

Pure numpy over (n,) mono or (n, channels) float32 arrays:
- `room_tone` (from audio.roomtone): the quiet noise put before and after a chapter's speech;
- `chapter_gain_db`: one gain for the whole chapter, from its measured
  `Levels`, bringing its RMS to -20 dB, the middle of ACX's -23 to -18;
- `limit`: a look-ahead peak limiter holding peaks, between samples too,
  under -3.5 dB;
- `master`: the chain for one paragraph: the gain, `lowpass` (16-18 kHz
  for 44.1 kHz audio, under LAME's own cut) and `limit`.

The ceiling is -3.5 dB, not ACX's -3.0: encoding changes a peak's shape.
Measured on synthetic speech with full-band plosive bursts, limited to
-3.5 dB on samples only, decoded peaks came out up to 1.2 dB over at
44.1 kHz (LAME's 19.5 kHz low-pass reshapes them) and 2.6 dB over from
24 kHz audio (LAME resamples it: peaks between samples become samples).
Low-passed first and metered between samples, every case measured decoded
at or under the ceiling (test_mastering.py re-checks them), and the 0.5 dB
left is spare.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from narrator.acx.rules import Levels
from narrator.audio.roomtone import ROOM_TONE_DB, room_tone

__all__ = [
    "CEILING_DB",
    "MAX_GAIN_DB",
    "ROOM_TONE_DB",
    "TARGET_RMS_DB",
    "chapter_gain_db",
    "limit",
    "lowpass",
    "lowpass_band",
    "master",
    "room_tone",
]

TARGET_RMS_DB = -20.0
CEILING_DB = -3.5
# A chapter quieter than -44 dB is not speech at a sane level; raising it
# further would only turn its noise into the loudest thing in the file.
MAX_GAIN_DB = 24.0

def chapter_gain_db(levels: Levels, target_db: float = TARGET_RMS_DB, padding_seconds: float = 0.0,
                    max_gain_db: float = MAX_GAIN_DB) -> float:
    """The gain (dB) that brings a chapter measured as `levels` to `target_db` RMS.

    `padding_seconds` is the room tone the file will also hold: near-silence
    lowers the whole-file RMS, noticeably so for a short chapter, so the
    speech is raised to make up for it. The limiter then takes a little off
    the loudest peaks, which -20 dB leaves ample room for within -23 to -18.
    """
    if levels.frames == 0 or levels.rms_db == -math.inf:
        return 0.0  # nothing to scale
    frames_after = levels.frames + padding_seconds * levels.sample_rate
    mean_square = 10 ** (levels.rms_db / 10)
    gain = target_db - 10 * math.log10(mean_square * levels.frames / frames_after)
    return min(gain, max_gain_db)


# Limiter parameters (docs/audiobooks.md states them).
HOLD_MS = 5.0  # gain reduction spans +-5 ms around each peak: one voice period,
# so the gain does not wobble at the pitch of a loud vowel
ATTACK_DB_PER_MS = 1.0  # ahead of a peak the gain falls at most 1 dB per ms...
RELEASE_DB_PER_MS = 0.05  # ...and recovers after it at 50 dB/s (3 dB in 60 ms)
SMOOTH_MS = 1.0  # +-1 ms moving average rounds the corners of the gain curve
# The gain is planned on 16-sample steps (0.36 ms at 44.1 kHz) and
# interpolated between them: 16 times less work, and no audible difference
# at these slopes.
_STEP = 16


def limit(x: np.ndarray, ceiling_db: float = CEILING_DB, *, rate: int = 44100) -> np.ndarray:
    """Peaks of `x`, between samples too, brought under `ceiling_db` by
    smooth gain reduction.

    Channels share one gain, so the stereo image does not shift. The gain
    is computed over the whole block, looking ahead as far as the attack
    needs: it starts falling before a peak instead of clipping it. A block
    that starts or ends inside a loud peak is still held under the ceiling,
    only with the ramp cut short; paragraphs start and end quiet, so calls
    share no state. Audio already under the ceiling comes back unchanged.

    Peaks between samples count because the encoder resamples: a 24 kHz
    service's audio is encoded at 44.1 kHz, where those peaks become
    samples (2.6 dB over the ceiling on synthetic plosives when only
    samples were limited). They are found at the quarter points, by
    band-limited interpolation (a 4x oversampled true-peak meter).
    """
    x = np.asarray(x, dtype=np.float32)
    if not len(x):
        return x.copy()
    frames = x.reshape(len(x), -1)
    ceiling = 10 ** (ceiling_db / 20)
    if _quiet(frames, ceiling):
        return x.copy()
    between = _filter(frames, [_kernel(rate, _FULL_BAND * rate, shift) for shift in _SHIFTS])
    return _limit(frames, between, ceiling, rate).reshape(x.shape)


def master(x: np.ndarray, gain_db: float, ceiling_db: float = CEILING_DB, *, rate: int = 44100) -> np.ndarray:
    """One paragraph through the chapter's gain, `lowpass`, then `limit`
    (the low-pass's FFTs also give the quarter points for the peak meter)."""
    x = np.asarray(x, dtype=np.float32) * np.float32(10 ** (gain_db / 20))
    if not len(x):
        return x
    frames = x.reshape(len(x), -1)
    ceiling = 10 ** (ceiling_db / 20)
    band = lowpass_band(rate)
    if _quiet(frames, ceiling):
        (low,) = _filter(frames, [_kernel(rate, band, 0.0)])
        return low.reshape(x.shape)
    low, *between = _filter(frames, [_kernel(rate, band, shift) for shift in (0.0, *_SHIFTS)])
    return _limit(low, between, ceiling, rate).reshape(x.shape)


def _quiet(frames: np.ndarray, ceiling: float) -> bool:
    # A peak between samples 6 dB over the samples around it takes a
    # contrived signal; under half the ceiling, nothing needs limiting.
    return float(np.abs(frames).max()) <= ceiling / 2


def _limit(frames: np.ndarray, between: list[np.ndarray], ceiling: float, rate: int) -> np.ndarray:
    """`frames` limited, counting the peaks of the `between` signals (the
    same audio interpolated between samples).

    Why no sample ends over the ceiling: each step's reduction is at least
    the need of every step within the hold; the ramps only add; the moving
    average and the interpolation mix values from within the hold of each
    sample's step, all of which cover that sample."""
    level = np.abs(frames).max(axis=1)
    for signal in between:
        np.maximum(level, np.abs(signal).max(axis=1), out=level)
    if float(level.max()) <= ceiling:
        return frames.copy()
    steps = -(-len(frames) // _STEP)
    peaks = np.zeros(steps * _STEP, np.float32)
    peaks[: len(frames)] = level
    peaks = peaks.reshape(steps, _STEP).max(axis=1)
    need = np.zeros(steps)  # dB of reduction each step needs
    over = peaks > ceiling
    need[over] = 20 * np.log10(peaks[over] / ceiling)
    per_step_ms = _STEP * 1000 / rate
    smooth = round(SMOOTH_MS / per_step_ms)
    hold = max(math.ceil(HOLD_MS / per_step_ms), smooth + 1)  # see the docstring
    reduction = _sliding_max(need, hold)
    reduction = _ramps(reduction, ATTACK_DB_PER_MS * per_step_ms, RELEASE_DB_PER_MS * per_step_ms)
    reduction = _moving_average(reduction, smooth)
    step_gain = np.exp(reduction * (-math.log(10) / 20))
    centres = np.arange(steps) * _STEP + (_STEP - 1) / 2
    gain = np.interp(np.arange(len(frames)), centres, step_gain).astype(np.float32)
    out = frames * gain[:, None]
    # Only float rounding could put a sample a hair over; this never reshapes audio.
    np.clip(out, -ceiling, ceiling, out=out)
    return out


# LAME cuts everything above about 19.5 kHz at 192 kbps. A peak the limiter
# set at the ceiling and then loses its top octave changes shape, and the
# decoded peak can come out a dB over (measured on full-band noise bursts,
# a synthetic "t"). Cut first, below LAME's cut, and the encoder leaves the
# peaks alone: nothing of speech is up there. Audio at a service's lower
# rate is resampled to 44.1 kHz by LAME, whose filter starts to roll off
# at 0.9 of the input's Nyquist frequency and lets some images through:
# there the cut is at 0.8 to 0.9 of it (9.6 to 10.8 kHz for 24 kHz audio).
LOWPASS_HZ = (16_000.0, 18_000.0)  # passband edge, stopband edge
_LOWPASS_NYQUIST = np.array((0.8, 0.9))
_FULL_BAND = np.array((0.45, 0.5))  # x rate: the interpolator's band when nothing is cut
# Peaks between samples are looked for at the quarter points: a 4x
# oversampled peak meter. Midpoints alone missed 1.5 dB on 24 kHz audio,
# whose speech reaches close to its Nyquist frequency.
_SHIFTS = (0.25, 0.5, 0.75)
_TAPS = 257  # 128 samples (2.9 ms) either side
_FFT = 4096  # overlap-add blocks of _FFT - _TAPS + 1 samples: small FFTs stay in cache


def lowpass_band(rate: int) -> np.ndarray:
    """The low-pass's passband and stopband edges (Hz) for audio at `rate`."""
    return np.minimum(LOWPASS_HZ, _LOWPASS_NYQUIST * rate / 2)


def lowpass(x: np.ndarray, rate: int = 44100, band: tuple[float, float] | None = None) -> np.ndarray:
    """Linear-phase FIR low-pass, flat to band[0] and falling along a raised
    cosine to band[1] (by default `lowpass_band(rate)`); its delay is taken
    out, so the output lines up with the input. Overlap-add in batched
    FFTs: O(n log n), all numpy."""
    x = np.asarray(x, dtype=np.float32)
    if not len(x):
        return x.copy()
    edges = lowpass_band(rate) if band is None else np.array(band)
    (out,) = _filter(x.reshape(len(x), -1), [_kernel(rate, edges, 0.0)])
    return out.reshape(x.shape)


def _filter(frames: np.ndarray, kernels: list[np.ndarray]) -> list[np.ndarray]:
    """`frames` through each kernel (spectra from _kernel), one forward FFT per channel."""
    block = _FFT - _TAPS + 1
    count = -(-len(frames) // block)
    outs = [np.empty_like(frames) for _ in kernels]
    for channel in range(frames.shape[1]):
        padded = np.zeros(count * block, np.float32)
        padded[: len(frames)] = frames[:, channel]
        spectrum = np.fft.rfft(padded.reshape(count, block), _FFT, axis=1)
        for out, kernel in zip(outs, kernels):
            out[:, channel] = _overlap_add(np.fft.irfft(spectrum * kernel, _FFT, axis=1), len(frames))
    return outs


def _overlap_add(parts: np.ndarray, n: int) -> np.ndarray:
    count, block = len(parts), _FFT - _TAPS + 1
    full = np.zeros((count + 1) * block, np.float32)
    full[: count * block] = parts[:, :block].ravel()
    # Each block's ring-out (_TAPS - 1 <= block samples) lands on the next block's start.
    full[block:].reshape(count, block)[:, : _TAPS - 1] += parts[:, block:]
    delay = (_TAPS - 1) // 2  # the kernel's centre: output lines up with input
    return full[delay : delay + n]


def _kernel(rate: int, band_hz: np.ndarray, shift: float) -> np.ndarray:
    return _kernel_spectrum(rate, float(band_hz[0]), float(band_hz[1]), shift)


@lru_cache(maxsize=16)
def _kernel_spectrum(rate: int, low: float, high: float, shift: float) -> np.ndarray:
    """The FIR's spectrum at _FFT points: the ideal response, delayed by
    `shift` samples (0.5: the output is the input's midpoints), sampled
    finely and cut to _TAPS taps under a Hann window (keeps the stopband deep)."""
    grid = 1 << 14
    freqs = np.fft.rfftfreq(grid, 1 / rate)
    ideal = 0.5 * (1 + np.cos(np.pi * np.clip((freqs - low) / (high - low), 0, 1)))
    impulse = np.fft.irfft(ideal * np.exp(-2j * np.pi * freqs * shift / rate), grid)  # centred on `shift`
    half = (_TAPS - 1) // 2
    offsets = np.arange(-half, half + 1)
    window = 0.5 * (1 + np.cos(np.pi * (offsets - shift) / (half + 1)))
    taps = impulse[offsets % grid] * window
    return np.fft.rfft(taps, _FFT).astype(np.complex64)


def _sliding_max(a: np.ndarray, half: int) -> np.ndarray:
    """out[i] = max(a[i-half : i+half+1]), in O(n) (van Herk / Gil-Werman).

    Blocks of the window's width: a window spans at most two of them, so its
    maximum is the suffix maximum of the first and the prefix maximum of the
    second. Blocks are columns, so each running maximum is one vector pass.
    """
    if half <= 0:
        return a.copy()
    width, n = 2 * half + 1, len(a)
    blocks = -(-(n + 2 * half) // width)
    padded = np.zeros(blocks * width)  # 0 dB: no need, before, after and in the last block
    padded[half : half + n] = a
    columns = padded.reshape(blocks, width).T
    prefix = np.maximum.accumulate(columns, axis=0).T.ravel()
    suffix = np.maximum.accumulate(columns[::-1], axis=0)[::-1].T.ravel()
    return np.maximum(suffix[:n], prefix[width - 1 : width - 1 + n])


def _ramps(need: np.ndarray, attack: float, release: float) -> np.ndarray:
    """The least curve >= need that rises at most `attack` dB per step and
    falls at most `release`: r[t] = max over s of need[s] - slope * |t - s|.
    Each side is a running maximum of need shifted along a line."""
    t = np.arange(len(need), dtype=np.float64)
    after = np.maximum.accumulate(need + release * t) - release * t  # peaks behind t
    ahead = np.maximum.accumulate((need - attack * t)[::-1])[::-1] + attack * t  # peaks ahead
    return np.maximum(after, ahead)


def _moving_average(a: np.ndarray, half: int) -> np.ndarray:
    """Mean over a[i-half : i+half+1], the end values repeated beyond the ends.

    Repeating keeps the limiter's guarantee at the edges: a[0] already holds
    the need of every sample within the hold of the start, and half <= hold.
    """
    if half <= 0:
        return a
    padded = np.pad(a, half, mode="edge")
    sums = np.concatenate(([0.0], np.cumsum(padded)))
    width = 2 * half + 1
    return (sums[width:] - sums[:-width]) / width
