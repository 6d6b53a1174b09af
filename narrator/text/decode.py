"""Bytes to text: the one place that knows about encodings and line endings.

Pure: the caller reads the file; `source` is only used in error messages.
"""

from __future__ import annotations

import codecs

from narrator.errors import DocumentError

# More control characters than this share of all characters means the file is
# not prose: real text has at most a stray one (a form feed, an escape).
_CONTROL_SHARE_LIMIT = 0.10

# Control characters that are legitimately part of text files.
_TEXT_CONTROLS = frozenset("\t\n\r\f\v")

_FIX = "save it as UTF-8 text and try again"


def decode_text(data: bytes, source: str) -> str:
    """UTF-8 (with or without BOM) to a str with LF line endings only.

    Raises DocumentError for binary files, UTF-16 and invalid UTF-8.
    """
    _reject_binary(data, source)
    text = _decode_utf8(data, source)
    _reject_control_heavy(text, source)
    return _normalise(text)


def _reject_binary(data: bytes, source: str) -> None:
    # UTF-16 is common from some Windows editors; say so rather than "binary".
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DocumentError(f"{source}: the file is UTF-16 encoded; {_FIX}")
    if b"\x00" in data:
        raise DocumentError(
            f"{source}: looks like a binary file (it contains NUL bytes), not a text "
            f"document; if it is text, {_FIX}"
        )


def _decode_utf8(data: bytes, source: str) -> str:
    # Strip the BOM by hand (rather than "utf-8-sig") so error offsets stay
    # relative to the start of the file, which is what a hex editor shows.
    skipped = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[skipped:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = skipped + error.start
        raise DocumentError(
            f"{source}: not valid UTF-8 at byte {offset} (line {_line_at(data, offset)}, "
            f"byte 0x{data[offset]:02x}); {_FIX}"
        ) from None


def _line_at(data: bytes, offset: int) -> int:
    """1-based line number of `offset`, counting CRLF, CR and LF endings."""
    before = data[:offset]
    return before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1


# Stray controls, deleted by str.translate: per-character Python loops over a
# ten-hour book would cost seconds and a list as long as the book.
_STRAY_CONTROLS = {
    code: None for code in [*range(0x20), 0x7F] if chr(code) not in _TEXT_CONTROLS
}


def _reject_control_heavy(text: str, source: str) -> None:
    if not text:
        return
    controls = len(text) - len(text.translate(_STRAY_CONTROLS))
    share = controls / len(text)
    if share > _CONTROL_SHARE_LIMIT:
        raise DocumentError(
            f"{source}: looks like a binary file ({share:.0%} control characters), not a "
            f"text document; if it is text, {_FIX}"
        )


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # A form feed or vertical tab is a page/line break: keep it as a line break
    # so Markdown block structure after it still parses.
    text = text.replace("\f", "\n").replace("\v", "\n")
    # The few remaining stray controls (below the binary limit) are never
    # speakable and can upset a TTS service, so they go.
    return text.translate(_STRAY_CONTROLS)
