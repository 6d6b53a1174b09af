"""Room tone as MP3 frames that can sit between a stream's own frames.

Copying a service's frames untouched means a pause must be frames of the
same kind: same MPEG version, sample rate, channels and bit rate, or players
stumble where the format changes. These are encoded once per format.
"""

from __future__ import annotations

from functools import lru_cache

from narrator.audio.encode import Encoder
from narrator.audio.mp3 import FrameHeader, audio_frames
from narrator.errors import AudioError


@lru_cache(maxsize=8)
def silence_frames(header: FrameHeader, count: int) -> tuple[bytes, ...]:
    """`count` frames of room tone in `header`'s format. Taking the first
    frames of a longer encoding is safe: a frame only ever borrows bits from
    the frames before it."""
    if count <= 0:
        return ()
    from narrator.audio.pcm import to_s16
    from narrator.audio.roomtone import room_tone  # numpy: when a book is joined, not at every start

    tone = room_tone((count + 3) * header.samples, header.sample_rate, header.channels)
    encoder = Encoder(header.channels, header.sample_rate, header.sample_rate, header.bitrate // 1000)
    frames, _, _ = audio_frames(encoder.encode(to_s16(tone)) + encoder.flush())
    if len(frames) < count:
        raise AudioError(f"could not make {count} frames of silence at {header.sample_rate} Hz, "
                         f"{header.bitrate // 1000} kbps")
    return tuple(frames[:count])
