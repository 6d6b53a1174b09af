"""Media Overlay documents (SMIL 3.0, as EPUB 3 profiles it) and their clock values."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

SMIL_TYPE = "application/smil+xml"


def clock(ms: int) -> str:
    """A full clock value, `1:02:03.456`: what clipBegin, clipEnd and media:duration take."""
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def overlay(text_href: str, audio_href: str, pars: Sequence[tuple[str, int, int]]) -> bytes:
    """One chapter's overlay: a <par> for each (fragment id, clip begin ms, clip end ms),
    in reading order. Hrefs are relative to the overlay document."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<smil xmlns="http://www.w3.org/ns/SMIL" xmlns:epub="http://www.idpf.org/2007/ops" version="3.0">',
        f"  <body epub:textref={quoteattr(text_href)}>",
    ]
    for number, (fragment, begin, end) in enumerate(pars, 1):
        clip = f'clipBegin="{clock(begin)}" clipEnd="{clock(end)}"'
        lines.append(f'    <par id="par{number}"><text src={quoteattr(f"{text_href}#{fragment}")}/>'
                     f"<audio src={quoteattr(audio_href)} {clip}/></par>")
    lines += ["  </body>", "</smil>", ""]
    return "\n".join(lines).encode("utf-8")


def duration(pars: Sequence[tuple[str, int, int]]) -> int:
    """What an overlay plays, in ms: the sum of its clips."""
    return sum(end - begin for _, begin, end in pars)
