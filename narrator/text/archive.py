"""Safe access to a zip archive (an EPUB) held in memory.

A hostile archive can claim millions of entries or expand a megabyte into
gigabytes. Every limit here is checked from the archive's own directory
before a single entry is decompressed, and entries are only ever read in
bounded chunks, so memory stays proportional to what the limits allow.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib

from narrator.errors import DocumentError

MAX_ENTRIES = 10_000
# The sum of the sizes the entries declare once decompressed.
MAX_TOTAL_BYTES = 512 * 1024 * 1024
# zipfile builds an object per central-directory record before we can count
# them; a directory larger than this is refused unread (real EPUBs need a few
# hundred kilobytes at most).
MAX_DIRECTORY_BYTES = MAX_ENTRIES * 1024
# Deflate cannot exceed about 1032:1; prose compresses 3-10:1. An entry
# beyond this ratio is a bomb, not a book. Small entries are exempt: a few
# kilobytes of blank lines compress absurdly well and harm nobody.
MAX_RATIO = 200
RATIO_MIN_BYTES = 1024 * 1024
# Bytes decompressed per read: zipfile caps one read's output at the size
# asked for (deflate's max_length), never at the whole entry.
_CHUNK = 64 * 1024
# The only methods OCF allows. bzip2 and LZMA decompress without an output
# cap inside zipfile, so a small compressed read could still explode.
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"


def open_zip(data: bytes, name: str) -> zipfile.ZipFile:
    """The archive, once its directory is within every limit."""
    _check_directory(data, name)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, struct.error):
        raise DocumentError(f"{name}: not an EPUB (not a zip archive)") from None
    check_limits(archive.infolist(), name)
    return archive


def check_limits(entries: list[zipfile.ZipInfo], name: str) -> None:
    """Refuse an archive whose declared contents exceed the limits."""
    if len(entries) > MAX_ENTRIES:
        raise DocumentError(
            f"{name}: refused: {len(entries):,} files in the archive (at most {MAX_ENTRIES:,})"
        )
    total = sum(entry.file_size for entry in entries)
    if total > MAX_TOTAL_BYTES:
        raise DocumentError(
            f"{name}: refused: its files would expand to {_mib(total)} "
            f"(at most {_mib(MAX_TOTAL_BYTES)}); a zip bomb or not a book"
        )
    for entry in entries:
        _check_entry(entry, name)


def _check_entry(entry: zipfile.ZipInfo, name: str) -> None:
    if entry.compress_type not in _METHODS:
        raise DocumentError(
            f"{name}: {entry.filename} uses zip compression method {entry.compress_type}; "
            "EPUB allows only stored or deflated files"
        )
    if entry.flag_bits & 0x1:
        raise DocumentError(f"{name}: {entry.filename} is encrypted (password-protected zip)")
    ratio = entry.file_size / max(entry.compress_size, 1)
    if entry.file_size >= RATIO_MIN_BYTES and ratio > MAX_RATIO:
        raise DocumentError(
            f"{name}: refused: {entry.filename} expands {ratio:,.0f} times "
            f"({_mib(entry.compress_size)} to {_mib(entry.file_size)}); a zip bomb"
        )


def read_member(archive: zipfile.ZipFile, member: str, name: str) -> bytes:
    """One entry's bytes, read in bounded chunks.

    ZipExtFile never returns more than the entry's declared file_size (it
    trims every decompressed chunk to what is left of it), and read(n) asks
    deflate for at most n bytes, so neither a lying header nor a bomb can
    make this hold more than the declared size plus one chunk. (A single
    read() without a size would decompress up to 1 GiB before trimming.)
    """
    parts: list[bytes] = []
    try:
        with archive.open(member) as entry:
            while chunk := entry.read(_CHUNK):
                parts.append(chunk)
    except KeyError:
        raise DocumentError(f"{name}: {member} is missing from the archive") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as error:
        raise DocumentError(f"{name}: {member} is damaged in the archive ({error})") from None
    data = b"".join(parts)
    _refuse_entities(data, member, name)
    return data


# A DOCTYPE's internal subset declaring an entity: `<!DOCTYPE x [ ... <!ENTITY`.
_ENTITY_DECLARATION = re.compile(rb"<!DOCTYPE[^>\[]*\[[^\]]*<!ENTITY", re.IGNORECASE)
_XML_SUFFIXES = (".xml", ".opf", ".ncx", ".xhtml", ".html", ".htm", ".svg")


def _refuse_entities(data: bytes, member: str, name: str) -> None:
    """No parser here resolves entities, but a book that declares them is
    refused outright: it is how a file tries to read others (or expand a
    billion times), and no real book needs it."""
    if member.lower().endswith(_XML_SUFFIXES) and _ENTITY_DECLARATION.search(data[:1 << 16]):
        raise DocumentError(f"{name}: {member} declares entities in its DOCTYPE, which narrator never reads "
                            "(a way to reach other files): remove the declarations or export the EPUB again")


def _check_directory(data: bytes, name: str) -> None:
    """Count entries from the end-of-central-directory record, before
    zipfile spends memory on each of them."""
    claimed = _claimed_directory(data)
    if claimed is None:
        return  # no record: zipfile will say it is not a zip
    entries, size = claimed
    if entries > MAX_ENTRIES or size > MAX_DIRECTORY_BYTES:
        raise DocumentError(
            f"{name}: refused: the archive claims {entries:,} files "
            f"(at most {MAX_ENTRIES:,}) in a {_mib(size)} directory"
        )


def _claimed_directory(data: bytes) -> tuple[int, int] | None:
    """(entry count, directory size) as the archive states them, or None."""
    start = data.rfind(_EOCD, max(0, len(data) - 22 - 0xFFFF))
    if start < 0 or len(data) - start < 22:
        return None
    entries, size = struct.unpack_from("<HI", data, start + 10)
    locator = start - 20
    if locator >= 0 and data[locator : locator + 4] == _EOCD64_LOCATOR:
        (offset,) = struct.unpack_from("<Q", data, locator + 8)
        if data[offset : offset + 4] == _EOCD64 and offset + 56 <= len(data):
            entries, size = struct.unpack_from("<QQ", data, offset + 32)
    return entries, size


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):,.1f} MiB"
