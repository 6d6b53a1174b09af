"""Room tone: the quiet pink noise put before and after a chapter's speech. Pure numpy."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

ROOM_TONE_DB = -70.0
_ROOM_TONE_LOW_HZ = 20.0  # nothing below hearing: it would count in RMS but not be heard


def room_tone(samples: int, rate: int, channels: int = 1, level_db: float = ROOM_TONE_DB,
              seed: int = 0) -> npt.NDArray[np.float32]:
    """`samples` frames of pink noise at exactly `level_db` RMS, shape (samples, channels).

    Not digital silence: the speech carries the service's faint noise, and
    a cut to exact zeros around it is heard as a dropout; ACX asks for room
    tone, and reviewers flag dead silence as an edit. At -70 dB it sits
    10 dB under ACX's -60 dB floor and 20 dB under the -50 dB sound
    threshold, and survives 192 kbps MP3 encoding (LAME keeps it within a
    dB). Pink (equal energy per octave) sounds like a quiet room, not hiss.
    The same seed and length give the same noise; channels are identical,
    like the dual-mono speech they surround.
    """
    if samples <= 0:
        return np.zeros((0, channels), np.float32)
    rng = np.random.default_rng(seed)
    # Shaped over a length numpy transforms fast (any length can be a large
    # prime, ten times slower), then cut: the cut end is no seam.
    size = _fast_size(samples)
    spectrum = rng.standard_normal(size // 2 + 1) + 1j * rng.standard_normal(size // 2 + 1)
    freqs = np.fft.rfftfreq(size, 1 / rate)
    audible = freqs >= _ROOM_TONE_LOW_HZ
    spectrum[~audible] = 0
    spectrum[audible] /= np.sqrt(freqs[audible])  # 1/f power
    noise = np.fft.irfft(spectrum, size)[:samples]
    power = float(np.mean(noise * noise))
    if power > 0:  # a handful of samples may have no audible bin at all
        noise *= 10 ** (level_db / 20) / math.sqrt(power)
    return np.repeat(noise.astype(np.float32)[:, None], channels, axis=1)


def _fast_size(n: int) -> int:
    """The least 2^a * 3^b >= n (at most 12% over n beyond small sizes)."""
    best, power3 = 1 << max(0, n - 1).bit_length(), 1
    while power3 < best:
        size = power3 << max(0, math.ceil(math.log2(n / power3)))
        best, power3 = min(best, size), power3 * 3
    return best
