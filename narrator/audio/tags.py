"""ID3v2.4 tags for the book MP3 and chapter files, rendered to bytes.

Pure: every function returns bytes and touches no file. The caller writes
the tag first and streams the audio frames after it, so a 500 MB book is
never rewritten to put a tag in front (an ID3v2 tag must lead the file).

The book tag carries the ID3v2 Chapter Frame Addendum: one CTOC listing
one CHAP per chapter, with times in milliseconds taken from the caller's
frame-exact sample counts. Byte offsets are left "unused" (0xFFFFFFFF): they
would have to count the tag's own size, and players seek by time anyway.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from mutagen.id3 import APIC, CHAP, CTOC, ID3, TALB, TCON, TIT2, TLAN, TPE1, TRCK, CTOCFlags, Frame

from narrator.model import Book

__all__ = ["ChapterMark", "GENRE", "PADDING", "book_tag", "chapter_tag", "iso639_2"]

GENRE = "Audiobook"
# Room left after the frames so a tag editor can change a title in place
# instead of rewriting the whole file; small next to any audio.
PADDING = 1024
# "Unused" in CHAP's start/end byte offset fields (ID3v2 Chapter addendum 3.1).
_NO_OFFSET = 0xFFFFFFFF
_UTF8 = 3  # ID3v2.4 text encoding byte
_FRONT_COVER = 3  # APIC picture type

# ISO 639-1 (the two-letter primary subtag of BCP 47) to ISO 639-2/T, for
# the languages the supported services speak and other common ones. The
# terminology code (deu, fra, zho) rather than the bibliographic one (ger,
# fre, chi): it is also ISO 639-3, what BCP 47 itself uses for three
# letters, and what an MP4 track's language field holds.
_ISO639_2 = dict(pair.split(":") for pair in [
    "af:afr", "am:amh", "ar:ara", "as:asm", "az:aze", "be:bel", "bg:bul", "bn:ben", "bo:bod", "bs:bos",
    "ca:cat", "cs:ces", "cy:cym", "da:dan", "de:deu", "el:ell", "en:eng", "eo:epo", "es:spa", "et:est",
    "eu:eus", "fa:fas", "fi:fin", "fo:fao", "fr:fra", "ga:gle", "gd:gla", "gl:glg", "gu:guj", "he:heb",
    "hi:hin", "hr:hrv", "hu:hun", "hy:hye", "id:ind", "is:isl", "it:ita", "ja:jpn", "jv:jav", "ka:kat",
    "kk:kaz", "km:khm", "kn:kan", "ko:kor", "ku:kur", "ky:kir", "la:lat", "lb:ltz", "lo:lao", "lt:lit",
    "lv:lav", "mi:mri", "mk:mkd", "ml:mal", "mn:mon", "mr:mar", "ms:msa", "mt:mlt", "my:mya", "nb:nob",
    "ne:nep", "nl:nld", "nn:nno", "no:nor", "or:ori", "pa:pan", "pl:pol", "ps:pus", "pt:por", "ro:ron",
    "ru:rus", "sa:san", "sd:snd", "si:sin", "sk:slk", "sl:slv", "so:som", "sq:sqi", "sr:srp", "sv:swe",
    "sw:swa", "ta:tam", "te:tel", "tg:tgk", "th:tha", "tk:tuk", "tl:tgl", "tr:tur", "tt:tat", "ug:uig",
    "uk:ukr", "ur:urd", "uz:uzb", "vi:vie", "xh:xho", "yi:yid", "yo:yor", "zh:zho", "zu:zul",
])


@dataclass(frozen=True)
class ChapterMark:
    """A chapter on the book's timeline, in milliseconds from the first sample."""

    title: str
    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        # Marks are computed, never typed in: a bad one is a bug upstream.
        if not 0 <= self.start_ms <= self.end_ms:
            raise ValueError(f"chapter {self.title!r}: {self.start_ms}..{self.end_ms} ms is not a time span")


def iso639_2(language: str | None) -> str | None:
    """The ISO 639-2 code for a BCP 47 tag ("en-GB" -> "eng"), or None.

    A three-letter primary subtag is already an ISO 639-2/3 code and is kept;
    "und", private ("x-...") and grandfathered ("i-...") tags and two-letter
    codes outside the table give None: no language beats a wrong one.
    """
    if not language:
        return None
    primary = language.strip().replace("_", "-").split("-")[0].lower()
    if len(primary) == 3 and primary.isalpha() and primary.isascii() and primary != "und":
        return primary
    return _ISO639_2.get(primary)


def book_tag(book: Book, marks: list[ChapterMark]) -> bytes:
    """The whole-book tag: book frames plus a CTOC and one CHAP per mark."""
    _check_order(marks)
    ids = [f"chp{n}" for n in range(1, len(marks) + 1)]
    chapters = [
        _frame(CHAP, element_id=element_id, start_time=mark.start_ms, end_time=mark.end_ms,
               start_offset=_NO_OFFSET, end_offset=_NO_OFFSET,
               sub_frames=[_text(TIT2, chapter_title(mark.title, n))])
        for element_id, mark, n in zip(ids, marks, range(1, len(marks) + 1))
    ]
    if ids:  # a table of contents with nothing in it only confuses players
        chapters.append(_frame(CTOC, element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                               child_element_ids=ids, sub_frames=[_text(TIT2, book.title)]))
    return _render(_common(book, title=book.title) + chapters)


def chapter_tag(book: Book, title: str, track: int, total: int) -> bytes:
    """The tag of one chapter file: the chapter's title, the book as album."""
    if not 1 <= track <= total:
        raise ValueError(f"track {track} of {total}")
    return _render(_common(book, title=chapter_title(title, track)) + [_text(TRCK, f"{track}/{total}")])


def chapter_title(title: str, n: int) -> str:
    """A chapter's title, or "Chapter n" when it has none: mutagen drops an
    empty TIT2, and a player would list a blank line."""
    return title.strip() or f"Chapter {n}"


def _common(book: Book, title: str) -> list[Frame]:
    frames = [_text(TIT2, title), _text(TALB, book.title), _text(TCON, GENRE)]
    if book.author:
        frames.append(_text(TPE1, book.author))
    language = iso639_2(book.language)
    if language:
        frames.append(_text(TLAN, language))
    if book.cover is not None:
        frames.append(_frame(APIC, encoding=_UTF8, mime=book.cover.mime, type=_FRONT_COVER, desc="",
                             data=book.cover.data))
    return frames


def _text(kind: type[Frame], value: str) -> Frame:
    return _frame(kind, encoding=_UTF8, text=[value])


def _frame(kind: type[Frame], **fields: object) -> Frame:
    return kind(**fields)


def _check_order(marks: list[ChapterMark]) -> None:
    for n, (before, after) in enumerate(zip(marks, marks[1:]), start=2):
        if after.start_ms < before.end_ms:
            raise ValueError(f"chapter {n} starts at {after.start_ms} ms, "
                             f"before chapter {n - 1} ends at {before.end_ms} ms")


def _render(frames: list[Frame]) -> bytes:
    """The frames as a tag in bytes, through mutagen's public save() into an
    empty in-memory file: v2.4, no ID3v1 tail, PADDING zero bytes at the end."""
    # mutagen's ID3 class has no annotations: these two calls are untyped.
    tag = ID3()  # type: ignore[no-untyped-call]
    for frame in frames:
        tag.add(frame)  # type: ignore[no-untyped-call]
    buffer = io.BytesIO()
    tag.save(buffer, v1=0, v2_version=4, padding=lambda info: PADDING)
    return buffer.getvalue()
