"""Sarvam's streaming text-to-speech protocol, client side, without I/O.

A config message opens the connection; a segment is sent as text messages
of at most 2,500 characters each and a flush, and the service answers with
base64 MP3 (no timings) and, as the URL asks, a completion event once
speech generation ends. A segment goes one paragraph and one flush at a
time (`FlushExchange`). The session layer only moves these strings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import regex

from narrator import problems
from narrator.errors import ErrorKind, ServiceError
from narrator.protocol import frames
from narrator.protocol.events import AudioChunk, Dialect, Event, Exchange, Final
from narrator.text.sentences import sentence_ends

DEFAULT_ENDPOINT = "wss://api.sarvam.ai"
MODELS = ("bulbul:v2", "bulbul:v3", "bulbul:v4-flash")
LANGUAGES = ("bn-IN", "en-IN", "gu-IN", "hi-IN", "kn-IN", "ml-IN", "mr-IN", "od-IN", "pa-IN", "ta-IN",
             "te-IN")
CODECS = ("mp3", "wav", "aac", "opus", "flac", "linear16", "mulaw", "alaw")
SAMPLE_RATES = (8000, 16000, 22050, 24000)
BITRATES = ("32k", "64k", "96k", "128k", "192k")
PACE_RANGES = {"bulbul:v2": (0.3, 3.0), "bulbul:v3": (0.5, 2.0), "bulbul:v4-flash": (0.5, 2.0)}
PITCH_RANGE = (-0.75, 0.75)
LOUDNESS_RANGE = (0.3, 3.0)
# The service's documented bounds (its how-to pages on the two settings).
MIN_BUFFER_RANGE = (30, 200)
MAX_CHUNK_RANGE = (50, 500)
TEXT_LIMIT = 2500  # characters in one text message
TEXT_TARGET = 500  # what the service recommends per message
PARAGRAPH_BREAK = "\n\n"  # how a segment's text joins its paragraphs (model.Segment.text)
KEEPALIVE_EVERY = 20.0  # seconds; the service closes a connection idle for one minute


@dataclass(frozen=True)
class SarvamSettings:
    speaker: str = "anushka"
    language_code: str = "en-IN"
    model: str = "bulbul:v2"
    pace: float = 1.0
    pitch: float = 0.0
    loudness: float = 1.0
    sample_rate: int = 22050
    bitrate: str = "128k"
    min_buffer_size: int = 50
    max_chunk_length: int = 150
    enable_preprocessing: bool = False


def validate(settings: SarvamSettings) -> None:
    """A ConfigError naming the first bad setting, its value and what is
    accepted. min_buffer_size takes 30-200 characters and max_chunk_length
    50-500, the service's documented ranges. Pitch and loudness are checked
    for bulbul:v2 only: the later models ignore them. The embedded server
    judges a config message with the same rules, so values of any JSON type
    are handled."""
    problems.raise_first(_problems(settings))


def _problems(s: SarvamSettings) -> Iterator[str | None]:
    yield problems.choice_problem("model", s.model, MODELS)
    yield problems.choice_problem("language_code", s.language_code, LANGUAGES)
    yield _speaker_problem(s.speaker)
    if s.model in PACE_RANGES:
        yield problems.range_problem("pace", s.pace, PACE_RANGES[s.model], context=f" for {s.model}")
    if s.model == "bulbul:v2":
        yield problems.range_problem("pitch", s.pitch, PITCH_RANGE)
        yield problems.range_problem("loudness", s.loudness, LOUDNESS_RANGE)
    yield problems.choice_problem("sample_rate", s.sample_rate, SAMPLE_RATES)
    yield problems.choice_problem("bitrate", s.bitrate, BITRATES)
    yield problems.range_problem("min_buffer_size", s.min_buffer_size, MIN_BUFFER_RANGE, whole=True)
    yield problems.range_problem("max_chunk_length", s.max_chunk_length, MAX_CHUNK_RANGE, whole=True)
    if not isinstance(s.enable_preprocessing, bool):
        yield f"enable_preprocessing {s.enable_preprocessing!r} is not true or false"


def _speaker_problem(speaker: object) -> str | None:
    if isinstance(speaker, str) and speaker and speaker == speaker.lower() and not speaker.isspace():
        return None
    return f"speaker {speaker!r} is not a speaker name: give one in lowercase, such as anushka"


def stream_url(endpoint: str, settings: SarvamSettings) -> str:
    base = frames.check_endpoint(endpoint, DEFAULT_ENDPOINT)
    query = urlencode({"model": settings.model, "send_completion_event": "true"})
    return f"{base}/text-to-speech/ws?{query}"


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"api-subscription-key": api_key} if api_key else {}


def config_message(settings: SarvamSettings) -> str:
    # `language_code` is the documented name; older SDKs sent `target_language_code`.
    return json.dumps({"type": "config", "data": {
        "language_code": settings.language_code,
        "speaker": settings.speaker,
        "pitch": settings.pitch,
        "pace": settings.pace,
        "loudness": settings.loudness,
        "speech_sample_rate": settings.sample_rate,
        "enable_preprocessing": settings.enable_preprocessing,
        "output_audio_codec": "mp3",
        "output_audio_bitrate": settings.bitrate,
        "min_buffer_size": settings.min_buffer_size,
        "max_chunk_length": settings.max_chunk_length,
    }})


PING = json.dumps({"type": "ping"})
FLUSH = json.dumps({"type": "flush"})

_GRAPHEME = regex.compile(r"\X")
_LEADING_SPACE = regex.compile(r"\s*")


def split_text(text: str, target: int = TEXT_TARGET, limit: int = TEXT_LIMIT) -> list[str]:
    """The text (its outer whitespace dropped) as pieces of at most `target`
    characters, cut at the last sentence end that fits, else after the last
    whitespace, else (a script without spaces, a URL) at the last grapheme
    boundary; never inside a grapheme cluster, except a single cluster
    longer than `limit`, which no one reads and the service would refuse.

    A cut is made before a visible character, so the whitespace at a cut
    stays at the end of the piece on its left and no piece is whitespace
    alone; the pieces concatenate to the text again (the service appends
    every message to one buffer, and reads the words as they were written).
    Only a run of whitespace longer than `target` is shortened, to its first
    character: it says nothing one does not."""
    rest = regex.sub(rf"\s{{{target + 1},}}", lambda run: run.group()[0], text.strip())
    pieces = []
    while len(rest) > target:
        cut = cut_point(rest, target, limit)
        pieces.append(rest[:cut])
        rest = rest[cut:]
    return pieces + [rest] if rest else pieces


def cut_point(text: str, target: int, limit: int) -> int:
    """Where to end the first piece of `text`, which starts with a visible
    character: see `split_text`. If nothing fits `target`, the first cut
    that fits `limit`, or else `limit` itself."""
    within, beyond = _cuts(text, target, limit)
    spaces = (end for end in within if text[end - 1].isspace())
    return (_last(_sentence_ends(text, target), within) or _last(spaces, within) or max(within, default=0)
            or beyond or limit)


def last_sentence_end(text: str, target: int) -> int | None:
    """The end of the last whole sentence within `target` characters, if any."""
    return _last(_sentence_ends(text, target), _cuts(text, target, target)[0])


def _sentence_ends(text: str, target: int) -> list[int]:
    return list(sentence_ends(text, 0, target))


def _last(candidates: Iterable[int], cuts: set[int]) -> int | None:
    return max((end for end in candidates if end in cuts), default=None)


def _cuts(text: str, target: int, limit: int) -> tuple[set[int], int | None]:
    """The places a piece may end within `target` (grapheme boundaries
    after a visible character and before one, or the end), and the first
    one after `target` within `limit`."""
    lead = _LEADING_SPACE.match(text).end()
    within: set[int] = set()
    for match in _GRAPHEME.finditer(text):
        end = match.end()
        if end > limit:
            break
        if end <= lead or (end < len(text) and text[end].isspace()):
            continue
        if end > target:
            return within, end
        within.add(end)
    return within, None


def text_message(text: str) -> str:
    return json.dumps({"type": "text", "data": {"text": text}})


def paragraphs(text: str) -> list[str]:
    return [p for p in text.split(PARAGRAPH_BREAK) if p.strip()]


def paragraph_messages(paragraph: str) -> list[str]:
    return [text_message(piece) for piece in split_text(paragraph)] + [FLUSH]


class FlushExchange(Exchange):
    """A segment one paragraph at a time: each paragraph's text and a flush,
    the next only once the completion event of the last one came.

    The documentation promises a completion event when speech generation
    ends, not one per flush: with one flush outstanding, the event can only
    be its own, however the service groups them. Each event then marks
    where its paragraph's audio ends, so captions estimated without timings
    stay inside the right paragraph."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._paragraphs = paragraphs(text)
        self.done = not self._paragraphs

    def start(self) -> list[str]:
        return paragraph_messages(self._paragraphs.pop(0)) if self._paragraphs else []

    def receive(self, event: AudioChunk | Final) -> list[str]:
        self.chunks.append(event)
        if not isinstance(event, Final):
            return []
        if self._paragraphs:
            return paragraph_messages(self._paragraphs.pop(0))
        self.done = True
        return []


