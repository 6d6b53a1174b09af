"""PCM to MP3 through lameenc, at the service's `mp3_<rate>_<kbps>` formats."""

from __future__ import annotations

import lameenc

# lameenc pads the start with the encoder delay (576 samples) and a decoder
# adds its own 529: speech decoded from a chunk starts this many output
# samples after the PCM did, so word times are shifted by it.
CODEC_DELAY_SAMPLES = 576 + 529


def encode(pcm: bytes, in_rate: int, out_rate: int, kbps: int) -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_channels(1)
    encoder.set_in_sample_rate(in_rate)
    encoder.set_out_sample_rate(out_rate)
    encoder.set_bit_rate(kbps)
    encoder.set_quality(7)  # fast; speech from a formant synthesiser gains nothing from more
    return bytes(encoder.encode(pcm) + encoder.flush())


def codec_delay_ms(out_rate: int) -> int:
    return round(CODEC_DELAY_SAMPLES * 1000 / out_rate)
