"""Caption files in every format, from timed words: the one entry point.

`write_caption_file(fmt, words, out, style=..., audio_end_ms=...)` writes one
file to an open text stream and returns how many cues (words, for JSON) it
wrote. Like the cue builder it streams: nothing holds the whole book.

- srt: plain cue text (write_srt).
- vtt: in sentence style, a cue timestamp tag before each word after the
  first (write_vtt); plain text in word style, where a cue is one word
  already.
- ass: one event per cue on a 1920x1080 script, bottom centre; in sentence
  style each word is a karaoke syllable `{\\kNN}` (centiseconds) that turns
  from grey to white as it is spoken.
- json: every word, `{"words": [{"text", "start", "end", "paragraph_end"}]}`,
  times in seconds with millisecond precision (3 decimals); always words,
  whatever the style.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TextIO

from narrator.captions.cues import CAPTION_STYLES, Cue, build_cues
from narrator.captions.grouping import spoken_words
from narrator.model import Word

if TYPE_CHECKING:  # pysubs2 is loaded when ASS is written, not at every start
    import pysubs2

CAPTION_FORMATS = ("srt", "vtt", "ass", "json")


def write_caption_file(
    fmt: str, words: Iterable[Word], out: TextIO, *, style: str = "sentence", audio_end_ms: int
) -> int:
    """Write `words` (already on this file's timeline) as one caption file."""
    if fmt not in CAPTION_FORMATS:
        raise ValueError(f"caption format {fmt!r} is not one of {', '.join(CAPTION_FORMATS)}")
    if style not in CAPTION_STYLES:
        raise ValueError(f"caption style {style!r} is not one of {', '.join(CAPTION_STYLES)}")
    if fmt == "json":
        return write_json(words, out, audio_end_ms=audio_end_ms)
    cues = build_cues(words, audio_end_ms=audio_end_ms, style=style)
    # Per-word timing only means something when a cue holds several words.
    per_word = style == "sentence"
    writers: dict[str, Callable[[Iterator[Cue], TextIO], int]] = {
        "srt": write_srt,
        "vtt": lambda c, o: write_vtt(c, o, word_times=per_word),
        "ass": lambda c, o: write_ass(c, o, karaoke=per_word),
    }
    return writers[fmt](cues, out)


# --------------------------------------------------------------------------
# SRT and WebVTT


def _timestamp(ms: int, separator: str) -> str:
    if ms < 0:
        raise ValueError(f"negative timestamp: {ms} ms")
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def srt_timestamp(ms: int) -> str:
    """`HH:MM:SS,mmm`; hours keep growing past 99 rather than wrapping."""
    return _timestamp(ms, ",")


def vtt_timestamp(ms: int) -> str:
    """`HH:MM:SS.mmm`; hours keep growing past 99 rather than wrapping."""
    return _timestamp(ms, ".")


def _write_cues(cues: Iterable[Cue], out: TextIO, block: Callable[[int, Cue], str]) -> int:
    """Stream cues through `block(number, cue) -> str`, a blank line between."""
    count = 0
    for count, cue in enumerate(cues, start=1):
        if count > 1:
            out.write("\n")
        out.write(block(count, cue))
    return count


def write_srt(cues: Iterable[Cue], out: TextIO) -> int:
    """Write SubRip cues (1-based, blank line between); return how many."""
    return _write_cues(cues, out, lambda number, cue: (
        f"{number}\n{srt_timestamp(cue.start_ms)} --> {srt_timestamp(cue.end_ms)}\n{cue.text}\n"
    ))


def _vtt_text(text: str) -> str:
    # WebVTT cue text is markup: & and < must be escaped, and escaping > too
    # means "-->" can never appear, while players still show it as typed.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def words_by_line(cue: Cue) -> list[list[Word]] | None:
    """The cue's words split as its lines are; None when the cue carries no
    words or they do not spell its lines (a hand-made cue)."""
    if not cue.words:
        return None
    result: list[list[Word]] = []
    pos = 0
    for line in cue.lines:
        taken: list[Word] = []
        width = -1
        while pos < len(cue.words) and width < len(line):
            taken.append(cue.words[pos])
            width += 1 + len(cue.words[pos].text)
            pos += 1
        if " ".join(w.text for w in taken) != line:
            return None
        result.append(taken)
    return result if pos == len(cue.words) else None


def _vtt_timed_text(cue: Cue) -> str:
    """Cue text with a timestamp tag before each word that starts inside the
    cue. WebVTT requires each tag to be later than the cue start and every
    earlier tag, and earlier than the cue end; a word that cannot have one
    (it starts with the word before, or before the cue's pushed start) is
    highlighted together with the word before it."""
    lines = words_by_line(cue)
    if lines is None:
        return _vtt_text(cue.text)
    last = cue.start_ms
    out: list[str] = []
    for line in lines:
        parts = []
        for word in line:
            tag = ""
            if last < word.start_ms < cue.end_ms:
                tag, last = f"<{vtt_timestamp(word.start_ms)}>", word.start_ms
            parts.append(tag + _vtt_text(word.text))
        out.append(" ".join(parts))
    return "\n".join(out)


def _vtt_plain_text(cue: Cue) -> str:
    return _vtt_text(cue.text)


def write_vtt(cues: Iterable[Cue], out: TextIO, *, word_times: bool = True) -> int:
    """Write a WebVTT file (header, blank line between cues); return how many.

    With `word_times` (the default) each word of a cue after the first gets a
    cue timestamp tag, `<00:00:01.200>word`, the karaoke form browsers and
    players highlight from; cues without words are written as plain text.
    """
    text = _vtt_timed_text if word_times else _vtt_plain_text
    out.write("WEBVTT\n\n")
    return _write_cues(cues, out, lambda _, cue: (
        f"{vtt_timestamp(cue.start_ms)} --> {vtt_timestamp(cue.end_ms)}\n{text(cue)}\n"
    ))


# --------------------------------------------------------------------------
# ASS

PLAY_RES = (1920, 1080)


def ass_style() -> pysubs2.SSAStyle:
    """White on a black outline, bottom centre, about 1/18 of the height.

    Karaoke fills a syllable from SecondaryColour to PrimaryColour when it is
    reached, so words still to come are light grey and spoken ones white.
    """
    import pysubs2

    return pysubs2.SSAStyle(
        fontname="Arial",
        fontsize=60,
        primarycolor=pysubs2.Color(255, 255, 255, 0),
        secondarycolor=pysubs2.Color(170, 170, 170, 0),
        outlinecolor=pysubs2.Color(0, 0, 0, 0),
        backcolor=pysubs2.Color(0, 0, 0, 128),
        outline=3.0,
        shadow=1.0,
        alignment=pysubs2.Alignment.BOTTOM_CENTER,
        marginl=120,
        marginr=120,
        marginv=60,
    )


def _ass_header() -> str:
    """Script info and styles, written by pysubs2, ending with the [Events]
    format line. Events are streamed after it: an SSAFile would hold them
    all in memory."""
    import pysubs2

    subs = pysubs2.SSAFile()
    subs.info["PlayResX"], subs.info["PlayResY"] = (str(n) for n in PLAY_RES)
    subs.styles = {"Default": ass_style()}
    return subs.to_string("ass")


def _centis(ms: int) -> int:
    # Half up, as pysubs2 and Aegisub round ASS times.
    return (ms + 5) // 10


def ass_time(ms: int) -> str:
    """`H:MM:SS.cc`. Hours go past 9 (libass and pysubs2 read them), where
    pysubs2's own writer would clamp a ten-hour book at 9:59:59.99."""
    hours, rest = divmod(_centis(max(ms, 0)), 360_000)
    minutes, rest = divmod(rest, 6000)
    seconds, centis = divmod(rest, 100)
    return f"{hours}:{minutes:02d}:{seconds:02d}.{centis:02d}"


def ass_escape(text: str) -> str:
    """Text that cannot open an override block or form an escape.

    `\\{` and `\\}` are the libass escapes for literal braces. A backslash
    is followed by a word joiner (invisible), so that `\\N`, `\\h`, `\\{`
    typed in the book stay as typed.
    """
    text = text.replace("\\", "\\\u2060")
    return text.replace("{", "\\{").replace("}", "\\}")


def _karaoke_text(cue: Cue) -> str:
    """`{\\kNN}` before each word, NN the centiseconds until the next word
    starts (the last: until the cue ends). Boundaries are clamped into the
    cue and made non-decreasing, then rounded like the event times, so the
    values sum exactly to the event's written length."""
    lines = words_by_line(cue)
    if lines is None:
        return _plain_text(cue)
    starts = [w.start_ms for line in lines for w in line][1:]
    bounds = [cue.start_ms]
    for start in starts:
        bounds.append(min(max(start, bounds[-1]), cue.end_ms))
    bounds.append(cue.end_ms)
    ks = iter(_centis(b) - _centis(a) for a, b in zip(bounds, bounds[1:]))
    return "\\N".join(
        " ".join(f"{{\\k{next(ks)}}}{ass_escape(w.text)}" for w in line) for line in lines
    )


def _plain_text(cue: Cue) -> str:
    return "\\N".join(ass_escape(line) for line in cue.lines)


def write_ass(cues: Iterable[Cue], out: TextIO, *, karaoke: bool = True) -> int:
    """Write an ASS script, one Dialogue event per cue; return how many."""
    text = _karaoke_text if karaoke else _plain_text
    out.write(_ass_header())
    count = 0
    for cue in cues:
        times = f"{ass_time(cue.start_ms)},{ass_time(cue.end_ms)}"
        out.write(f"Dialogue: 0,{times},Default,,0,0,0,,{text(cue)}\n")
        count += 1
    return count


# --------------------------------------------------------------------------
# JSON


def write_json(words: Iterable[Word], out: TextIO, *, audio_end_ms: int) -> int:
    """Write every word, one object a line, as it comes; return how many.

    Times are seconds (3 decimals: the timeline's milliseconds), clamped
    into the audio like the cues are.
    """
    def seconds(ms: int) -> float:
        return round(min(max(ms, 0), audio_end_ms) / 1000, 3)

    out.write('{"words": [')
    count = 0
    # Empty words are not written; their paragraph ends move to the word before.
    for count, word in enumerate(spoken_words(words), start=1):
        item = {
            "text": word.text,
            "start": seconds(word.start_ms),
            "end": seconds(word.end_ms),
            "paragraph_end": word.ends_paragraph,
        }
        if word.estimated:  # marked only where it is so: timed words keep the same object as before
            item["estimated"] = True
        out.write(("\n" if count == 1 else ",\n") + json.dumps(item, ensure_ascii=False))
    out.write("\n]}\n" if count else "]}\n")
    return count
