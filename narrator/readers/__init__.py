"""Documents in, Books out. `read_document` is the only function here that does I/O."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

from narrator.errors import DocumentError
from narrator.model import Book
from narrator.readers.decode import decode_text
from narrator.readers.markdown import parse_markdown
from narrator.readers.text import parse_text

__all__ = ["decode_text", "parse_markdown", "parse_text", "read_document", "SUPPORTED_SUFFIXES"]

_PARSERS: dict[str, Callable[[str, str], Book]] = {
    ".txt": parse_text,
    ".text": parse_text,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
}
SUPPORTED_SUFFIXES = tuple(_PARSERS)


def read_document(path: pathlib.Path) -> Book:
    """Read a .txt/.text or .md/.markdown file into a Book (suffix is case-insensitive)."""
    path = pathlib.Path(path)
    parser = _PARSERS.get(path.suffix.lower())
    if parser is None:
        # Check the suffix first: no point reading a file we cannot parse.
        suffix = f"'{path.suffix}'" if path.suffix else "no suffix"
        raise DocumentError(
            f"{path.name}: unsupported document type ({suffix}); "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    data = _read_bytes(path)
    return parser(decode_text(data, path.name), path.name)


def _read_bytes(path: pathlib.Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DocumentError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DocumentError(f"{path}: is a directory, not a document") from None
    except OSError as error:
        raise DocumentError(f"{path}: cannot read it ({error.strerror or error})") from None
