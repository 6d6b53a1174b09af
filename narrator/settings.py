"""What a narration is asked to do: `NarrateOptions`, judged whole before
anything is read, made or sent, and one vocabulary for `narrate`'s options
and a job file's keys, so a job file says `stability = 0.4` where the
command line says `--stability 0.4`, and both are judged by the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from narrator import problems
from narrator.book.layout import Pauses
from narrator.captions.cues import CAPTION_STYLES
from narrator.captions.formats import CAPTION_FORMATS
from narrator.errors import BILLED_ATTEMPTS, ConfigError, ErrorKind, ServiceError
from narrator.keys import api_key
from narrator.protocol import elevenlabs as codec
from narrator.protocol import elevenlabs_dialect, sarvam
from narrator.protocol.elevenlabs import StreamSettings, VoiceSettings
from narrator.protocol.events import Dialect
from narrator.protocol.sarvam import SarvamSettings
from narrator.readalong import GRANULARITIES
from narrator.text.lexicon import Lexicon, read_lexicons
from narrator.text.voices import Voices, read_voices, voices_from_table

PROVIDERS = ("local", "elevenlabs", "sarvam")
DEFAULT_CAPTIONS = ("srt", "vtt")
LOCAL_HOST = "127.0.0.1"
KEY_NAMES = {"elevenlabs": "ELEVENLABS_API_KEY", "sarvam": "SARVAM_API_KEY"}


@dataclass(frozen=True)
class NarrateOptions:
    out_dir: Path
    provider: str = "local"
    voice: str | None = None  # None: the provider's default voice and model
    model: str | None = None
    endpoint: str | None = None
    concurrency: int = 4
    output_format: str | None = None  # ElevenLabs' output_format; None: mp3_44100_128
    speak_titles: bool = True
    stall_timeout: float = 30.0
    progress: bool = True
    captions: tuple[str, ...] = DEFAULT_CAPTIONS  # which caption files to write
    caption_style: str = "sentence"
    chapters: str | None = None  # --chapters: which of the book's chapters; None: its prose
    chapter_files: bool = True
    pauses: Pauses = Pauses()
    acx: bool = False  # master the audio to pass ACX's checks
    max_retry_characters: int | None = None  # what retries may cost; None: a quarter of the book
    segment_tries: int = BILLED_ATTEMPTS  # sends that may be billed before a segment is given up
    strict: bool = False  # a book made with warnings fails (exit 14)
    m4b: bool = False  # also an M4B audiobook, through ffmpeg
    region: str | None = None  # a name in codec.REGIONS, instead of endpoint
    transport: str | None = None  # ElevenLabs' endpoint (codec.TRANSPORTS); None: multi-context
    read_along: str | None = None  # also a read-along EPUB, highlighting each "sentence" or "word"
    lexicons: tuple[Path, ...] = ()  # pronunciation lexicons (PLS or TOML), later ones winning
    voices: Voices = Voices()  # who speaks dialogue, each character, each chapter (`voice` is the narrator)
    # Everything else sent to the service (language, seed, voice settings, schedule...).
    # Its voice, model and output_format are replaced by the fields above.
    stream: StreamSettings = StreamSettings()
    # Sarvam's settings; its speaker and model are replaced by voice and model above.
    sarvam_settings: SarvamSettings = SarvamSettings()

    def __post_init__(self) -> None:
        # A bad setting stops here, before a document is read or a folder made.
        if self.provider not in PROVIDERS:
            raise ConfigError(f"unknown provider {self.provider!r}; choose one of {', '.join(PROVIDERS)}")
        self._check_provider_options()
        problems.raise_first([
            problems.range_problem("concurrency", self.concurrency, (1, 64), whole=True),
            problems.range_problem("max-retry-characters", self.max_retry_characters, (0, 10**12), whole=True,
                                   optional=True),
            problems.range_problem("segment-tries", self.segment_tries, (1, 20), whole=True),
            problems.range_problem("timeout", self.stall_timeout, (1, 600), unit=" seconds"),
            problems.choice_problem("caption-style", self.caption_style, CAPTION_STYLES),
            problems.choice_problem("transport", self.transport, codec.TRANSPORTS, optional=True),
            problems.choice_problem("read-along", self.read_along, GRANULARITIES, optional=True),
            *self._pause_problems(),
        ])
        for name in self.captions:
            if name not in CAPTION_FORMATS:
                raise ConfigError(f"caption format {name!r} is not one of {', '.join(CAPTION_FORMATS)}")
        self.service_settings()
        self.service_endpoint()

    def _pause_problems(self) -> list[str | None]:
        """Pause lengths in seconds; with --acx, within what ACX asks."""
        lead_in, chapter = ((0.5, 1), (1, 5)) if self.acx else ((0, 10), (0, 30))
        acx = " (ACX asks for this; drop --acx to go outside it)" if self.acx else ""
        return [
            problems.range_problem("lead-in", self.pauses.lead_in, lead_in, unit=f" seconds{acx}"),
            problems.range_problem("chapter-pause", self.pauses.chapter, chapter, unit=f" seconds{acx}"),
            problems.range_problem("paragraph-pause", self.pauses.paragraph, (0, 10), unit=" seconds",
                                   optional=True),
        ]

    @property
    def mastered(self) -> bool:
        """Whether the audio is decoded, edited and encoded again (rather than its frames copied)."""
        return self.acx or self.pauses.paragraph is not None

    def _check_provider_options(self) -> None:
        if self.provider == "local" and (self.endpoint or self.region):
            raise ConfigError("--endpoint and --region say where a cloud service is: "
                              "give --provider elevenlabs or sarvam with them (local starts its own server)")
        if self.provider == "sarvam":
            if self.stream != codec.StreamSettings() or self.output_format or self.region or self.transport:
                raise ConfigError("ElevenLabs options (voice settings, --format, --region, --seed, ...) "
                                  "do not apply to --provider sarvam: "
                                  "use --pace, --pitch, --loudness, --sample-rate and --bitrate")
        elif self.sarvam_settings != sarvam.SarvamSettings():
            raise ConfigError("--pace, --pitch, --loudness, --sample-rate, --bitrate and --preprocessing "
                              "apply to --provider sarvam only")

    def service_settings(self) -> codec.StreamSettings | sarvam.SarvamSettings:
        """What goes to the service, with the provider's defaults; a ConfigError names a bad option."""
        if self.provider == "sarvam":
            settings = replace(self.sarvam_settings, speaker=self.voice or self.sarvam_settings.speaker,
                               model=self.model or self.sarvam_settings.model)
            sarvam.validate(settings)
            return settings
        local = self.provider == "local"
        return codec.validate(replace(
            self.stream,
            voice=self.voice or ("en-us" if local else "JBFqnCBsd6RMkjVDRZzb"),
            model=self.model or (None if local else "eleven_multilingual_v2"),
            output_format=self.output_format or "mp3_44100_128",
        ))

    def voiced(self, voice: str | None) -> NarrateOptions:
        """The same settings in another voice (None: the narrator's)."""
        return self if voice is None or voice == self.voice else replace(self, voice=voice)

    def reads_ssml(self) -> bool:
        """Whether the service reads SSML tags in the text: ElevenLabs, asked to."""
        return self.provider == "elevenlabs" and bool(self.stream.enable_ssml_parsing)

    def lexicon(self) -> Lexicon:
        """The lexicons read and checked: a <phoneme> only where SSML is read, by a model that reads it."""
        lexicon = read_lexicons(self.lexicons)
        if not lexicon.phonemes:
            return lexicon
        entry = lexicon.phonemes[0]
        if not self.reads_ssml():
            raise ConfigError(f"{entry.source}: {entry.grapheme!r} has a <phoneme>, which only ElevenLabs "
                              "reads, and only with --ssml: give it an <alias> (words to say) instead")
        model = self.model or "eleven_multilingual_v2"
        if model not in codec.PHONEME_MODELS:
            raise ConfigError(f"{entry.source}: {entry.grapheme!r} has a <phoneme>, which {model} skips "
                              f"(only {', '.join(codec.PHONEME_MODELS)} read phoneme tags): "
                              "give it an <alias> instead, or choose one of those with --model")
        return lexicon

    def narrator(self) -> str:
        """The voice, as a read-along book names its narrator."""
        settings = self.service_settings()
        return settings.speaker if isinstance(settings, sarvam.SarvamSettings) else settings.voice

    def speaking_speed(self) -> float:
        if self.provider == "sarvam":
            return self.sarvam_settings.pace
        return self.stream.voice_settings.speed or 1.0

    def service_endpoint(self) -> str:
        if self.provider == "sarvam":
            return self.endpoint or sarvam.DEFAULT_ENDPOINT
        if self.region and self.endpoint:
            raise ConfigError("--region and --endpoint both say where to connect: give only one of them")
        if self.region is None:
            return self.endpoint or codec.DEFAULT_ENDPOINT
        if self.region not in codec.REGIONS:
            raise ConfigError(f"--region {self.region!r} is not one of {', '.join(codec.REGIONS)}")
        return codec.REGIONS[self.region]


