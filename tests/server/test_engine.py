"""The embedded engine: real espeak-ng speech and word events."""

from narrator.audio.mp3 import audio_frames
from narrator.server.engine.alignment import char_alignment, word_anchors
from narrator.server.engine.espeak import Espeak
from narrator.server.engine.render import render


def test_espeak_reports_a_word_event_per_word():
    text = "Hello there, quiet harbour. The lamps are lit."
    speech = Espeak.shared().synthesize(text)
    assert speech.duration_ms > 1500 and len(speech.pcm) > 0
    starts = [ms for _, ms in speech.word_starts]
    assert starts == sorted(starts) and len(starts) >= len(text.split()) - 1
    assert {text[i] for i, _ in speech.word_starts} <= set("HtqhTlai")


def test_word_anchors_fall_on_word_starts():
    text = "one two  three"
    anchors = word_anchors(text, [(0, 0), (4, 300), (9, 700)], 1000)
    assert anchors == [(0, 0), (0, 0), (4, 300), (9, 700), (14, 1000)]


def test_alignment_covers_every_character_monotonically():
    text = "Hi there."
    a = char_alignment(text, [(0, 0), (3, 400)], 900, offset_ms=25)
    assert a["chars"] == list(text)
    assert a["charStartTimesMs"][0] == 25 and a["charStartTimesMs"][3] == 425
    assert all(d >= 0 for d in a["charDurationsMs"])
    assert a["charStartTimesMs"][-1] + a["charDurationsMs"][-1] == 925


def test_render_gives_mp3_at_the_requested_format():
    rendered = render("A small test of the engine.", voice="en-us", output_format="mp3_22050_32")
    frames, samples, rate = audio_frames(rendered.mp3)
    assert rate == 22050 and frames
    assert abs(samples / rate - rendered.audio_seconds) < 0.2


def test_the_same_text_gives_the_same_audio_whatever_was_spoken_before():
    # A resumed book is compared byte for byte with an uninterrupted one: that
    # needs the engine to be a function of its input, as a seeded service is.
    text = "The keeper wrote each ship's name in the ledger before breakfast."
    first = render(text, voice="en-us", output_format="mp3_44100_128").mp3
    other = "Something else entirely, to move any state the engine keeps."
    render(other, voice="en-gb", output_format="mp3_22050_32")
    again = render(text, voice="en-us", output_format="mp3_44100_128").mp3
    assert first == again
    assert render(text + " Then tea.", voice="en-us", output_format="mp3_44100_128").mp3 != first