def sent_characters(text: str) -> int:
    return sum(len(piece) for paragraph in paragraphs(text) for piece in split_text(paragraph))


def parse_frame(raw: str | bytes) -> Event:
    """One server frame: audio, the completion event, or None for anything
    else well-formed. An error frame is raised, classified."""
    message = frames.load(raw)
    data = message.get("data") or {}
    if not isinstance(data, dict):
        raise ServiceError(ErrorKind.PROTOCOL, f"unexpected frame from the service: {frames.preview(raw)}")
    kind = message.get("type")
    if kind == "audio":
        return AudioChunk(frames.audio(data.get("audio"), raw), None)
    if kind == "event":
        return Final() if data.get("event_type") == "final" else None
    if kind == "error":
        raise classify_error(data.get("code"), str(data.get("message") or ""))
    return None


ERRORS = frames.ErrorTable(
    rules=(
        # A 429 is a quota error when its words say so, else too many requests at once.
        frames.ErrorRule(ErrorKind.QUOTA, codes=frozenset({402}), words=("quota", "credit"),
                         word_codes=frozenset({429, None})),
        frames.ErrorRule(ErrorKind.AUTH, codes=frozenset({401, 403}),
                         words=("api key", "subscription key", "subscription-key", "unauthorized",
                                "invalid credentials")),
        frames.ErrorRule(ErrorKind.RATE_LIMIT, codes=frozenset({429}),
                         words=("rate limit", "rate_limit", "too many")),
        frames.ErrorRule(ErrorKind.INPUT, codes=frozenset({400, 404, 413, 422})),
    ),
    advice={
        ErrorKind.AUTH: "check SARVAM_API_KEY",
        ErrorKind.QUOTA: frames.QUOTA_ADVICE,
        ErrorKind.INPUT: "check the model, language, speaker and the other settings",
    },
)


