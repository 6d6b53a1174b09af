"""How a rendered generation is reshaped before it goes out.

The faults that change what arrives without ending the request act here
(`nullalign`: no alignment; `skipchars`: the alignment leaves out what a
real service's aligner leaves out), and so does `split`, which sends one
generation as several audio frames, as a real service streams it. It runs
in the engine's thread, after the rendering, so the event loop never
parses MP3.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from bisect import bisect_right

from narrator.audio.mp3 import audio_frames
from narrator.server.engine.alignment import WireAlignment
from narrator.server.engine.render import Rendered

# Format characters (soft hyphen, zero-width space and joiners, word joiner,
# BOM), private use, surrogates, and symbols (©, ™, arrows, currency, emoji).
SKIPPED_CATEGORIES = frozenset({"Cf", "Co", "Cs", "So", "Sm", "Sk", "Sc"})
# Emoji are also made of variation selectors (Mn), which an aligner drops with them.
VARIATION_SELECTORS = ((0xFE00, 0xFE0F), (0xE0100, 0xE01EF))


def shape(rendered: Rendered, faults: frozenset[str], parts: int) -> list[Rendered]:
    """What goes out for one generation: one Rendered per audio frame."""
    if "nullalign" in faults:
        rendered = dataclasses.replace(rendered, alignment=None)
    elif "skipchars" in faults and rendered.alignment is not None:
        rendered = dataclasses.replace(rendered, alignment=skip_characters(rendered.alignment))
    return split(rendered, parts)


def skipped(char: str) -> bool:
    """Whether a real service's alignment may leave this character out."""
    point = ord(char)
    return unicodedata.category(char) in SKIPPED_CATEGORIES or any(
        low <= point <= high for low, high in VARIATION_SELECTORS
    )


def skip_characters(alignment: WireAlignment) -> WireAlignment:
    """The alignment without the characters `skipped` names; the others keep their times."""
    keep = [i for i, char in enumerate(alignment["chars"]) if not skipped(str(char))]
    return _pick(alignment, keep, 0)


def split(rendered: Rendered, parts: int) -> list[Rendered]:
    """The generation as `parts` audio frames (fewer when it has fewer MP3
    frames), cut at MP3 frame boundaries. Each one's alignment holds the
    characters whose start falls in its audio, timed from its own start
    (the services' alignment is relative to its chunk); a frame where no
    character starts has an empty alignment."""
    frames, samples, rate = audio_frames(rendered.mp3)
    if parts <= 1 or len(frames) < 2 or not rate:
        return [rendered]
    size = -(-len(frames) // parts)
    groups = [frames[i:i + size] for i in range(0, len(frames), size)]
    starts_ms = [round(i * size * samples / len(frames) * 1000 / rate) for i in range(len(groups))]
    return [
        Rendered(b"".join(group), _part_alignment(rendered.alignment, starts_ms, index),
                 rendered.audio_seconds * len(group) / len(frames))
        for index, group in enumerate(groups)
    ]


def _part_alignment(
    alignment: WireAlignment | None, starts_ms: list[int], index: int
) -> WireAlignment | None:
    if alignment is None:
        return None
    starts = [int(ms) for ms in alignment["charStartTimesMs"]]
    keep = [i for i, ms in enumerate(starts) if max(bisect_right(starts_ms, ms) - 1, 0) == index]
    return _pick(alignment, keep, starts_ms[index])


def _pick(alignment: WireAlignment, keep: list[int], offset_ms: int) -> WireAlignment:
    """The characters at `keep`, their starts moved `offset_ms` earlier."""
    chars = [str(char) for char in alignment["chars"]]
    starts = [int(ms) for ms in alignment["charStartTimesMs"]]
    durations = [int(ms) for ms in alignment["charDurationsMs"]]
    return {
        "chars": [chars[i] for i in keep],
        "charStartTimesMs": [starts[i] - offset_ms for i in keep],
        "charDurationsMs": [durations[i] for i in keep],
    }
