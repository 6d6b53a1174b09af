"""Documents in, Books out. `read_document` is the only function here that does I/O."""

from __future__ import annotations

import importlib
import pathlib
from collections.abc import Callable

from narrator.errors import DocumentError
from narrator.model import Book
from narrator.text.decode import decode_text
from narrator.text.select import chapter_listing, select_chapters

__all__ = ["chapter_listing", "decode_text", "read_document", "select_chapters", "SUPPORTED_SUFFIXES"]

# Parsers by module and name, imported on first use: lxml would cost every
# command about 7 MB and 40 ms (measured) when only plain text is read.
# Text formats are decoded from UTF-8 first (one set of encoding errors for
# all); binary ones get the file's bytes.
_TEXT_PARSERS = {
    ".txt": "plain.parse_text",
    ".text": "plain.parse_text",
    ".md": "markdown.parse_markdown",
    ".markdown": "markdown.parse_markdown",
    ".html": "html_file.parse_html",
    ".htm": "html_file.parse_html",
    ".xhtml": "html_file.parse_xhtml",
}
_BYTES_PARSERS = {".epub": "epub.parse_epub"}
SUPPORTED_SUFFIXES = (*_TEXT_PARSERS, *_BYTES_PARSERS)


def _parser(name: str) -> Callable[..., Book]:
    module, function = name.split(".")
    parser: Callable[..., Book] = getattr(importlib.import_module(f"narrator.text.{module}"), function)
    return parser


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
        return _parser(_BYTES_PARSERS[suffix])(data, path.name)
    return _parser(_TEXT_PARSERS[suffix])(decode_text(data, path.name), path.name)


def _read_bytes(path: pathlib.Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DocumentError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DocumentError(f"{path}: is a directory, not a document") from None
    except OSError as error:
        raise DocumentError(f"{path}: cannot read it ({error.strerror or error})") from None
