"""PCM to MP3 through lameenc: the engine's `mp3_<rate>_<kbps>` formats,
room tone between copied frames, and mastered chapter files."""

from __future__ import annotations

import lameenc

from narrator.errors import AudioError

# lameenc pads the start with the encoder delay (576 samples) and a decoder
# adds its own 529: speech decoded from a chunk starts this many output
# samples after the PCM did, so word times are shifted by it.
CODEC_DELAY_SAMPLES = 576 + 529

# lameenc sizes its output buffer for about 1.25 bytes per input sample plus
# 7,200, which audio raised from 8 kHz to 44.1 kHz at 192 kbps overflows
# (3 bytes a sample) when a call holds more than about 4,000 samples.
_SAMPLES_PER_CALL = 2048


class Encoder:
    """One LAME stream: 16-bit PCM in, MP3 frames out."""

    def __init__(self, channels: int, in_rate: int, out_rate: int, kbps: int, quality: int = 7):
        self._lame = lameenc.Encoder()
        self._lame.set_channels(channels)
        self._lame.set_in_sample_rate(in_rate)
        self._lame.set_out_sample_rate(out_rate)
        self._lame.set_bit_rate(kbps)
        self._lame.set_quality(quality)  # 7: fast; 5 (LAME's default) where the audio is final
        self._step = _SAMPLES_PER_CALL * channels * 2
        self._what = f"{in_rate} Hz to {out_rate} Hz at {kbps} kbps"

    def encode(self, pcm: bytes) -> bytes:
        try:
            step = self._step
            return b"".join(bytes(self._lame.encode(pcm[i:i + step])) for i in range(0, len(pcm), step))
        except RuntimeError as error:
            raise AudioError(f"the MP3 encoder failed ({self._what}): {error}") from None

    def flush(self) -> bytes:
        return bytes(self._lame.flush())


def encode(pcm: bytes, in_rate: int, out_rate: int, kbps: int) -> bytes:
    """A whole mono utterance, as the embedded engine sends it."""
    encoder = Encoder(1, in_rate, out_rate, kbps)
    return encoder.encode(pcm) + encoder.flush()


def codec_delay_ms(out_rate: int) -> int:
    return round(CODEC_DELAY_SAMPLES * 1000 / out_rate)
