"""The ElevenLabs WebSocket protocols (`stream-input` and its multi-context
form, `multi-stream-input`), client side, without I/O.

The settings and their documented bounds, the URL, the messages, and what a
received frame means: audio with its alignment, a final message, or an
error classified by its code. How a segment travels over either endpoint is
in `elevenlabs_dialect`; the session layer only moves these strings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from narrator import problems
from narrator.errors import ErrorKind, ServiceError
from narrator.protocol import frames
from narrator.protocol.events import Alignment, AudioChunk, Event, Final

__all__ = ["Alignment", "AudioChunk", "Final", "StreamSettings", "VoiceSettings", "parse_frame", "validate"]

DEFAULT_ENDPOINT = "wss://api.elevenlabs.io"
# Data residency: the same API, served and stored in one region.
REGIONS = {
    "us": "wss://api.us.elevenlabs.io",
    "eu": "wss://api.eu.residency.elevenlabs.io",
    "in": "wss://api.in.residency.elevenlabs.io",
    "sg": "wss://api.sg.residency.elevenlabs.io",
}
DEFAULT_SCHEDULE = (120, 160, 250, 290)
MP3_FORMAT = re.compile(r"^mp3_(22050|44100)_(32|64|96|128|192)$")  # what the embedded engine serves
MP3_FORMATS = ("mp3_22050_32", "mp3_44100_32", "mp3_44100_64", "mp3_44100_96", "mp3_44100_128",
               "mp3_44100_192")

# The service's documented bounds, shared with the embedded server.
SCHEDULE_RANGE = (50, 500)
INACTIVITY_RANGE = (1, 180)
SEED_RANGE = (0, 4294967295)
TEXT_NORMALIZATION = ("auto", "on", "off")
VOICE_SETTING_RANGES = {"stability": (0, 1), "similarity_boost": (0, 1), "style": (0, 1), "speed": (0.7, 1.2)}
MAX_DICTIONARIES = 3
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")  # ISO 639-1, and the few 639-3 codes some models take
# Ids go into the URL's path or a JSON string: letters, digits and a little punctuation, never a slash.
_ID = re.compile(r"^[A-Za-z0-9._+-]+$")
_ID_CHARS = "letters, digits, '-', '_', '.' or '+'"


@dataclass(frozen=True)
class VoiceSettings:
    """Only what the user set is sent: the service keeps the voice's own value for the rest."""

    stability: float | None = None
    similarity_boost: float | None = None
    style: float | None = None
    use_speaker_boost: bool | None = None
    speed: float | None = None

    def message(self) -> dict[str, float | bool]:
        return {name: value for name, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class StreamSettings:
    """Everything that goes into the URL and the first message. None (or
    empty) leaves an option out, so the service's default applies."""

    voice: str = "en-us"
    model: str | None = None
    output_format: str = "mp3_44100_128"
    inactivity_timeout: int = 20
    language_code: str | None = None
    seed: int | None = None
    apply_text_normalization: str | None = None
    enable_ssml_parsing: bool | None = None
    voice_settings: VoiceSettings = VoiceSettings()
    chunk_length_schedule: tuple[int, ...] = DEFAULT_SCHEDULE
    # (dictionary id, version id or None for the latest version), applied in order
    pronunciation_dictionary_locators: tuple[tuple[str, str | None], ...] = ()


def validate(settings: StreamSettings) -> StreamSettings:
    """The settings unchanged, or a ConfigError naming the first bad one as
    it is spelled on the command line, with what would be accepted."""
    problems.raise_first(_problems(settings))
    return settings


def _problems(s: StreamSettings) -> Iterator[str | None]:
    """One message or None per setting; a setting left at None is not sent, so it is never wrong."""
    yield _id_problem("--voice", s.voice)
    yield _id_problem("--model", s.model)
    yield problems.choice_problem("--format", s.output_format, MP3_FORMATS, optional=True)
    yield problems.range_problem("--inactivity-timeout", s.inactivity_timeout, INACTIVITY_RANGE, whole=True,
                               unit=" seconds", optional=True)
    yield _language_problem(s.language_code)
    yield problems.range_problem("--seed", s.seed, SEED_RANGE, whole=True, optional=True)
    yield problems.choice_problem("--text-normalization", s.apply_text_normalization, TEXT_NORMALIZATION,
                                  optional=True)
    for name, bounds in VOICE_SETTING_RANGES.items():
        yield problems.range_problem("--" + name.replace("_", "-"), getattr(s.voice_settings, name), bounds,
                                     optional=True)
    yield _schedule_problem(s.chunk_length_schedule)
    yield _dictionaries_problem(s.pronunciation_dictionary_locators)


def _language_problem(code: str | None) -> str | None:
    if code is None or LANGUAGE_CODE.match(code):
        return None
    return f"--language {code!r} is not a language code: give an ISO 639-1 code such as en, de or hi"


def _schedule_problem(schedule: tuple[int, ...]) -> str | None:
    low, high = SCHEDULE_RANGE
    if schedule and all(problems.is_number(v, whole=True) and low <= v <= high for v in schedule):
        return None
    given = ",".join(map(str, schedule)) or "(empty)"
    return (f"--chunk-schedule {given} is out of range: give characters from {low} to {high} each, "
            "e.g. 120,160,250,290")


def _dictionaries_problem(locators: tuple[tuple[str, str | None], ...]) -> str | None:
    if len(locators) > MAX_DICTIONARIES:
        return (f"--pronunciation-dictionary is given {len(locators)} times: "
                f"the service takes at most {MAX_DICTIONARIES}")
    for dictionary, version in locators:
        if not _ID.match(dictionary) or (version is not None and not _ID.match(version)):
            given = dictionary if version is None else f"{dictionary}:{version}"
            return f"--pronunciation-dictionary {given!r} is not ID[:VERSION] ({_ID_CHARS})"
    return None


def _id_problem(option: str, value: str | None) -> str | None:
    if value is None or _ID.match(value):
        return None
    return f"{option} {value!r} is not an id: use {_ID_CHARS}"


STREAM_INPUT = "stream-input"
MULTI_CONTEXT = "multi-context"
# The models that read SSML <phoneme> tags; the others skip the word (ElevenLabs' documentation).
PHONEME_MODELS = ("eleven_flash_v2", "eleven_turbo_v2", "eleven_monolingual_v1")
TRANSPORTS = (MULTI_CONTEXT, STREAM_INPUT)
_PATHS = {STREAM_INPUT: "stream-input", MULTI_CONTEXT: "multi-stream-input"}


def stream_url(endpoint: str, settings: StreamSettings, transport: str = STREAM_INPUT) -> str:
    """The URL of `transport`'s endpoint for these settings. The stream-input
    URL also names a segment's sound in its key, whichever transport carries it."""
    base = frames.check_endpoint(endpoint, DEFAULT_ENDPOINT)
    # output_format, inactivity_timeout and model_id keep the order they always had: the query is
    # part of each finished segment's key, so work kept by an earlier run is still found.
    query = {"output_format": settings.output_format, "inactivity_timeout": settings.inactivity_timeout}
    optional = {
        "model_id": settings.model,
        "language_code": settings.language_code,
        "seed": settings.seed,
        "apply_text_normalization": settings.apply_text_normalization,
        "enable_ssml_parsing": (None if settings.enable_ssml_parsing is None
                                else str(settings.enable_ssml_parsing).lower()),
    }
    query.update((name, value) for name, value in optional.items() if value is not None)
    return f"{base}/v1/text-to-speech/{settings.voice}/{_PATHS[transport]}?{urlencode(query)}"


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"xi-api-key": api_key} if api_key else {}


