"""The ElevenLabs `stream-input` protocol, client side, without I/O.

What to send for a segment, and what a received frame means: audio with its
alignment, the final message, or an error classified by kind. The session
layer only moves these strings over a socket.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from narrator.errors import ConfigError, ErrorKind, ServiceError
from narrator.protocol.events import Alignment, AudioChunk, Dialect, Event, Final

__all__ = ["Alignment", "AudioChunk", "Final", "StreamSettings", "dialect", "parse_frame"]

DEFAULT_ENDPOINT = "wss://api.elevenlabs.io"
DEFAULT_SCHEDULE = (120, 160, 250, 290)
MP3_FORMATS = ("mp3_22050_32", "mp3_44100_32", "mp3_44100_64", "mp3_44100_96", "mp3_44100_128", "mp3_44100_192")
MP3_FORMAT = re.compile(r"^mp3_(22050|44100)_(32|64|96|128|192)$")


@dataclass(frozen=True)
class StreamSettings:
    """Everything that goes into the URL and the first message."""

    voice: str = "en-us"
    model: str | None = None
    output_format: str = "mp3_44100_128"
    inactivity_timeout: int = 20
    voice_settings: dict | None = None
    chunk_length_schedule: tuple[int, ...] = DEFAULT_SCHEDULE
    extra_query: dict = field(default_factory=dict)


def stream_url(endpoint: str, settings: StreamSettings) -> str:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise ConfigError(f"endpoint {endpoint!r} is not a ws:// or wss:// URL; give e.g. wss://api.elevenlabs.io")
    query = {"output_format": settings.output_format, "inactivity_timeout": settings.inactivity_timeout}
    if settings.model:
        query["model_id"] = settings.model
    query.update(settings.extra_query)
    base = endpoint.rstrip("/")
    return f"{base}/v1/text-to-speech/{settings.voice}/stream-input?{urlencode(query)}"


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"xi-api-key": api_key} if api_key else {}


def init_message(settings: StreamSettings) -> str:
    message: dict = {
        "text": " ",
        "generation_config": {"chunk_length_schedule": list(settings.chunk_length_schedule)},
    }
    if settings.voice_settings:
        message["voice_settings"] = settings.voice_settings
    return json.dumps(message)


def text_message(text: str, *, flush: bool) -> str:
    # The service expects each piece to end with a space so words are not glued.
    return json.dumps({"text": text if text.endswith(" ") else text + " ", "flush": flush})


KEEPALIVE = json.dumps({"text": " "})
END_OF_INPUT = json.dumps({"text": ""})


def dialect(endpoint: str, settings: StreamSettings, api_key: str | None) -> Dialect:
    return Dialect(
        name="elevenlabs",
        url=stream_url(endpoint, settings),
        headers=auth_headers(api_key),
        opening=(init_message(settings),),
        segment_messages=lambda text: [text_message(text, flush=True)],
        keepalive=KEEPALIVE,
        keepalive_every=settings.inactivity_timeout / 2,
        parse_frame=parse_frame,
        classify_close=classify_close,
        classify_handshake=classify_handshake,
        ends_segments=False,  # a flush has no end marker: the alignment covering the text ends a segment
    )


def parse_frame(raw: str | bytes) -> Event:
    """One server frame: an audio chunk, the final message, or None for a frame
    with neither (alignment-only keep-alives). Errors are raised, classified."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ServiceError(ErrorKind.PROTOCOL, f"unparsable frame from the service: {_preview(raw)}") from exc
    if not isinstance(data, dict):
        raise ServiceError(ErrorKind.PROTOCOL, f"unexpected frame from the service: {_preview(raw)}")
    if data.get("error") or (data.get("message") and not data.get("audio")):
        raise classify_error(str(data.get("error") or ""), str(data.get("message") or ""))
    if data.get("audio"):
        try:
            audio = base64.b64decode(data["audio"], validate=True)
        except (binascii.Error, TypeError) as exc:
            raise ServiceError(ErrorKind.PROTOCOL, f"audio that is not base64: {_preview(raw)}") from exc
        return AudioChunk(audio, _alignment(data.get("alignment")))
    if data.get("isFinal"):
        return Final()
    return None


def _alignment(value) -> Alignment | None:
    if not value:
        return None
    try:
        chars = tuple(value["chars"])
        starts = tuple(int(t) for t in value["charStartTimesMs"])
        durations = tuple(int(t) for t in value.get("charDurationsMs", value.get("charsDurationsMs", ())))
    except (KeyError, TypeError, ValueError) as exc:
        raise ServiceError(ErrorKind.PROTOCOL, f"malformed alignment: {str(value)[:80]}") from exc
    if len(starts) != len(chars):
        raise ServiceError(ErrorKind.PROTOCOL, "alignment with unequal chars and times")
    return Alignment(chars, starts, durations)


_AUTH_WORDS = ("invalid_api_key", "invalid api key", "unauthorized", "api key")
_QUOTA_WORDS = ("quota",)
_RATE_WORDS = ("too_many_concurrent_requests", "system_busy", "rate limit", "too many")
_INPUT_WORDS = ("invalid", "voice_not_found", "voice_settings", "model", "not found")


def classify_error(code: str, message: str) -> ServiceError:
    """The one place where the service's words become an error kind. What is
    not recognised (an inactivity close, "something went wrong") is retried."""
    said = f"{code} {message}".lower()
    for words, kind in (
        (_AUTH_WORDS, ErrorKind.AUTH),
        (_QUOTA_WORDS, ErrorKind.QUOTA),
        (_RATE_WORDS, ErrorKind.RATE_LIMIT),
        (_INPUT_WORDS, ErrorKind.INPUT),
    ):
        if any(w in said for w in words):
            return ServiceError(kind, _describe(kind, code, message))
    return ServiceError(ErrorKind.TRANSIENT, _describe(ErrorKind.TRANSIENT, code, message))


def classify_close(code: int | None, reason: str) -> ServiceError:
    """A connection that closed before the segment's audio was complete."""
    if code == 1008 and reason:
        return classify_error("", reason)
    if code == 1009:
        return ServiceError(ErrorKind.PROTOCOL, "the service sent a message larger than the receive limit (close 1009)")
    return ServiceError(ErrorKind.TRANSIENT, f"connection closed by the service (code {code}{', ' + reason if reason else ''})")


def classify_handshake(status: int) -> ServiceError:
    if status in (401, 403):
        return ServiceError(ErrorKind.AUTH, f"the service refused the connection (HTTP {status}): check the API key and the endpoint")
    if status == 429:
        return ServiceError(ErrorKind.RATE_LIMIT, "the service is busy (HTTP 429 at the handshake)")
    if status >= 500:
        return ServiceError(ErrorKind.TRANSIENT, f"the service failed (HTTP {status} at the handshake)")
    return ServiceError(ErrorKind.INPUT, f"the service rejected the connection (HTTP {status}): check --endpoint, --voice and --model")


_ADVICE = {
    ErrorKind.AUTH: "check ELEVENLABS_API_KEY",
    ErrorKind.QUOTA: "finished work is kept; add credits or wait for the quota to reset, then run again",
    ErrorKind.INPUT: "check --voice, --model and the settings",
}


def _describe(kind: ErrorKind, code: str, message: str) -> str:
    said = message or code or "no message"
    advice = _ADVICE.get(kind)
    return f"service error ({kind.value}): {said}" + (f"; {advice}" if advice else "")


def _preview(raw: str | bytes) -> str:
    text = raw if isinstance(raw, str) else raw[:60].decode("utf-8", "replace")
    return repr(text[:60])
