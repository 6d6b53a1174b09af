"""The server side of Sarvam's streaming text-to-speech, without I/O.

Messages in, actions out: text to generate with the config it was sent
under, the end of a flush's audio, or an error to reply with (the service
replies and keeps the connection). `read_query` judges the URL's query.
"""

from __future__ import annotations

from dataclasses import dataclass

from narrator.errors import ConfigError
from narrator.protocol import frames
from narrator.protocol.chunking import Chunker, Cut, Piece
from narrator.protocol.sarvam import (
    CODECS,
    LANGUAGES,
    MODELS,
    TEXT_LIMIT,
    SarvamSettings,
    cut_point,
    last_sentence_end,
    validate,
)

DEFAULT_MODEL = "bulbul:v3"  # the service's model when the URL names none
SERVED_CODEC = "mp3"  # all the embedded engine encodes
NOT_A_DICTIONARY = "Input parameters has to be a valid dictionary"  # the service's own words
# Config fields as they are spelled on the wire, and in SarvamSettings.
_FIELDS = {
    "speaker": "speaker",
    "pitch": "pitch",
    "pace": "pace",
    "loudness": "loudness",
    "speech_sample_rate": "sample_rate",
    "output_audio_bitrate": "bitrate",
    "min_buffer_size": "min_buffer_size",
    "max_chunk_length": "max_chunk_length",
    "enable_preprocessing": "enable_preprocessing",
}
_WIRE_NAMES = {setting: wire for wire, setting in _FIELDS.items()}


@dataclass(frozen=True)
class Generate(Piece):
    """Text to generate; it starts a stream after the start, a flush or a new config."""

    settings: SarvamSettings  # the config in force when the text came: a later one must not change it


@dataclass(frozen=True)
class Completed:
    """Everything before a flush is generated."""


@dataclass(frozen=True)
class Error:
    message: str
    code: int = 422


@dataclass(frozen=True)
class Query:
    model: str
    completion_event: bool


Action = Generate | Completed | Error


def read_query(query: dict[str, str]) -> Query | Error:
    model = query.get("model", DEFAULT_MODEL)
    if model not in MODELS:
        return Error(f"model {model!r} is not one of {', '.join(MODELS)}")
    # The SDK sends Python's True: the flag is read case-insensitively.
    return Query(model, query.get("send_completion_event", "false").lower() == "true")


class SarvamWs:
    """One connection's config and text buffer."""

    def __init__(self, model: str = DEFAULT_MODEL) -> None:
        self._model = model
        self._settings: SarvamSettings | None = None
        self._chunker = Chunker()

    def receive(self, raw: str | bytes) -> list[Action]:
        message = frames.json_object(raw)
        if message is None:
            return [Error(NOT_A_DICTIONARY)]
        kind = message.get("type")
        if kind == "ping":
            return []  # activity alone: the connection stays open
        if kind == "config":
            return self._configure(message.get("data"))
        if kind not in ("text", "flush"):
            return [Error(f"unknown message type {kind!r}: send config, text, flush or ping")]
        settings = self._settings
        if settings is None:
            return [Error("send a config message first: it sets the language and the voice")]
        if kind == "flush":
            return [*self._take(settings, flush=True), Completed()]
        return self._text(message.get("data"), settings)

    def _configure(self, data: object) -> list[Action]:
        settings = _settings(data, self._model)
        if isinstance(settings, Error):
            return [settings]
        # A new config applies to what comes after it: the buffer is generated first.
        out = self._take(self._settings, flush=True) if self._settings else []
        self._settings = settings
        return out

    def _text(self, data: object, settings: SarvamSettings) -> list[Action]:
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(text, str) or not 1 <= len(text) <= TEXT_LIMIT:
            given = f"{len(text)} characters" if isinstance(text, str) else repr(text)
            return [Error(f"text must be 1 to {TEXT_LIMIT} characters (got {given})")]
        self._chunker.add(text)
        return self._take(settings, flush=False)

    def _take(self, settings: SarvamSettings, *, flush: bool) -> list[Action]:
        pieces = self._chunker.take(_cut(settings), flush=flush)
        return [Generate(piece.text, piece.starts_stream, settings) for piece in pieces]


def _cut(settings: SarvamSettings) -> Cut:
    """Once the buffer holds min_buffer_size characters, each generation
    ends at a sentence end within max_chunk_length (or else at a space),
    and what has no sentence end yet waits for more."""

    def cut(buffer: str, _pieces: int, flush: bool) -> int | None:
        size = settings.max_chunk_length
        if not flush and len(buffer) < settings.min_buffer_size:
            return None
        if len(buffer) > size:
            return cut_point(buffer, size, size)
        return len(buffer) if flush else last_sentence_end(buffer, len(buffer))

    return cut


def _settings(data: object, model: str) -> SarvamSettings | Error:
    """A config message's data as settings, judged as the service would:
    what is left out (or null) takes its default, what is unknown to the
    embedded engine (dict_id, temperature) is accepted and not applied."""
    if not isinstance(data, dict):
        return Error(NOT_A_DICTIONARY)
    language = data.get("language_code") or data.get("target_language_code")  # older SDKs
    if language is None:
        return Error(f"language_code is required: one of {', '.join(LANGUAGES)}")
    given = {setting: data[wire] for wire, setting in _FIELDS.items() if data.get(wire) is not None}
    settings = SarvamSettings(language_code=language, model=data.get("model") or model, **given)
    try:
        validate(settings)
    except ConfigError as exc:
        name, _, rest = str(exc).partition(" ")
        return Error(f"{_WIRE_NAMES.get(name, name)} {rest}")
    return _codec_problem(data.get("output_audio_codec") or SERVED_CODEC) or settings


def _codec_problem(codec: object) -> Error | None:
    if codec not in CODECS:
        return Error(f"output_audio_codec {codec!r} is not one of {', '.join(CODECS)}")
    if codec != SERVED_CODEC:
        return Error(f"output_audio_codec {codec!r} is not served by the embedded engine: use {SERVED_CODEC}")
    return None
