"""The whole-book MP3 to an M4B audiobook (AAC, chapters, cover) through ffmpeg.

`ffmetadata` is pure: the book and its chapter marks as ffmpeg's metadata
file. `find_ffmpeg` and `write_m4b` are the I/O shell around it.

Timing: ffmpeg's AAC encoder puts 1024 samples of priming in front, and
its mp4 muxer writes an edit list that skips exactly them, so the M4B
plays the same samples as the MP3 decodes to, from the same instant; the
chapter marks, in ms on the MP3's timeline, therefore hold unchanged.
(mutagen's MP4 length ignores the edit list and reads 1024 samples long.)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from narrator.audio.tags import GENRE, ChapterMark, chapter_title, iso639_2
from narrator.errors import AudioError, ConfigError
from narrator.files import written_whole
from narrator.model import Book

__all__ = ["DEFAULT_BITRATE_KBPS", "FFMPEG_ENV", "ffmetadata", "find_ffmpeg", "write_m4b"]

FFMPEG_ENV = "NARRATOR_FFMPEG"
# AAC-LC at 64 kbit/s is transparent for speech, mono or not, and is what
# the big audiobook stores ship; ffmpeg's own encoder gets audibly worse
# below it. About 29 MB per hour.
DEFAULT_BITRATE_KBPS = 64
# iTunes media kind (the "stik" atom) for an audiobook: Apple's players
# shelve the file as a book, with resume and chapters, not as music.
_AUDIOBOOK_MEDIA_TYPE = "2"
_NOT_FOUND = ("--format m4b needs ffmpeg: install it (e.g. `apt install ffmpeg`, `brew install ffmpeg`) "
              f"or `pip install imageio-ffmpeg`, or set {FFMPEG_ENV} to its path")
# What ffmpeg's stdin-free image demuxers recognise by name; an unknown type
# is still probed by content.
_COVER_SUFFIX = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif",
                 "image/webp": ".webp", "image/bmp": ".bmp"}
# MP4 covers can only be JPEG, PNG or BMP: those are copied byte for byte,
# anything else is converted to PNG.
_COPIED_COVERS = {"image/jpeg", "image/png", "image/bmp"}
# "[in#0 @ 0x55eb3cfac200] " in front of ffmpeg's messages says nothing to a reader.
_LOG_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")
_NOISE = {"Conversion failed!"}


def _bundled_ffmpeg() -> str | None:
    """imageio-ffmpeg's static binary, when that package is installed."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        path: str = imageio_ffmpeg.get_ffmpeg_exe()
        return path
    except RuntimeError:  # installed without a binary for this platform
        return None


def find_ffmpeg(environ: Mapping[str, str] | None = None,
                bundled: Callable[[], str | None] = _bundled_ffmpeg) -> str:
    """ffmpeg's path: $NARRATOR_FFMPEG, else `ffmpeg` on $PATH, else
    imageio-ffmpeg's. `environ` and `bundled` stand in for the process's
    environment and the imageio-ffmpeg lookup."""
    environ = os.environ if environ is None else environ
    chosen = environ.get(FFMPEG_ENV)
    if chosen:
        path = os.path.expanduser(chosen)
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise ConfigError(f"{FFMPEG_ENV}={chosen} is not an executable file: "
                              f"set it to ffmpeg's path, or unset it to look for ffmpeg on PATH")
        return path
    found = shutil.which("ffmpeg", path=environ.get("PATH", os.defpath)) or bundled()
    if not found:
        raise ConfigError(_NOT_FOUND)
    return found


def ffmetadata(book: Book, marks: list[ChapterMark]) -> str:
    """ffmpeg's FFMETADATA1 text: book tags, then one [CHAPTER] per mark in ms."""
    lines = [";FFMETADATA1", _pair("title", book.title), _pair("album", book.title)]
    if book.author:
        lines += [_pair("artist", book.author), _pair("album_artist", book.author)]
    lines += [_pair("genre", GENRE), _pair("media_type", _AUDIOBOOK_MEDIA_TYPE)]
    for n, mark in enumerate(marks, start=1):
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={mark.start_ms}", f"END={mark.end_ms}",
                  _pair("title", chapter_title(mark.title, n))]
    return "\n".join(lines) + "\n"


def _pair(key: str, value: str) -> str:
    return f"{key}={_escape(value)}"


def _escape(value: str) -> str:
    """ffmpeg's metadata-file escaping: a backslash before = ; # \\ and a newline.
    A NUL would end ffmpeg's line early, and a lone CR ends a line too."""
    value = value.replace("\0", "").replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"([=;#\\\n])", r"\\\1", value)


def write_m4b(mp3: Path, book: Book, marks: list[ChapterMark], out: Path, *,
              bitrate_kbps: int = DEFAULT_BITRATE_KBPS, ffmpeg: str | None = None) -> None:
    """Encode the whole-book MP3 to an M4B at `out`, through `out` + ".part".

    The MP3's own ID3 tag (chapters, cover) is ignored: tags and chapters
    come from `book` and `marks`. Channels and sample rate are kept.
    """
    exe = ffmpeg or find_ffmpeg()
    with tempfile.TemporaryDirectory(prefix="narrator-m4b-") as scratch, written_whole(out) as part:
        meta = Path(scratch) / "metadata.txt"
        meta.write_text(ffmetadata(book, marks), encoding="utf-8", newline="\n")
        cover = _write_cover(book, Path(scratch))
        _run(_command(exe, mp3, meta, cover, book, bitrate_kbps, part), exe, mp3, out)


def _write_cover(book: Book, folder: Path) -> Path | None:
    if book.cover is None:
        return None
    path = folder / ("cover" + _COVER_SUFFIX.get(book.cover.mime, ".img"))
    path.write_bytes(book.cover.data)
    return path


def _command(exe: str, mp3: Path, meta: Path, cover: Path | None, book: Book,
             bitrate_kbps: int, part: Path) -> list[str]:
    command = [exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
               "-i", str(mp3), "-f", "ffmetadata", "-i", str(meta)]
    if cover is not None:
        command += ["-i", str(cover)]
    # Audio from the MP3 only: its ID3 cover would otherwise become a stream.
    command += ["-map", "0:a:0", "-c:a", "aac", "-b:a", f"{bitrate_kbps}k"]
    language = iso639_2(book.language)
    if language:
        command += ["-metadata:s:a:0", f"language={language}"]
    if cover is not None:
        copied = book.cover is not None and book.cover.mime in _COPIED_COVERS
        command += ["-map", "2:v:0", "-c:v", "copy" if copied else "png", "-disposition:v", "attached_pic"]
    command += ["-map_metadata", "1", "-map_chapters", "1", "-f", "ipod", str(part)]
    return command


def _run(command: list[str], exe: str, mp3: Path, out: Path) -> None:
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, errors="replace")
    except OSError as error:
        raise ConfigError(f"cannot run ffmpeg at {exe}: {error.strerror}; "
                          f"install ffmpeg or set {FFMPEG_ENV} to a working one") from error
    if done.returncode != 0:
        raise AudioError(f"ffmpeg could not make {out.name} from {mp3}: {_last_line(done.stderr)} "
                         f"(exit {done.returncode}); check that the MP3 plays "
                         f"and there is room in {out.parent}")


def _last_line(stderr: str) -> str:
    """ffmpeg's last line that says something, without its "[in#0 @ 0x...]" prefix."""
    for line in reversed(stderr.splitlines()):
        line = _LOG_PREFIX.sub("", line).strip()
        if line and line not in _NOISE:
            return line
    return "no error message"
