"""Audible ACX submission rules, measured over decoded audio and judged.

`Levels` is fed float32 blocks as a file decodes and keeps O(1) state, so a
ten-hour book is measured in bounded memory. `judge` turns its numbers and
the MP3 stream's facts into one `RuleResult` per rule; `judge_book` adds the
rule that spans files. Pure: numpy arrays and numbers in, results out.

Definitions (docs/audiobooks.md states them):
- RMS: over every sample of the file, all channels together, in dBFS
  (a full-scale sine is -3 dB, a full-scale square 0 dB).
- Peak: the largest absolute sample value (sample peak, not true peak).
- Noise floor: the RMS of the quietest 500 ms window; windows step by
  250 ms. A file shorter than one window uses its whole-file RMS.
- Sound: a 10 ms tick (rate // 100 samples) whose RMS is above -50 dBFS,
  10 dB over the loudest noise floor ACX allows, so room tone is never sound
  and the onset of a word is. Head is the time before the first sound tick,
  tail the time after the last one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = [
    "HEAD_S",
    "MAX_MINUTES",
    "MIN_BITRATE",
    "NOISE_FLOOR_MAX_DB",
    "PEAK_MAX_DB",
    "RMS_DB",
    "SAMPLE_RATE",
    "SOUND_THRESHOLD_DB",
    "TAIL_S",
    "Levels",
    "RuleResult",
    "StreamFacts",
    "judge",
    "judge_book",
]

RMS_DB = (-23.0, -18.0)
PEAK_MAX_DB = -3.0
NOISE_FLOOR_MAX_DB = -60.0
HEAD_S = (0.5, 1.0)
TAIL_S = (1.0, 5.0)
SAMPLE_RATE = 44100
MIN_BITRATE = 192_000
MAX_MINUTES = 120.0
LAYER = 3

SOUND_THRESHOLD_DB = -50.0
TICKS_PER_SECOND = 100  # head/tail resolution: 10 ms
_HOP_TICKS = 25  # noise windows are 2 hops = 50 ticks = 500 ms, half overlapping


def db_power(mean_square: float) -> float:
    """dBFS of a mean square; -inf for exact digital silence."""
    return 10 * math.log10(mean_square) if mean_square > 0 else -math.inf


class Levels:
    """Streaming level measurement of one file's decoded audio.

    Feed blocks in order with add(); read the properties at any time. State
    is a few numbers plus under one 10 ms tick of samples and under one
    250 ms hop of tick energies, whatever the length of the file.
    """

    def __init__(self, sample_rate: int, channels: int = 1, threshold_db: float = SOUND_THRESHOLD_DB):
        if sample_rate < TICKS_PER_SECOND or channels < 1:
            raise ValueError("sample_rate must be at least 100 Hz and channels at least 1")
        self.sample_rate = sample_rate
        self.channels = channels
        self.threshold_db = threshold_db
        self.frames = 0  # samples per channel seen
        self.sum_squares = 0.0  # of the per-frame channel mean of squares
        self.peak = 0.0
        self._tick = sample_rate // TICKS_PER_SECOND
        # A tick is sound when its sum of squares exceeds this.
        self._sound_energy = 10 ** (threshold_db / 10) * self._tick
        self._carry = np.zeros(0, np.float32)  # energies of a partial tick
        self._ticks = 0  # whole ticks seen
        self._first_sound: int | None = None  # tick index
        self._last_sound: int | None = None
        self._hop_carry = np.zeros(0, np.float64)  # tick sums of a partial hop
        self._last_hop: float | None = None  # sum of the previous whole hop
        self._quietest = math.inf  # smallest window sum of squares

    @classmethod
    def of(cls, samples: np.ndarray, sample_rate: int, threshold_db: float = SOUND_THRESHOLD_DB) -> Levels:
        """Levels of one whole array, (n,) mono or (n, channels)."""
        x = _frames(samples)
        levels = cls(sample_rate, x.shape[1], threshold_db)
        levels.add(x)
        return levels

    def add(self, block: np.ndarray) -> None:
        """One block of samples: (n,) for mono or (n, channels), floats in [-1, 1]."""
        x = _frames(block)
        if x.shape[1] != self.channels:
            raise ValueError(f"block has {x.shape[1]} channels, Levels expects {self.channels}")
        if not len(x):
            return
        self.frames += len(x)
        self.peak = max(self.peak, float(x.max()), -float(x.min()))
        # Mean over channels of the squares: a stereo file's RMS is that of
        # all its samples, and dual-mono measures the same as mono.
        energy = np.einsum("ij,ij->i", x, x, dtype=np.float32)
        if self.channels > 1:
            energy /= self.channels
        if len(self._carry):
            energy = np.concatenate((self._carry, energy))
        whole = len(energy) // self._tick * self._tick
        self._carry = energy[whole:].copy()
        ticks = energy[:whole].reshape(-1, self._tick).sum(axis=1, dtype=np.float64)
        self.sum_squares += float(ticks.sum())
        self._find_sound(ticks)
        self._add_hops(ticks)
        self._ticks += len(ticks)

    def _find_sound(self, ticks: np.ndarray) -> None:
        loud = np.flatnonzero(ticks > self._sound_energy)
        if len(loud):
            if self._first_sound is None:
                self._first_sound = self._ticks + int(loud[0])
            self._last_sound = self._ticks + int(loud[-1])

    def _add_hops(self, ticks: np.ndarray) -> None:
        ticks = np.concatenate((self._hop_carry, ticks))
        whole = len(ticks) // _HOP_TICKS * _HOP_TICKS
        self._hop_carry = ticks[whole:]
        hops = ticks[:whole].reshape(-1, _HOP_TICKS).sum(axis=1)
        if not len(hops):
            return
        if self._last_hop is not None:
            hops = np.concatenate(([self._last_hop], hops))
        if len(hops) > 1:
            self._quietest = min(self._quietest, float((hops[:-1] + hops[1:]).min()))
        self._last_hop = float(hops[-1])

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate

    @property
    def _total_squares(self) -> float:
        return self.sum_squares + float(self._carry.sum(dtype=np.float64))

    @property
    def rms_db(self) -> float:
        return db_power(self._total_squares / self.frames) if self.frames else -math.inf

    @property
    def peak_db(self) -> float:
        return 20 * math.log10(self.peak) if self.peak > 0 else -math.inf

    @property
    def noise_floor_db(self) -> float:
        """RMS of the quietest 500 ms window (of the whole file if shorter)."""
        if self._quietest == math.inf:
            return self.rms_db
        return db_power(self._quietest / (2 * _HOP_TICKS * self._tick))

    def _sound_span(self) -> tuple[int, int] | None:
        """First and one-past-last sample of sound, the partial last tick included."""
        first, last = self._first_sound, self._last_sound  # both set at the first sound
        span = None if first is None or last is None else (first * self._tick, (last + 1) * self._tick)
        n = len(self._carry)
        if n and float(self._carry.sum(dtype=np.float64)) / n > self._sound_energy / self._tick:
            return (self._ticks * self._tick if span is None else span[0]), self.frames
        return span

    @property
    def head_seconds(self) -> float | None:
        """Seconds before the first sound; None when there is no sound."""
        span = self._sound_span()
        return None if span is None else span[0] / self.sample_rate

    @property
    def tail_seconds(self) -> float | None:
        """Seconds after the last sound; None when there is no sound."""
        span = self._sound_span()
        return None if span is None else (self.frames - span[1]) / self.sample_rate


def _frames(samples: np.ndarray) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 1:
        return x[:, None]
    if x.ndim != 2:
        raise ValueError("samples must be (n,) or (n, channels)")
    return x


@dataclass(frozen=True)
class StreamFacts:
    """What the MP3 frames say, without decoding: from their headers."""

    sample_rate: int
    channels: int
    bitrates: frozenset[int]  # bits per second of every audio frame (Xing/Info excluded)
    duration: float  # seconds, from the frames' sample counts
    layer: int = LAYER

    @property
    def cbr(self) -> bool:
        return len(self.bitrates) == 1


@dataclass(frozen=True)
class RuleResult:
    rule: str  # short id: "rms", "peak", "noise-floor", "head", "tail", ...
    passed: bool
    measured: float | str | None  # in `unit`; None when nothing could be measured
    unit: str
    allowed: str  # the range, as a person reads it: "-23 to -18 dB"
    off_by: float | None  # how far outside the range, in `unit`; None when passing
    detail: str  # one line: "RMS -26.1 dB: 3.1 dB below the -23 dB minimum"


_LABELS = {
    "rms": "RMS",
    "peak": "Peak",
    "noise-floor": "Noise floor",
    "head": "Head room tone",
    "tail": "Tail room tone",
    "sample-rate": "Sample rate",
    "bitrate": "Bit rate",
    "cbr": "Constant bit rate",
    "length": "Length",
    "layer": "MPEG layer",
    "channels": "Channels",
}


def _num(value: float, digits: int) -> str:
    """A bound as a person writes it: -23, 0.5, 192 (no trailing zeros)."""
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _allowed(low: float | None, high: float | None, unit: str, digits: int) -> str:
    if low is not None and low == high:
        return f"exactly {_num(low, digits)} {unit}"
    if low is not None and high is not None:
        return f"{_num(low, digits)} to {_num(high, digits)} {unit}"
    if low is not None:
        return f"at least {_num(low, digits)} {unit}"
    assert high is not None, "a range has a bound"
    return f"at most {_num(high, digits)} {unit}"


def _in_range(rule: str, value: float, low: float | None, high: float | None, unit: str,
              digits: int = 1) -> RuleResult:
    """A numeric rule: passes when low <= value <= high (either end optional)."""
    label, allowed = _LABELS[rule], _allowed(low, high, unit, digits)
    shown = f"{value:.{digits}f} {unit}"
    if math.isinf(value):
        shown = "digital silence" if value < 0 else "infinite"
    if low is not None and value < low:
        off, side, bound = low - value, "below the {} minimum", low
    elif high is not None and value > high:
        off, side, bound = value - high, "above the {} maximum", high
    else:
        return RuleResult(rule, True, value, unit, allowed, None, f"{label} {shown} (allowed {allowed})")
    limit = f"{_num(bound, digits)} {unit}"
    if low == high:  # a required value: how far off it is helps nobody
        detail = f"{label} {shown}: ACX requires {limit}"
    else:
        amount = f"{off:.{digits}f} {unit}"
        if math.isinf(off):
            amount = "far"
        elif round(off, digits) == 0:
            amount = f"less than {10 ** -digits:g} {unit}"
        detail = f"{label} {shown}: {amount} {side.format(limit)}"
    return RuleResult(rule, False, value, unit, allowed, off, detail)


def _no_sound(rule: str, allowed_s: tuple[float, float]) -> RuleResult:
    allowed = f"{_num(allowed_s[0], 2)} to {_num(allowed_s[1], 2)} s"
    detail = f"{_LABELS[rule]}: no sound above {SOUND_THRESHOLD_DB:g} dB in the file"
    return RuleResult(rule, False, None, "s", allowed, None, detail)


def _bitrate_rules(facts: StreamFacts) -> list[RuleResult]:
    kbps = sorted(b // 1000 for b in facts.bitrates)
    if facts.cbr:
        cbr = RuleResult("cbr", True, "CBR", "", "one bit rate in every frame", None,
                         f"Constant bit rate: every frame at {kbps[0]} kbps")
    else:
        spread = f"{len(kbps)} bit rates from {kbps[0]} to {kbps[-1]} kbps"
        cbr = RuleResult("cbr", False, "VBR", "", "one bit rate in every frame", None,
                         f"Constant bit rate: variable, {spread}: encode at constant bit rate")
    # VBR fails above; the lowest frame rate is the one that must reach 192.
    rate = _in_range("bitrate", float(kbps[0]), MIN_BITRATE / 1000, None, "kbps", 0)
    return [cbr, rate]


def judge(levels: Levels, facts: StreamFacts) -> list[RuleResult]:
    """Every per-file ACX rule, in a fixed order."""
    results = [
        _in_range("rms", levels.rms_db, *RMS_DB, "dB"),
        _in_range("peak", levels.peak_db, None, PEAK_MAX_DB, "dB"),
        _in_range("noise-floor", levels.noise_floor_db, None, NOISE_FLOOR_MAX_DB, "dB"),
    ]
    head, tail = levels.head_seconds, levels.tail_seconds
    results.append(_no_sound("head", HEAD_S) if head is None else _in_range("head", head, *HEAD_S, "s", 2))
    results.append(_no_sound("tail", TAIL_S) if tail is None else _in_range("tail", tail, *TAIL_S, "s", 2))
    results.append(_in_range("sample-rate", float(facts.sample_rate), SAMPLE_RATE, SAMPLE_RATE, "Hz", 0))
    results += _bitrate_rules(facts)
    results.append(_in_range("length", facts.duration / 60, None, MAX_MINUTES, "min"))
    if facts.layer != LAYER:
        results.append(RuleResult("layer", False, float(facts.layer), "", "layer III (MP3)", None,
                                  f"MPEG layer {'I' * facts.layer}: ACX takes MP3, which is layer III"))
    return results


def channel_name(channels: int) -> str:
    return "mono" if channels == 1 else "stereo"


def judge_book(channels: Mapping[str, int]) -> RuleResult:
    """Mono or stereo the same in every file: file name -> channels."""
    kinds: dict[str, list[str]] = {}
    for name, count in channels.items():
        kinds.setdefault(channel_name(count), []).append(name)
    if len(kinds) <= 1:
        kind = next(iter(kinds), "none")
        return RuleResult("channels", True, kind, "", "the same in every file", None,
                          f"Channels: {kind} in all {len(channels)} files")
    # Name the files of the less common kind: those are the ones to redo.
    usual = max(kinds, key=lambda k: len(kinds[k]))
    odd = sorted((k for k in kinds if k != usual), key=lambda k: -len(kinds[k]))
    names = [name for k in odd for name in kinds[k]]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    counts = ", ".join(f"{len(kinds[k])} {k}" for k in [usual] + odd)
    return RuleResult("channels", False, "mixed", "", "the same in every file", None,
                      f"Channels: mixed ({counts}); not {usual}: {shown}")