def init_message(settings: StreamSettings, context: str | None = None) -> str:
    """The first message of a stream, or of a context: the settings go only here."""
    message: dict[str, Any] = {"text": " "} | ({"context_id": context} if context is not None else {})
    message["generation_config"] = {"chunk_length_schedule": list(settings.chunk_length_schedule)}
    voice_settings = settings.voice_settings.message()
    if voice_settings:
        message["voice_settings"] = voice_settings
    if settings.pronunciation_dictionary_locators:
        message["pronunciation_dictionary_locators"] = [
            _locator(dictionary, version)
            for dictionary, version in settings.pronunciation_dictionary_locators
        ]
    return json.dumps(message)


def _locator(dictionary: str, version: str | None) -> dict[str, str]:
    # Without a version the service applies the dictionary's latest one.
    return {"pronunciation_dictionary_id": dictionary} | ({"version_id": version} if version else {})


def spaced(text: str) -> str:
    """The text as it is sent: ending with a space, so words are not glued."""
    return text if text.endswith(" ") else text + " "


def text_message(text: str, *, flush: bool, context: str | None = None) -> str:
    message = {"text": spaced(text)}
    return json.dumps(message | ({"context_id": context} if context is not None else {}) | {"flush": flush})


def close_context(context: str) -> str:
    """Finish the context: the rest of its audio, then its isFinal."""
    return json.dumps({"context_id": context, "close_context": True})


