"""Narration settings by name: one vocabulary for `narrate`'s options and a
job file's keys, so a job file says `stability = 0.4` where the command
line says `--stability 0.4`, and both are judged by the same code.
"""

from __future__ import annotations

from pathlib import Path

from narrator.book.layout import Pauses
from narrator.errors import ConfigError
from narrator.protocol.elevenlabs import StreamSettings, VoiceSettings
from narrator.protocol.sarvam import SarvamSettings
from narrator.runner import DEFAULT_CAPTIONS, NarrateOptions

# name -> the kind of value it takes (what a job file's TOML must hold)
TEXT, WHOLE, NUMBER, FLAG, TEXTS, WHOLES = ("a text", "a whole number", "a number", "true or false", "a list of texts",
                                            "a list of whole numbers")
SETTINGS = {
    "provider": TEXT, "voice": TEXT, "model": TEXT, "endpoint": TEXT, "region": TEXT,
    "concurrency": WHOLE, "format": TEXT, "titles": FLAG, "timeout": NUMBER, "captions": TEXTS,
    # The book files
    "chapters": TEXT, "caption_style": TEXT, "chapter_files": FLAG, "lead_in": NUMBER, "chapter_pause": NUMBER,
    "paragraph_pause": NUMBER, "acx": FLAG,
    # ElevenLabs
    "language": TEXT, "seed": WHOLE, "text_normalization": TEXT, "ssml": FLAG, "pronunciation_dictionaries": TEXTS,
    "stability": NUMBER, "similarity_boost": NUMBER, "style": NUMBER, "speaker_boost": FLAG, "speed": NUMBER,
    "chunk_schedule": WHOLES, "inactivity_timeout": WHOLE,
    # Sarvam
    "pace": NUMBER, "pitch": NUMBER, "loudness": NUMBER, "sample_rate": WHOLE, "bitrate": TEXT, "preprocessing": FLAG,
}
# setting name -> StreamSettings / SarvamSettings field
_STREAM_FIELDS = {"language": "language_code", "seed": "seed", "text_normalization": "apply_text_normalization",
                  "ssml": "enable_ssml_parsing", "chunk_schedule": "chunk_length_schedule",
                  "inactivity_timeout": "inactivity_timeout"}
_VOICE_FIELDS = ("stability", "similarity_boost", "style", "speaker_boost", "speed")
ELEVENLABS_ONLY = ("format", "region", "seed", "text_normalization", "ssml", "pronunciation_dictionaries", *_VOICE_FIELDS,
                   "chunk_schedule", "inactivity_timeout")
_SARVAM_FIELDS = {"pace": "pace", "pitch": "pitch", "loudness": "loudness", "sample_rate": "sample_rate",
                  "bitrate": "bitrate", "preprocessing": "enable_preprocessing"}


M4B = "m4b"


def option_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_options(out_dir: Path, values: dict, *, progress: bool = True, spell=option_name) -> NarrateOptions:
    """NarrateOptions from settings by name; a missing or None value takes the
    default. Ranges are judged by NarrateOptions (ConfigError); `spell` turns
    a setting's name into what the user wrote (an option, or a job file's key)."""
    given = {name: value for name, value in values.items() if value is not None}
    # `format = "m4b"` asks for the book as an M4B; any other format is the service's.
    m4b = given.get("format") == M4B
    if m4b:
        del given["format"]
    provider = given.get("provider", "local")
    owner, others = ("elevenlabs", ELEVENLABS_ONLY) if provider == "sarvam" else ("sarvam", tuple(_SARVAM_FIELDS))
    for name in others:
        if name in given:
            own = (f"its own are {', '.join(spell(n) for n in _SARVAM_FIELDS)}" if provider == "sarvam"
                   else f"give {spell('provider')} {owner} to use it")
            raise ConfigError(f"{spell(name)} is a setting of provider {owner}, not {provider}; {own}")
    stream = {field: given[name] for name, field in _STREAM_FIELDS.items() if name in given}
    sarvam = {field: given[name] for name, field in _SARVAM_FIELDS.items() if name in given}
    if provider == "sarvam" and "language" in given:  # the language means Sarvam's language_code then
        sarvam["language_code"] = stream.pop("language_code")
    if "chunk_length_schedule" in stream:
        stream["chunk_length_schedule"] = tuple(stream["chunk_length_schedule"])
    return NarrateOptions(
        out_dir, provider, given.get("voice"), given.get("model"), given.get("endpoint"),
        given.get("concurrency", 4), given.get("format"),
        speak_titles=given.get("titles", True),
        stall_timeout=given.get("timeout", 30.0),
        progress=progress,
        captions=tuple(given.get("captions", DEFAULT_CAPTIONS)),
        region=given.get("region"),
        caption_style=given.get("caption_style", "sentence"),
        chapters=given.get("chapters"),
        chapter_files=given.get("chapter_files", True),
        pauses=Pauses(given.get("lead_in", Pauses.lead_in), given.get("chapter_pause", Pauses.chapter),
                      given.get("paragraph_pause")),
        acx=given.get("acx", False),
        m4b=m4b,
        stream=StreamSettings(
            voice_settings=VoiceSettings(*(given.get(name) for name in _VOICE_FIELDS)),
            pronunciation_dictionary_locators=tuple(_locator(v) for v in given.get("pronunciation_dictionaries", ())),
            **stream,
        ),
        sarvam_settings=SarvamSettings(**sarvam),
    )


def _locator(value: str) -> tuple[str, str | None]:
    dictionary, _, version = value.partition(":")
    return dictionary, version or None
