"""The server side of ElevenLabs `stream-input`, without I/O.

Messages in, actions out: text to generate (cut by the chunk length
schedule), an error to send before closing 1008, or the end of input.
`check_query` judges the connection's query parameters the same way.
Multi-context connections (`elevenlabs_multi_server`) judge each context
with a `StreamInput` of its own, and the URL with the same `check_query`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from narrator import problems
from narrator.protocol import frames
from narrator.protocol.chunking import Chunker, Piece
from narrator.protocol.elevenlabs import (
    DEFAULT_SCHEDULE,
    LANGUAGE_CODE,
    MAX_DICTIONARIES,
    SCHEDULE_RANGE,
    SEED_RANGE,
    TEXT_NORMALIZATION,
    VOICE_SETTING_RANGES,
)
from narrator.text.sentences import sentence_ends

_SPACE = re.compile(r"\s+")
_SENTENCE_REACH = 120  # how far past the schedule's size a sentence end is waited for


@dataclass(frozen=True)
class Generate(Piece):
    """Text to generate; it starts a stream after the start or a flush."""


@dataclass(frozen=True)
class Reject:
    error: str
    message: str

    def frame(self) -> str:
        return json.dumps({"message": self.message, "error": self.error, "code": 1008})


@dataclass(frozen=True)
class EndOfInput:
    pass


Action = Generate | Reject | EndOfInput


def invalid(message: str) -> Reject:
    return Reject("invalid_input_message", message)


NOT_A_TEXT_MESSAGE = invalid("Invalid message: expected a JSON object with a 'text' field")


def _boolean(name: str) -> tuple[Callable[[str], bool], str]:
    # Some SDKs send Python's True/False: booleans are read case-insensitively.
    return lambda v: v.lower() in ("true", "false"), f"{name} must be true or false"


# Query parameters judged here, each with its test and the rule a failure
# states. output_format and inactivity_timeout are judged where they are used.
_QUERY_RULES: dict[str, tuple[Callable[[str], bool], str]] = {
    "seed": (
        lambda v: re.fullmatch(r"[0-9]+", v) is not None and SEED_RANGE[0] <= int(v) <= SEED_RANGE[1],
        f"seed must be an integer between {SEED_RANGE[0]} and {SEED_RANGE[1]}",
    ),
    "apply_text_normalization": (
        lambda v: v in TEXT_NORMALIZATION,
        f"apply_text_normalization must be one of {', '.join(TEXT_NORMALIZATION)}",
    ),
    "enable_ssml_parsing": _boolean("enable_ssml_parsing"),
    "sync_alignment": _boolean("sync_alignment"),
    "auto_mode": _boolean("auto_mode"),
    "language_code": (
        lambda v: LANGUAGE_CODE.match(v.lower()) is not None,
        "language_code must be an ISO 639-1 language code such as en",
    ),
}


def check_query(query: dict[str, str]) -> Reject | None:
    """The first bad query parameter, as the service reports it, or None."""
    for name, (valid, rule) in _QUERY_RULES.items():
        value = query.get(name)
        if value is not None and not valid(value):
            return invalid(f"{rule} (got {value!r})")
    return None


class StreamInput:
    """One connection's buffer and settings (or one context's, in a
    multi-context connection, where empty text keeps the context alive
    instead of ending the input: `ends_on_empty=False`)."""

    def __init__(
        self, *, required_key: str | None = None, header_keys: tuple[str, ...] = (),
        ends_on_empty: bool = True,
    ) -> None:
        self._ends_on_empty = ends_on_empty
        self._required_key = required_key
        self._header_keys = header_keys
        self._started = False
        self._voice_settings: dict[str, object] | None = None
        self._schedule: tuple[int, ...] = DEFAULT_SCHEDULE
        self._chunker = Chunker()
        self.ended = False

    @property
    def speed(self) -> float:
        """The speaking rate the first message's voice_settings gave (checked in range), else 1."""
        speed = (self._voice_settings or {}).get("speed")
        return float(speed) if isinstance(speed, (int, float)) else 1.0

    def receive(self, raw: str | bytes) -> list[Action]:
        message = frames.json_object(raw)
        return [NOT_A_TEXT_MESSAGE] if message is None else self.receive_message(message)

    def receive_message(self, message: dict[str, object]) -> list[Action]:
        text = message.get("text")
        if not isinstance(text, str):
            return [NOT_A_TEXT_MESSAGE]
        if not self._started:
            rejected = self._start(message)
            if rejected:
                return [rejected]
        elif message.get("voice_settings") not in (None, self._voice_settings):
            return [invalid("voice_settings field must be provided in the first message only")]
        schedule = _schedule(message.get("generation_config"))
        if isinstance(schedule, Reject):
            return [schedule]
        if schedule:
            self._schedule = schedule
        if text == "" and self._ends_on_empty:
            self.ended = True
            return [*self.flush(), EndOfInput()]
        self._chunker.add(text)
        return [*self._take(flush=bool(message.get("flush")))]

    def flush(self) -> list[Generate]:
        """Everything buffered, as generations."""
        return self._take(flush=True)

    def _start(self, message: dict[str, object]) -> Reject | None:
        self._started = True
        if not frames.key_matches(self._required_key, _supplied_keys(message, self._header_keys)):
            return Reject("invalid_api_key", "Invalid API key")
        settings = message.get("voice_settings")
        locators = message.get("pronunciation_dictionary_locators")
        rejected = _check_voice_settings(settings) or _check_locators(locators)
        if rejected:
            return rejected
        self._voice_settings = settings if isinstance(settings, dict) else None  # None or a dict, as checked
        return None

    def _take(self, *, flush: bool) -> list[Generate]:
        pieces = self._chunker.take(self._cut, flush=flush)
        return [Generate(piece.text, piece.starts_stream) for piece in pieces]

    def _cut(self, buffer: str, pieces: int, _flush: bool) -> int | None:
        """Each generation is at least the schedule's current size, and ends
        at a sentence end or else a space after it."""
        size = self._schedule[min(pieces, len(self._schedule) - 1)]
        if len(buffer) < size:
            return None
        sentence = next(sentence_ends(buffer, size - 1), None)
        if sentence is not None and sentence <= size + _SENTENCE_REACH:
            return _outside_tag(buffer, sentence)
        space = _SPACE.search(buffer, size - 1)
        return _outside_tag(buffer, space.end()) if space else None