def classify_error(code: object, message: str) -> ServiceError:
    """The service's numeric code decides; its words only where no code
    came (or a 429, quota or too many at once). What is not recognised (a
    5xx) is retried."""
    status = _status(code)
    said = (message or "no message") + (f" (code {status})" if status is not None else "")
    return ERRORS.error(ERRORS.kind(status, message), said)


def _status(code: object) -> int | None:
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    return int(code) if isinstance(code, str) and code.isdigit() else None


class SarvamDialect(Dialect):
    """Sarvam's streaming text-to-speech for one speaker and its settings."""

    name = "sarvam"
    domain = "sarvam.ai"
    keepalive = PING
    keepalive_every = KEEPALIVE_EVERY
    parse_frame = staticmethod(parse_frame)
    classify_error = staticmethod(classify_error)
    key_name = "SARVAM_API_KEY"
    settings_hint = "the endpoint and the model"

    def __init__(self, endpoint: str, settings: SarvamSettings, api_key: str | None):
        validate(settings)
        super().__init__(stream_url(endpoint, settings), auth_headers(api_key), (config_message(settings),))

    def exchange(self, text: str, context: str | None) -> Exchange:
        return FlushExchange(text)

    def sent_characters(self, text: str) -> int:
        return sent_characters(text)


def dialect(endpoint: str, settings: SarvamSettings, api_key: str | None) -> SarvamDialect:
    return SarvamDialect(endpoint, settings, api_key)