KEEPALIVE = json.dumps({"text": " "})
END_OF_INPUT = json.dumps({"text": ""})
CLOSE_SOCKET = json.dumps({"close_socket": True})


def parse_frame(raw: str | bytes) -> Event:
    """One server frame: an audio chunk, a final message (of the stream, or
    of the context it names), or None for a frame with neither
    (alignment-only keep-alives). Errors are raised, classified. Both
    spellings the documentation uses are read (`contextId`/`context_id`,
    `isFinal`/`is_final`)."""
    data = frames.load(raw)
    if data.get("error") or (data.get("message") and not data.get("audio")):
        raise classify_error(data.get("error"), str(data.get("message") or ""))
    context = _context(data)
    if data.get("audio"):
        return AudioChunk(frames.audio(data["audio"], raw), _alignment(data.get("alignment")), context)
    if data.get("isFinal") is True or data.get("is_final") is True:
        return Final(context)
    return None


def _context(data: dict[str, Any]) -> str | None:
    value = data.get("contextId", data.get("context_id"))
    return None if value is None else str(value)


def _alignment(value: Any) -> Alignment | None:
    if not value:
        return None
    try:
        chars = tuple(value["chars"])
        starts = tuple(int(t) for t in value["charStartTimesMs"])
        durations = tuple(int(t) for t in value.get("charDurationsMs", value.get("charsDurationsMs", ())))
    except (KeyError, TypeError, ValueError) as exc:
        raise ServiceError(ErrorKind.PROTOCOL, f"malformed alignment: {str(value)[:80]}") from exc
    if len(starts) != len(chars) or not all(isinstance(c, str) for c in chars):
        raise ServiceError(ErrorKind.PROTOCOL, "alignment with unequal chars and times, or chars not text")
    return Alignment(chars, starts, durations)


ERRORS = frames.ErrorTable(
    rules=(
        # Quota first: its messages may name the API key ("This API key has exceeded its quota").
        frames.ErrorRule(ErrorKind.QUOTA, codes=frozenset({"quota_exceeded", "insufficient_credits"}),
                         words=("quota", "credits")),
        frames.ErrorRule(ErrorKind.RATE_LIMIT,
                         codes=frozenset({"too_many_concurrent_requests", "system_busy",
                                          "max_active_conversations", "rate_limit_exceeded"}),
                         words=("too many", "rate limit", "busy", "simultaneous")),
        frames.ErrorRule(ErrorKind.AUTH,
                         codes=frozenset({"invalid_api_key", "missing_api_key", "unauthorized"}),
                         words=("api key", "unauthorized")),
        frames.ErrorRule(ErrorKind.INPUT,
                         codes=frozenset({"invalid_input_message", "voice_not_found", "model_not_found",
                                          "invalid_voice_settings", "invalid_request"}),
                         words=("invalid", "voice_settings", "not found")),
    ),
    advice={
        ErrorKind.AUTH: "check ELEVENLABS_API_KEY",
        ErrorKind.QUOTA: frames.QUOTA_ADVICE,
        ErrorKind.INPUT: "check --voice, --model and the settings",
    },
)


def classify_error(code: object, message: str) -> ServiceError:
    """The service's error code (`quota_exceeded`, `invalid_api_key`, ...)
    decides; its words only when it sent no code this table knows. What is
    not recognised (an inactivity close, "something went wrong") is retried."""
    name = code if isinstance(code, str) and ERRORS.knows(code) else None
    return ERRORS.error(ERRORS.kind(name, message), message or str(code or "") or "no message")
