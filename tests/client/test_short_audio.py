"""Truncated audio is recognised by its length or by its alignment."""

from narrator.client.short_audio import shortfall
from narrator.protocol.events import Alignment, AudioChunk
from narrator.server.engine.render import render

TEXT = ("The lantern swung above the harbour wall while the tide came in, "
        "and nobody on the quay looked up from the nets they were mending that evening.")


def chunk(text: str, *, aligned: bool) -> AudioChunk:
    rendered = render(text, voice="en-us", output_format="mp3_22050_32")
    a = rendered.alignment
    alignment = (Alignment(tuple(a["chars"]), tuple(a["charStartTimesMs"]), tuple(a["charDurationsMs"]))
                 if aligned else None)
    return AudioChunk(rendered.mp3, alignment)


def test_whole_audio_passes_with_and_without_alignment():
    assert shortfall(TEXT, [chunk(TEXT, aligned=True)]) is None
    assert shortfall(TEXT, [chunk(TEXT, aligned=False)]) is None


def test_audio_for_the_first_few_words_only_is_short_by_its_length():
    first_words = " ".join(TEXT.split()[:4])
    reason = shortfall(TEXT, [chunk(first_words, aligned=False)])
    assert reason is not None and "s of audio for" in reason


def test_alignment_covering_part_of_the_text_is_short():
    half = " ".join(TEXT.split()[:14])
    reason = shortfall(TEXT, [chunk(half, aligned=True)])
    assert reason is not None and "alignment covers" in reason


def test_a_faster_speed_is_allowed_for_but_not_without_limit():
    first_words = " ".join(TEXT.split()[:9])
    short = [chunk(first_words, aligned=False)]
    assert shortfall(TEXT, short) is not None
    assert shortfall(TEXT, short, speed=3.0) is None


def test_no_audio_at_all_is_short():
    assert shortfall(TEXT, []) is not None
    assert shortfall("   ", []) is None


def test_an_alignment_that_leaves_out_symbols_and_format_characters_is_not_short():
    # One symbol or mark a word: over a tenth of the non-space characters, none of them letters.
    marked = " ".join(f"\u00ad{word}\u2122\u200b" for word in TEXT.split())
    whole = chunk(TEXT, aligned=True)  # the alignment of the words alone, as such a service sends it
    assert shortfall(marked, [whole]) is None