def _outside_tag(buffer: str, cut: int) -> int | None:
    """`cut`, or past the end of an SSML tag it would fall inside (a tag cut
    in two would be spoken, not read); None while the tag's end is to come."""
    if buffer.rfind("<", 0, cut) <= buffer.rfind(">", 0, cut):
        return cut
    end = buffer.find(">", cut)
    if end < 0:
        return None
    space = _SPACE.search(buffer, end + 1)
    return space.end() if space else None


def _supplied_keys(message: dict[str, object], header_keys: tuple[str, ...]) -> tuple[str, ...]:
    """The handshake's xi-api-key values, or else the first key the first message carries."""
    if header_keys:
        return header_keys
    for name in ("xi_api_key", "xi-api-key"):
        if message.get(name):
            return (str(message[name]),)
    authorization = message.get("authorization")
    if authorization:
        return (str(authorization).removeprefix("Bearer ").strip(),)
    return ()


def _check_voice_settings(settings: object) -> Reject | None:
    if settings is None:
        return None
    if not isinstance(settings, dict):
        return invalid("voice_settings must be an object")
    for name, (low, high) in VOICE_SETTING_RANGES.items():
        value = settings.get(name)
        if value is not None and not (problems.is_number(value) and low <= value <= high):
            rule = f"voice_settings.{name} must be a number between {low} and {high}"
            return invalid(f"{rule} (got {value!r})")
    boost = settings.get("use_speaker_boost")
    if boost is not None and not isinstance(boost, bool):
        return invalid(f"voice_settings.use_speaker_boost must be true or false (got {boost!r})")
    return None


def _check_locators(locators: object) -> Reject | None:
    """Accepted and checked, not applied: the embedded engine has no dictionaries."""
    if locators is None:
        return None
    if isinstance(locators, list) and len(locators) <= MAX_DICTIONARIES and all(map(_is_locator, locators)):
        return None
    return invalid(
        f"pronunciation_dictionary_locators must be a list of at most {MAX_DICTIONARIES} objects "
        "with a string pronunciation_dictionary_id and version_id"
    )


def _is_locator(locator: object) -> bool:
    # version_id may be left out: the service then uses the dictionary's latest version.
    if not isinstance(locator, dict):
        return False
    version = locator.get("version_id")
    named = isinstance(locator.get("pronunciation_dictionary_id"), str)
    return named and (version is None or isinstance(version, str))


def _schedule(config: object) -> tuple[int, ...] | Reject | None:
    if not config:
        return None
    schedule = config.get("chunk_length_schedule") if isinstance(config, dict) else None
    if schedule is None:
        return None
    low, high = SCHEDULE_RANGE
    if (
        not isinstance(schedule, list)
        or not schedule
        or not all(isinstance(v, int) and low <= v <= high for v in schedule)
    ):
        return invalid(f"chunk_length_schedule must be a list of integers between {low} and {high}")
    return tuple(schedule)