# name -> the kind of value it takes (what a job file's TOML must hold)
TEXT, WHOLE, NUMBER, FLAG, TEXTS, WHOLES = ("a text", "a whole number", "a number", "true or false",
                                            "a list of texts", "a list of whole numbers")
FILE_OR_TABLE = "a file's name or a table"
SETTINGS = {
    "provider": TEXT, "voice": TEXT, "model": TEXT, "endpoint": TEXT, "region": TEXT,
    "concurrency": WHOLE, "format": TEXT, "transport": TEXT, "titles": FLAG, "timeout": NUMBER,
    "captions": TEXTS,
    "max_retry_characters": WHOLE, "segment_tries": WHOLE, "strict": FLAG,
    # The book files
    "chapters": TEXT, "caption_style": TEXT, "chapter_files": FLAG, "lead_in": NUMBER,
    "chapter_pause": NUMBER, "paragraph_pause": NUMBER, "acx": FLAG, "read_along": TEXT, "lexicon": TEXTS,
    # Voices
    "voices": FILE_OR_TABLE, "dialogue_voice": TEXT,
    # ElevenLabs
    "language": TEXT, "seed": WHOLE, "text_normalization": TEXT, "ssml": FLAG,
    "pronunciation_dictionaries": TEXTS, "stability": NUMBER, "similarity_boost": NUMBER, "style": NUMBER,
    "speaker_boost": FLAG, "speed": NUMBER, "chunk_schedule": WHOLES, "inactivity_timeout": WHOLE,
    # Sarvam
    "pace": NUMBER, "pitch": NUMBER, "loudness": NUMBER, "sample_rate": WHOLE, "bitrate": TEXT,
    "preprocessing": FLAG,
}
# setting name -> StreamSettings / SarvamSettings field
_STREAM_FIELDS = {"language": "language_code", "seed": "seed",
                  "text_normalization": "apply_text_normalization",
                  "ssml": "enable_ssml_parsing", "chunk_schedule": "chunk_length_schedule",
                  "inactivity_timeout": "inactivity_timeout"}
