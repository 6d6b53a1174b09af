"""What every service's codec speaks to the session: the events a frame
means, the `Exchange` that is one segment's conversation, and the
`Dialect` a session needs to drive one service.

A session knows nothing of any one service: it sends the dialect's opening
messages, runs each segment's exchange (what to send first, what to send
in reply to an event, when the segment is done), sends
a keep-alive while idle, and turns each received frame into an event with
the dialect's parser.
"""

from __future__ import annotations

import abc
import hashlib
import json
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

from narrator.errors import ErrorKind, ServiceError
from narrator.protocol import frames


@dataclass(frozen=True)
class Alignment:
    chars: tuple[str, ...]
    starts_ms: tuple[int, ...]
    durations_ms: tuple[int, ...]


@dataclass(frozen=True)
class AudioChunk:
    audio: bytes
    alignment: Alignment | None
    context: str | None = None  # the multi-context stream it belongs to


@dataclass(frozen=True)
class Final:
    """No more audio follows for what was sent: the end of a stream or of a
    context, or (Sarvam's completion event) the end of a flush. Among a
    segment's chunks it marks where one flushed paragraph's audio ends."""

    context: str | None = None


# What one received frame means; None: nothing for the session (a keep-alive, an
# alignment-only frame, an event it does not use).
Event = AudioChunk | Final | None


Chunks = list[AudioChunk | Final]


class Exchange(abc.ABC):
    """One segment's conversation with the service, without I/O. The
    session sends `start()`, feeds it every event of its stream, sends what
    `receive` returns, and stops when `done`."""

    context: str | None = None  # the context its events carry (multi-context), else None

    def __init__(self) -> None:
        self.chunks: Chunks = []
        self.done = False
        self.reusable = True  # whether the connection may carry another segment afterwards

    @abc.abstractmethod
    def start(self) -> list[str]:
        """The messages that ask for the segment."""

    @abc.abstractmethod
    def receive(self, event: AudioChunk | Final) -> list[str]:
        """Take one event of this segment's stream; the messages to send in reply."""


class Dialect(abc.ABC):
    """One service's protocol as a session needs it: pure values and methods,
    no I/O. Each codec subclasses it (`ElevenLabsDialect`, `SarvamDialect`)."""

    name: ClassVar[str]
    domain: ClassVar[str]  # the service's own hosts (its regions among them) all end in this
    # Sent after `keepalive_every` idle seconds; None: a connection idle that long is
    # not used again (the service may be closing it), and a new one is opened.
    keepalive: str | None
    keepalive_every: float
    # Segments may share a connection at once, each in its own context (at most this many).
    max_contexts: int = 1

    @property
    def multiplexed(self) -> bool:
        """Whether segments on one connection are told apart by their context."""
        return self.max_contexts > 1
    # What a refused handshake tells the user to check.
    key_name: ClassVar[str]
    settings_hint: ClassVar[str]

    def __init__(self, url: str, headers: dict[str, str], opening: tuple[str, ...]):
        self.url = url
        self._headers = headers  # carries the key: kept out of every repr and log
        self.opening = opening  # sent once, right after connecting

    @property
    def headers(self) -> dict[str, str]:
        return dict(self._headers)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r})"

    @abc.abstractmethod
    def exchange(self, text: str, context: str | None) -> Exchange:
        """One segment's conversation; `context` names its context where
        the dialect has them (`multiplexed`)."""

    @abc.abstractmethod
    def sent_characters(self, text: str) -> int:
        """Characters of text a segment's messages carry: what the service
        counts, and so what budgets count."""

    # A frame's meaning and an error's kind are the codec's pure functions, taken as they are.
    @staticmethod
    @abc.abstractmethod
    def parse_frame(raw: str | bytes) -> Event:
        """One received frame as an event; an error frame raises a classified ServiceError."""

    @staticmethod
    @abc.abstractmethod
    def classify_error(code: object, message: str) -> ServiceError:
        """The error the service's code (None: no code) and words mean."""

    @classmethod
    def classify_close(cls, code: int | None, reason: str) -> ServiceError:
        """The error a connection closed early (with this code and reason) means."""
        return frames.close_error(code, reason, lambda said: cls.classify_error(None, said))

    @classmethod
    def classify_handshake(cls, status: int, body: bytes | None = None) -> ServiceError:
        """The error a refused WebSocket handshake means: the code in its
        body (`{"detail": {"status": ...}}`) where the service sent one,
        else its HTTP status."""
        code, message = frames.rest_error(body)
        said = message or f"HTTP {status} at the handshake"
        by_code = None if code is None else cls.classify_error(code, said)
        if by_code is not None and by_code.kind is not ErrorKind.TRANSIENT:
            return by_code
        return frames.handshake_error(status, key_name=cls.key_name, settings_hint=cls.settings_hint)

    def sound(self) -> tuple[str, tuple[str, ...]]:
        """The URL and opening messages that decide a segment's sound. A
        dialect whose transports sound alike gives the same for each, so
        they share finished segments."""
        return self.url, self.opening

    def segment_key(self, text: str) -> str:
        """What decides a segment's sound: who makes it (the service, whatever
        its region; any other host, such as a rehearsal on loopback, is
        itself, whatever its port), the URL's path and query (voice, model,
        format, settings) and the opening messages; never the key."""
        sound_url, opening = self.sound()
        url = urlsplit(sound_url)
        host = url.hostname or ""
        maker = self.domain if host == self.domain or host.endswith("." + self.domain) else host
        basis = json.dumps([self.name, maker, url.path, url.query, opening, text])
        return hashlib.sha256(basis.encode()).hexdigest()
