"""MP3 to float32 PCM through miniaudio, and float32 back to 16-bit PCM.

Arrays are (frames, channels) float32 in [-1, 1], channels kept as encoded:
nothing is mixed down, so a stereo file is measured as stereo.

A file is read once, in 1 MB chunks, through `FrameReader` (the same frame
parser the book is assembled with, so tags and a Xing/Info frame are never
decoded as audio), and its frames are decoded in batches with
miniaudio.mp3_read_f32 (dr_mp3), two batches at a time on two threads:
dr_mp3 runs in C without the GIL, so this uses both cores. Memory is a few
batches whatever the length of the book.

A layer III frame may take part of its data from the frames before it (the
bit reservoir) and overlaps the previous frame's output, so each batch is
decoded after the last frames of the batch before it and their output is
dropped: the result is bit-identical to decoding the file in one go.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import miniaudio
import numpy as np
import numpy.typing as npt

from narrator.audio.mp3 import FrameReader, parse_header
from narrator.errors import AudioError

__all__ = ["BATCH_FRAMES", "Samples", "decode_batches", "decode_frames", "read_frames", "to_s16"]

# Decoded audio: (frames, channels) float32 in [-1, 1].
Samples = npt.NDArray[np.float32]

# 500 frames: 13 s at 44.1 kHz, 2.3 MB of float32 mono. Large enough that
# the priming frames cost little, small enough that a few in flight are no
# memory concern.
BATCH_FRAMES = 500
# The reservoir reaches back at most 511 bytes (MPEG-1); one more frame
# settles the overlap and filterbank state. 1536 bytes and 3 frames cover both.
_PRIME_BYTES = 1536
_PRIME_FRAMES = 3
_WORKERS = 2
_CHUNK = 1 << 20


def read_frames(path: str | Path) -> Iterator[bytes]:
    """The file's audio frames, in order: tags, Info frames and junk skipped."""
    reader = FrameReader()
    try:
        with open(path, "rb") as file:
            while chunk := file.read(_CHUNK):
                yield from reader.feed(chunk)
        yield from reader.finish()
    except AudioError as error:  # a format change part way
        raise AudioError(f"{path}: {error}: not one MP3 stream") from None
    except OSError as error:
        raise AudioError(f"cannot read {path}: {error.strerror or error}") from None


def decode_frames(frames: bytes) -> tuple[Samples, int]:
    """In-memory MP3 (e.g. one segment's frames) -> ((n, channels) float32, sample rate).

    Decoded as a stream of its own: frames cut from the middle of another
    stream may lose their first frame or two to the bit reservoir.
    """
    if parse_header(frames) is None and not frames.startswith(b"ID3"):
        raise AudioError("cannot decode MP3 bytes: they do not start with an MPEG frame header")
    try:
        decoded = miniaudio.mp3_read_f32(frames)
    except miniaudio.MiniaudioError as error:
        raise AudioError(f"cannot decode MP3 bytes ({error})") from None
    samples = np.frombuffer(decoded.samples, dtype=np.float32).reshape(-1, decoded.nchannels)
    rate: int = decoded.sample_rate
    return samples, rate


def decode_batches(frames: Iterable[bytes], batch_frames: int = BATCH_FRAMES,
                   workers: int = _WORKERS) -> Iterator[Samples]:
    """Decode a stream of frames into (n, channels) float32 blocks, in order.

    `frames` is consumed lazily, at most `workers` + 1 batches ahead of the caller.
    """
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[Samples]] = deque()
        prime: list[bytes] = []
        for batch in _batches(frames, batch_frames):
            pending.append(pool.submit(_decode_batch, prime, batch))
            prime = _prime(prime + batch)  # a batch may be shorter than a prime
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _batches(frames: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _prime(frames: list[bytes]) -> list[bytes]:
    """The last of the frames so far, enough to restore the decoder's state."""
    count, size = 0, 0
    while count < len(frames) and (count < _PRIME_FRAMES or size < _PRIME_BYTES):
        count += 1
        size += len(frames[-count])
    return frames[-count:]


def _decode_batch(prime: list[bytes], batch: list[bytes]) -> Samples:
    samples, _ = decode_frames(b"".join(prime + batch))
    if not prime:
        return samples
    # The decoder may drop the first primed frames (their reservoir is not
    # there), never later ones, so the batch's audio is the end of the output.
    header = parse_header(batch[0])
    assert header is not None, "FrameReader's frames"
    expected = len(batch) * header.samples  # one format: FrameReader checks
    return samples[max(0, len(samples) - expected):]


def to_s16(samples: npt.ArrayLike) -> bytes:
    """Float samples to interleaved signed 16-bit little-endian PCM, for lameenc.

    Scaled by 32768, the inverse of how the decoder maps 16-bit to float, so
    a decode/encode round trip does not shift levels; +1.0 saturates.
    """
    scaled: Samples = np.rint(np.asarray(samples, dtype=np.float32) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype("<i2").tobytes()
