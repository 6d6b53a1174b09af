"""MPEG audio frame arithmetic: split streams into frames, count exact samples.

Two jobs rest on this module. Joining: TTS services send MP3 in arbitrary
WebSocket message pieces, each chunk possibly wrapped in ID3/APE tags or led
by a Xing/Info frame; the book file must hold audio frames only, or players
mis-seek and show a wrong length. Timing: captions are placed by counting
samples, and a frame's sample count is fixed by its header, so counting
frames gives the exact duration without decoding anything.

Pure functions over bytes: no I/O, no asyncio.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

from narrator.errors import AudioError

__all__ = ["FrameHeader", "FrameReader", "audio_frames", "parse_header"]


@dataclass(frozen=True)
class FrameHeader:
    version: str  # "1", "2" or "2.5"
    layer: int  # 1, 2 or 3
    bitrate: int  # bits per second
    sample_rate: int
    padding: bool
    channels: int  # 1 or 2
    size: int  # bytes of the whole frame, header included
    samples: int  # samples per channel in this frame


_VERSIONS = {0: "2.5", 2: "2", 3: "1"}  # 1 is reserved
_LAYERS = {1: 3, 2: 2, 3: 1}  # 0 is reserved
_SAMPLE_RATES = {
    "1": (44100, 48000, 32000),
    "2": (22050, 24000, 16000),
    "2.5": (11025, 12000, 8000),
}
# kbit/s for bitrate index 1..14, keyed by (MPEG-1?, layer).
_BITRATES = {
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_U32 = struct.Struct(">I")


# A stream repeats a handful of distinct header words, so caching the decode
# makes the per-frame cost a dict lookup (1.5 million frames in a long book).
@lru_cache(maxsize=4096)
def _decode(word: int) -> FrameHeader | None:
    if word >> 21 != 0x7FF:  # 11 sync bits
        return None
    version = _VERSIONS.get(word >> 19 & 3)
    layer = _LAYERS.get(word >> 17 & 3)
    bitrate_index = word >> 12 & 15
    rate_index = word >> 10 & 3
    if version is None or layer is None or rate_index == 3:
        return None
    if bitrate_index in (0, 15):  # 0 is "free format": frame size unknowable
        return None
    # MPEG-2.5 only exists for layer III, and emphasis 2 is reserved: neither
    # comes from a real encoder, so rejecting them makes resync less gullible.
    if (version == "2.5" and layer != 3) or word & 3 == 2:
        return None
    mpeg1 = version == "1"
    bitrate = _BITRATES[mpeg1, layer][bitrate_index - 1] * 1000
    sample_rate = _SAMPLE_RATES[version][rate_index]
    padding = bool(word >> 9 & 1)
    if layer == 1:
        samples = 384
        size = (12 * bitrate // sample_rate + padding) * 4  # 4-byte slots
    else:
        samples = 1152 if layer == 2 or mpeg1 else 576
        size = samples // 8 * bitrate // sample_rate + padding
    channels = 1 if word >> 6 & 3 == 3 else 2
    return FrameHeader(version, layer, bitrate, sample_rate, padding, channels, size, samples)


def parse_header(data: bytes | bytearray, offset: int = 0) -> FrameHeader | None:
    """The frame header at `offset`, or None if those 4 bytes are not one."""
    if offset < 0 or len(data) - offset < 4:
        return None
    return _decode(_U32.unpack_from(data, offset)[0])


def _is_info(frame: bytes, header: FrameHeader) -> bool:
    # Xing/Info sits right after the layer III side info, whose size depends
    # on version and channel mode; VBRI is always at 36.
    if header.version == "1":
        offset = 36 if header.channels == 2 else 21
    else:
        offset = 21 if header.channels == 2 else 13
    if frame[offset : offset + 4] in (b"Xing", b"Info"):
        return True
    # With a CRC the side info starts 2 bytes later; some writers honour that.
    if not frame[1] & 1 and frame[offset + 2 : offset + 6] in (b"Xing", b"Info"):
        return True
    return frame[36:40] == b"VBRI"


def _tag_size(buf: bytearray, p: int) -> int | None:
    """Bytes of the tag starting at p: 0 if none, None if more data is needed."""
    have = len(buf) - p
    if buf.startswith(b"ID3", p):
        if have < 10:
            return None
        version, revision, flags = buf[p + 3], buf[p + 4], buf[p + 5]
        size_bytes = buf[p + 6 : p + 10]
        if version == 0xFF or revision == 0xFF or any(b & 0x80 for b in size_bytes):
            return 0  # not a real ID3v2 header
        size = 0
        for b in size_bytes:  # "syncsafe": 7 bits per byte
            size = size << 7 | b
        return 10 + size + (10 if flags & 0x10 else 0)  # 0x10: footer present
    if buf.startswith(b"TAG", p):
        return 128  # ID3v1
    if buf.startswith(b"APETAGEX", p):
        if have < 32:
            return None
        size, flags = struct.unpack_from("<I4xI", buf, p + 12)
        # `size` counts items + footer. From a header we skip the whole tag;
        # a footer means a headerless tag whose items were already skipped
        # as garbage, so only the footer itself remains.
        return 32 + size if flags & 1 << 29 else 32
    rest = bytes(buf[p : p + 8])
    if have < 8 and any(magic.startswith(rest) for magic in (b"ID3", b"TAG", b"APETAGEX")):
        return None
    return 0


def _describe(fmt: tuple[int, int, int]) -> str:
    rate, channels, layer = fmt
    return f"{rate} Hz {'mono' if channels == 1 else 'stereo'} layer {'I' * layer}"


class FrameReader:
    """Incremental MP3 parser: bytes in, whole audio frames out.

    A frame that follows an accepted frame and has the stream's format is
    trusted; any other candidate (stream start, after garbage, a format
    change) is accepted only when the next frame's header agrees with it
    (the next two for a format change), a tag follows it,
    or the data ends exactly at its end at finish().
    Total bytes fed = bytes of returned frames + skipped_bytes (+ buffered).
    """

    def __init__(self) -> None:
        self.frames = 0
        self.samples = 0
        self.sample_rate: int | None = None
        self.skipped_bytes = 0
        self._format: tuple[int, int, int] | None = None  # rate, channels, layer
        self._buf = bytearray()  # unparsed bytes; at most about one frame
        self._base = 0  # stream offset of _buf[0], for error messages
        self._skip = 0  # bytes of a tag still to drop, so tags are never buffered
        self._synced = False  # p follows an accepted frame (tags between are fine)

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        return self._parse(final=False)

    def finish(self) -> list[bytes]:
        """End the stream: return the last frame, drop any partial one.

        A later feed() starts a new stream that must keep the same format.
        """
        frames = self._parse(final=True)
        self.skipped_bytes += len(self._buf)
        self._base += len(self._buf)
        self._buf.clear()
        self._skip = 0
        self._synced = False
        return frames

    def _parse(self, final: bool) -> list[bytes]:
        buf, out = self._buf, []
        n, p = len(buf), 0
        with memoryview(buf) as view:  # slices without an extra copy
            while p < n:
                if self._skip:
                    step = min(self._skip, n - p)
                    self._skip -= step
                    self.skipped_bytes += step
                    p += step
                    continue
                if buf[p] == 0xFF:
                    if n - p < 4 and not final:
                        break
                    header = parse_header(buf, p)
                    if header is not None:
                        verdict = self._verdict(header, p, n, final)
                        if verdict is _WAIT:
                            break
                        if verdict is _TRUNCATED:
                            break  # finish() counts the rest as skipped
                        if verdict is _ACCEPT:
                            end = p + header.size
                            frame = bytes(view[p:end])
                            if _is_info(frame, header):
                                self.skipped_bytes += header.size
                            else:
                                self._count(header, p)
                                out.append(frame)
                            self._synced = True
                            p = end
                            continue
                else:
                    size = _tag_size(buf, p)
                    if size is None and not final:
                        break
                    if size:
                        self._skip = size
                        continue
                # Garbage at p: jump to the next byte that could start a frame
                # or an ID3v2 tag (find() scans in C, not byte by byte here).
                q = buf.find(b"\xff", p + 1)
                tag = buf.find(b"ID3", p + 1, n if q < 0 else q + 2)
                if tag >= 0:
                    q = tag
                elif q < 0:
                    # Keep 2 bytes in case "ID3" is split across feeds.
                    q = n if final else max(p + 1, n - 2)
                self.skipped_bytes += q - p
                self._synced = False
                p = q
        del buf[:p]  # compact once per feed: what remains is under a frame
        self._base += p
        return out

    def _verdict(self, header: FrameHeader, p: int, n: int, final: bool) -> object:
        fmt = (header.sample_rate, header.channels, header.layer)
        matches = self._format is None or fmt == self._format
        if self._synced and matches:
            if p + header.size <= n:
                return _ACCEPT
            return _TRUNCATED if final else _WAIT
        # Junk is full of words that pass as headers, and now and then one
        # is followed by another. One agreeing successor is enough to start
        # or resume the stream; a format change raises, so it must be
        # followed by two. (Each successor delays output by a frame.)
        needed = 1 if matches else 2
        end, confirmed = p + header.size, 0
        while confirmed < needed:
            if end + 4 > n:
                if not final:
                    return _WAIT
                # Data ends here: fine if exactly at a frame's end.
                return _ACCEPT if end == n and (confirmed or matches) else _REJECT
            after = parse_header(self._buf, end)
            if after is None:
                # A tag after the frame confirms it as well as a header does.
                ok = self._buf.startswith((b"ID3", b"TAG", b"APET"), end)
                return _ACCEPT if ok else _REJECT
            if (after.sample_rate, after.channels, after.layer) != fmt:
                return _REJECT
            end += after.size
            confirmed += 1
        return _ACCEPT

    def _count(self, header: FrameHeader, p: int) -> None:
        fmt = (header.sample_rate, header.channels, header.layer)
        if self._format is None:
            self._format = fmt
            self.sample_rate = header.sample_rate
        elif fmt != self._format:
            raise AudioError(
                f"cannot join MP3 audio of different formats: {_describe(fmt)} "
                f"at byte {self._base + p} after {_describe(self._format)}"
            )
        self.frames += 1
        self.samples += header.samples


_ACCEPT, _REJECT, _WAIT, _TRUNCATED = object(), object(), object(), object()


def audio_frames(data: bytes) -> tuple[list[bytes], int, int]:
    """(frames, samples, sample_rate) of one whole chunk; rate 0 if no audio."""
    reader = FrameReader()
    frames = reader.feed(data)
    frames += reader.finish()
    return frames, reader.samples, reader.sample_rate or 0
