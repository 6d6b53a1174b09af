"""The server side of ElevenLabs `stream-input`, without I/O.

Messages in, actions out: text to generate (cut by the chunk length
schedule), an error to send before closing 1008, or the end of input.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from narrator.protocol.elevenlabs import DEFAULT_SCHEDULE

_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s+")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Generate:
    text: str
    starts_stream: bool = False  # the first generation after the start or a flush


@dataclass(frozen=True)
class Reject:
    error: str
    message: str

    def frame(self) -> str:
        return json.dumps({"message": self.message, "error": self.error, "code": 1008})


@dataclass(frozen=True)
class EndOfInput:
    pass


class StreamInput:
    """One connection's buffer and settings."""

    def __init__(self, *, required_key: str | None = None, header_key: str | None = None):
        self._required_key = required_key
        self._header_key = header_key
        self._started = False
        self._voice_settings: dict | None = None
        self._schedule = DEFAULT_SCHEDULE
        self._generations = 0
        self._buffer = ""
        self.ended = False

    @property
    def voice_settings(self) -> dict:
        return self._voice_settings or {}

    def receive(self, raw: str | bytes) -> list:
        message = _load(raw)
        if message is None:
            return [Reject("invalid_input_message", "Invalid message: expected a JSON object with a 'text' field")]
        if not self._started:
            rejected = self._start(message)
            if rejected:
                return [rejected]
        elif message.get("voice_settings") not in (None, self._voice_settings):
            return [Reject("invalid_input_message", "voice_settings field must be provided in the first message only")]
        schedule = _schedule(message.get("generation_config"))
        if isinstance(schedule, Reject):
            return [schedule]
        if schedule:
            self._schedule = schedule
        text = message["text"]
        if text == "":
            self.ended = True
            return self._take(everything=True) + [EndOfInput()]
        self._buffer += text
        return self._take(everything=bool(message.get("flush")))

    def _start(self, message: dict) -> Reject | None:
        self._started = True
        if self._required_key is not None and _supplied_key(message, self._header_key) != self._required_key:
            return Reject("invalid_api_key", "Invalid API key")
        settings = message.get("voice_settings")
        if settings is not None and not isinstance(settings, dict):
            return Reject("invalid_input_message", "voice_settings must be an object")
        self._voice_settings = settings
        return None

    def _take(self, *, everything: bool) -> list:
        """Cut the buffer into generations: each at least the schedule's
        current size, ending at a sentence end or else a space after it."""
        out = []
        # Leading whitespace (the opening " ", keep-alives) is not spoken; dropping
        # it makes a segment's generations the same on a fresh or a reused connection.
        self._buffer = self._buffer.lstrip()
        while self._buffer:
            size = self._schedule[min(self._generations, len(self._schedule) - 1)]
            cut = _cut_point(self._buffer, size)
            if cut is None:
                if not everything:
                    break
                cut = len(self._buffer)
            piece, self._buffer = self._buffer[:cut], self._buffer[cut:].lstrip()
            out.append(Generate(piece, starts_stream=self._generations == 0))
            self._generations += 1
        if everything:
            # A flush starts the schedule again, so a segment sent after a flush
            # is cut the same way whatever the connection did before.
            self._buffer, self._generations = "", 0
        return out


def _cut_point(buffer: str, size: int) -> int | None:
    if len(buffer) < size:
        return None
    sentence = _SENTENCE_END.search(buffer, size - 1)
    if sentence and sentence.end() <= size + 120:
        return sentence.end()
    space = _SPACE.search(buffer, size - 1)
    return space.end() if space else None


def _load(raw: str | bytes) -> dict | None:
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(message, dict) or not isinstance(message.get("text"), str):
        return None
    return message


def _supplied_key(message: dict, header_key: str | None) -> str | None:
    if header_key:
        return header_key
    for name in ("xi_api_key", "xi-api-key"):
        if message.get(name):
            return str(message[name])
    authorization = message.get("authorization")
    if authorization:
        return str(authorization).removeprefix("Bearer ").strip()
    return None


def _schedule(config) -> tuple[int, ...] | Reject | None:
    if not config:
        return None
    schedule = config.get("chunk_length_schedule") if isinstance(config, dict) else None
    if schedule is None:
        return None
    if (
        not isinstance(schedule, list)
        or not schedule
        or not all(isinstance(v, int) and 50 <= v <= 500 for v in schedule)
    ):
        return Reject("invalid_input_message", "chunk_length_schedule must be a list of integers between 50 and 500")
    return tuple(schedule)
