"""Documents in, Books out. `read_document` is the only function here that does I/O."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

from narrator.errors import DocumentError
from narrator.model import Book
from narrator.readers.decode import decode_text
from narrator.readers.epub import parse_epub
from narrator.readers.html import parse_html, parse_xhtml
from narrator.readers.markdown import parse_markdown
from narrator.readers.select import chapter_listing, select_chapters
from narrator.readers.text import parse_text

__all__ = [
    "chapter_listing",
    "decode_text",
    "parse_epub",
    "parse_html",
    "parse_markdown",
    "parse_text",
    "parse_xhtml",
    "read_document",
    "select_chapters",
    "SUPPORTED_SUFFIXES",
]

# Text formats: decoded from UTF-8 first (one set of encoding errors for all).
_TEXT_PARSERS: dict[str, Callable[[str, str], Book]] = {
    ".txt": parse_text,
    ".text": parse_text,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".html": parse_html,
    ".htm": parse_html,
    ".xhtml": parse_xhtml,
}
# Binary formats: the parser gets the file's bytes.
_BYTES_PARSERS: dict[str, Callable[[bytes, str], Book]] = {
    ".epub": parse_epub,
}
SUPPORTED_SUFFIXES = (*_TEXT_PARSERS, *_BYTES_PARSERS)


def read_document(path: pathlib.Path) -> Book:
    """Read a document of any SUPPORTED_SUFFIXES into a Book (suffix is case-insensitive)."""
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        # Check the suffix first: no point reading a file we cannot parse.
        shown = f"'{path.suffix}'" if path.suffix else "no suffix"
        raise DocumentError(
            f"{path.name}: unsupported document type ({shown}); "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    data = _read_bytes(path)
    if suffix in _BYTES_PARSERS:
        return _BYTES_PARSERS[suffix](data, path.name)
    return _TEXT_PARSERS[suffix](decode_text(data, path.name), path.name)


def _read_bytes(path: pathlib.Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DocumentError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DocumentError(f"{path}: is a directory, not a document") from None
    except OSError as error:
        raise DocumentError(f"{path}: cannot read it ({error.strerror or error})") from None