_VOICE_FIELDS = ("stability", "similarity_boost", "style", "speaker_boost", "speed")
ELEVENLABS_ONLY = ("format", "transport", "region", "seed", "text_normalization", "ssml",
                   "pronunciation_dictionaries", *_VOICE_FIELDS, "chunk_schedule", "inactivity_timeout")
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
    owner, others = (("elevenlabs", ELEVENLABS_ONLY) if provider == "sarvam"
                     else ("sarvam", tuple(_SARVAM_FIELDS)))
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
    voices = _voices(given)
    return NarrateOptions(
        out_dir, provider, given.get("voice") or voices.narrator, given.get("model"), given.get("endpoint"),
        given.get("concurrency", 4), given.get("format"),
        speak_titles=given.get("titles", True),
        stall_timeout=given.get("timeout", 30.0),
        progress=progress,
        captions=tuple(given.get("captions", DEFAULT_CAPTIONS)),
        region=given.get("region"),
        transport=given.get("transport"),
        read_along=given.get("read_along"),
        lexicons=tuple(Path(p) for p in given.get("lexicon", ())),
        voices=voices,
        caption_style=given.get("caption_style", "sentence"),
        chapters=given.get("chapters"),
        chapter_files=given.get("chapter_files", True),
        pauses=Pauses(given.get("lead_in", Pauses.lead_in), given.get("chapter_pause", Pauses.chapter),
                      given.get("paragraph_pause")),
        acx=given.get("acx", False),
        max_retry_characters=given.get("max_retry_characters"),
        segment_tries=given.get("segment_tries", BILLED_ATTEMPTS),
        strict=given.get("strict", False),
        m4b=m4b,
        stream=StreamSettings(
            voice_settings=VoiceSettings(*(given.get(name) for name in _VOICE_FIELDS)),
            pronunciation_dictionary_locators=tuple(_locator(v)
                                                    for v in given.get("pronunciation_dictionaries", ())),
            **stream,
        ),
        sarvam_settings=SarvamSettings(**sarvam),
    )


def _voices(given: dict) -> Voices:
    """A voices file (its name) or a job's [voices] table, and --dialogue-voice over its dialogue."""
    value = given.get("voices")
    voices = (read_voices(Path(value)) if isinstance(value, str)
              else voices_from_table(value, "[voices]") if isinstance(value, dict) else Voices())
    dialogue = given.get("dialogue_voice")
    return replace(voices, dialogue=dialogue) if dialogue else voices


def _locator(value: str) -> tuple[str, str | None]:
    dictionary, _, version = value.partition(":")
    return dictionary, version or None


def service_dialect(options: NarrateOptions, *, url: str | None = None, key: str | None = None) -> Dialect:
    """The provider's dialect, connecting to `url` (the embedded server's,
    for `local`) or else to the options' endpoint or region."""
    settings = options.service_settings()
    if options.provider == "sarvam":
        assert isinstance(settings, SarvamSettings)
        return sarvam.SarvamDialect(url or options.service_endpoint(), settings, key)
    assert isinstance(settings, StreamSettings)
    return elevenlabs_dialect.dialect(url or options.service_endpoint(), settings, key,
                                      options.transport or codec.MULTI_CONTEXT)


def key_dialect(options: NarrateOptions) -> Dialect:
    """The dialect as far as a segment's key sees it: no key, and for `local`
    the embedded server's host (its port changes every run; the key omits it)."""
    return service_dialect(options, url=f"ws://{LOCAL_HOST}" if options.provider == "local" else None)


def service_key(options: NarrateOptions) -> str:
    """A cloud provider's API key from the environment or .env, or an auth error saying which to set."""
    name = KEY_NAMES[options.provider]
    key = api_key(name)
    if not key:
        raise ServiceError(ErrorKind.AUTH,
                           f"{name} is not set (environment or .env): "
                           f"set it to use --provider {options.provider}")
    return key
