"""The narration settings as click options, one declaration shared by `narrate` and `estimate`."""

from __future__ import annotations

import logging

import click

from narrator.captions.cues import CAPTION_STYLES
from narrator.captions.formats import CAPTION_FORMATS
from narrator.protocol.elevenlabs import MP3_FORMATS, REGIONS, TEXT_NORMALIZATION, TRANSPORTS
from narrator.readalong import GRANULARITIES
from narrator.settings import M4B, PROVIDERS

log = logging.getLogger("narrator")


def settings_options(command):
    """The narration settings, named as in a job file (options.SETTINGS)."""
    for option in reversed(_SETTINGS_OPTIONS):
        command = option(command)
    return command


_SETTINGS_OPTIONS = [
    click.option("--provider", type=click.Choice(PROVIDERS), default="local", show_default=True,
                 help="local: the embedded engine, started here. elevenlabs (ELEVENLABS_API_KEY) or sarvam "
                      "(SARVAM_API_KEY): the cloud services."),
    click.option("--voice",
                 help="Voice id (an espeak-ng voice such as en or en-us for local; the speaker for sarvam)."),
    click.option("--model", help="Model id, e.g. eleven_multilingual_v2 or bulbul:v2."),
    click.option("--dialogue-voice", metavar="VOICE",
                 help="Speak quoted speech in this voice; the narration stays in --voice."),
    click.option("--voices", metavar="FILE",
                 help="A voices file (TOML): narrator, dialogue, [characters] (a voice per speaker of a "
                      "quote), [chapters] (a voice per chapter), [quotes] (a voice forced on a quote)."),
    click.option("--endpoint", help="ws:// or wss:// base URL of the service (default "
                                    "wss://api.elevenlabs.io, wss://api.sarvam.ai)."),
    click.option("--region", type=click.Choice(tuple(REGIONS)),
                 help="Data-residency endpoint, instead of --endpoint."),
    click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True,
                 help="Sessions at once."),
    click.option("--format", type=click.Choice((*MP3_FORMATS, M4B)),
                 help="ElevenLabs' output_format (default mp3_44100_128), or m4b: also an M4B audiobook "
                      "with chapters and cover (needs ffmpeg)."),
    click.option("--transport", type=click.Choice(TRANSPORTS),
                 help="ElevenLabs' WebSocket: multi-context (default; a context per segment, ended by the "
                      "service's own final message) or stream-input (for models or services without it)."),
    click.option("--titles/--no-titles", default=True, help="Speak chapter titles (default: yes)."),
    click.option("--max-retry-characters", type=int,
                 help="What sending failed segments again may cost, in characters, before the run stops "
                      "with finished work kept (default: a quarter of the book)."),
    click.option("--segment-tries", type=int,
                 help="Sends of a segment that the service may bill before it is given up and the rest of "
                      "the book goes on (default 3; refused connections do not count)."),
    click.option("--strict", is_flag=True, default=None,
                 help="A book made with warnings (audio still short after a second request, captions "
                      "estimated) fails with exit 14; its files are written all the same."),
    click.option("--timeout", type=click.FloatRange(1, 600), default=30.0, show_default=True,
                 help="Seconds without a message before a stream counts as stalled and is retried."),
    click.option("--captions", type=click.Choice(CAPTION_FORMATS), multiple=True,
                 help="Caption files to write; repeat for several (default: srt and vtt). vtt carries word "
                      "timestamps, ass is karaoke, json every word's times."),
    click.option("--caption-style", type=click.Choice(CAPTION_STYLES),
                 help="sentence: cues of up to two 42-character lines (default); word: one cue per word."),
    # The book files.
    click.option("--chapters", metavar="N-M,...",
                 help="Narrate these chapters only, numbered as `narrator chapters BOOK` lists them, "
                      "e.g. 3-7 or 1,4,9- (default: the prose, without cover, contents and copyright "
                      "pages)."),
    click.option("--chapter-files/--no-chapter-files", default=None,
                 help="Also one MP3 per chapter, OUT/STEM/NN - Title.mp3, with its own captions "
                      "(default: yes)."),
    click.option("--lead-in", type=float, help="Seconds of room tone before each chapter (default 0.75)."),
    click.option("--chapter-pause", type=float, help="Seconds of room tone after each chapter (default 2)."),
    click.option("--paragraph-pause", type=float,
                 help="Seconds between paragraphs (default: the voice's own). Re-encodes the audio."),
    click.option("--lexicon", "lexicon", multiple=True, metavar="FILE",
                 help="A pronunciation lexicon: W3C PLS (.pls, .xml) or TOML ([alias] \"LV\" = \"level\"); "
                      "repeat for more, later ones winning. Captions keep the words as written."),
    click.option("--read-along", type=click.Choice(GRANULARITIES), is_flag=False, flag_value="sentence",
                 help="Also OUT/STEM.read-along.epub: an EPUB 3 whose text is highlighted as it is spoken, "
                      "each sentence (the default) or word. The value is optional: put the option last."),
    click.option("--acx", is_flag=True, default=None,
                 help="Master for Audible's ACX: levels, room tone, 44.1 kHz 192 kbps CBR. "
                      "Re-encodes the audio."),
    # What the service is asked for. Ranges are checked by the codec's validate(), not by
    # click, so a value out of range is one line that gives the range, exit 3.
    click.option("--language", help="The language to speak: ISO 639-1 for ElevenLabs (en, de, hi), "
                                    "BCP-47 for sarvam (en-IN, hi-IN; default en-IN)."),
    click.option("--seed", type=int,
                 help="0-4294967295: best-effort repeatable audio for the same text and settings."),
    click.option("--text-normalization", type=click.Choice(TEXT_NORMALIZATION),
                 help="Spell out numbers, dates and abbreviations (auto: the service decides)."),
    click.option("--ssml/--no-ssml", default=None,
                 help="Read SSML tags in the text (needed for phoneme dictionaries)."),
    click.option("--pronunciation-dictionary", "pronunciation_dictionaries", multiple=True,
                 metavar="ID[:VERSION]",
                 help="Apply this pronunciation dictionary (latest version if none given); "
                      "repeat for up to 3."),
    click.option("--stability", type=float, help="0-1: lower is more expressive, higher more even."),
    click.option("--similarity-boost", type=float, help="0-1: how closely to keep to the original voice."),
    click.option("--style", type=float, help="0-1: style exaggeration (slower to generate)."),
    click.option("--speaker-boost/--no-speaker-boost", default=None,
                 help="Boost likeness to the original speaker."),
    click.option("--speed", type=float, help="0.7-1.2: speaking rate, 1 is the voice's own."),
    click.option("--chunk-schedule", metavar="N,N,...",
                 callback=lambda ctx, param, value: whole_numbers(param, value),
                 help="Characters buffered before each generation, 50-500 each (default 120,160,250,290)."),
    click.option("--inactivity-timeout", type=int,
                 help="1-180: seconds the service keeps an idle connection (default 20)."),
    # Sarvam's own settings.
    click.option("--pace", type=float,
                 help="sarvam: speaking rate, 0.3-3.0 (bulbul:v2) or 0.5-2.0 (v3, v4-flash)."),
    click.option("--pitch", type=float, help="sarvam: -0.75-0.75 (bulbul:v2 only)."),
    click.option("--loudness", type=float, help="sarvam: 0.3-3.0 (bulbul:v2 only)."),
    click.option("--sample-rate", type=int, help="sarvam: 8000, 16000, 22050 (default) or 24000 Hz."),
    click.option("--bitrate", help="sarvam: 32k, 64k, 96k, 128k (default) or 192k."),
    click.option("--preprocessing/--no-preprocessing", default=None,
                 help="sarvam: normalise numbers, dates and English words."),
]


def whole_numbers(param, text: str | None) -> tuple[int, ...] | None:
    # Whether it is a list of numbers is click's question (exit 2); their range is validate()'s.
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of whole numbers",
                                 param=param) from None


def given_settings(settings: dict) -> dict:
    # click gives () for a repeatable option never used: that is "not given" too.
    return {name: value for name, value in settings.items() if value not in (None, ())}
