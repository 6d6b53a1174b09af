"""What every service's codec speaks to the session: the events a frame
means, and the `Dialect` a session needs to drive one service.

A session knows nothing of any one service: it sends the dialect's opening
messages, the messages for a segment, a keep-alive while idle, and turns
each received frame into an event with the dialect's parser.
"""

from __future__ import annotations

import abc
import hashlib
import json
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

from narrator.errors import ServiceError
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


@dataclass(frozen=True)
class Final:
    """No more audio follows for what was sent: the end of a stream, or
    (Sarvam's completion event) the end of a flush. Among a segment's
    chunks it marks where one flushed paragraph's audio ends."""


# What one received frame means; None: nothing for the session (a keep-alive, an
# alignment-only frame, an event it does not use).
Event = AudioChunk | Final | None


class Dialect(abc.ABC):
    """One service's protocol as a session needs it: pure values and methods,
    no I/O. Each codec subclasses it (`ElevenLabsDialect`, `SarvamDialect`)."""

    name: ClassVar[str]
    domain: ClassVar[str]  # the service's own hosts (its regions among them) all end in this
    keepalive: ClassVar[str]
    keepalive_every: float  # seconds of idleness before a keep-alive is sent
    # Asks the service to finish what it has, send its final message and close;
    # None where every flush brings a completion event and nothing else is needed.
    end_of_input: ClassVar[str | None] = None
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
    def segment_messages(self, text: str) -> list[str]:
        """One segment's text as messages, ending with a flush."""

    @abc.abstractmethod
    def sent_characters(self, text: str) -> int:
        """Characters of text a segment's messages carry: what the service
        counts, and so what budgets count."""

    @abc.abstractmethod
    def finals(self, text: str) -> int:
        """How many completion events a segment's messages bring (one per
        flush), or 0 when the service has none and alignment covering the
        text ends a segment."""

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
    def classify_handshake(cls, status: int) -> ServiceError:
        """The error an HTTP status refusing the WebSocket handshake means."""
        return frames.handshake_error(status, key_name=cls.key_name, settings_hint=cls.settings_hint)

    def segment_key(self, text: str) -> str:
        """What decides a segment's sound: who makes it (the service, whatever
        its region; any other host, such as a rehearsal on loopback, is
        itself, whatever its port), the URL's path and query (voice, model,
        format, settings) and the opening messages; never the key."""
        url = urlsplit(self.url)
        host = url.hostname or ""
        maker = self.domain if host == self.domain or host.endswith("." + self.domain) else host
        basis = json.dumps([self.name, maker, url.path, url.query, self.opening, text])
        return hashlib.sha256(basis.encode()).hexdigest()
