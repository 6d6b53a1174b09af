"""What every service's codec speaks to the session: the events a frame
means, and the `Dialect` a session needs to drive one service.

A session knows nothing of any one service: it sends the dialect's opening
messages, the messages for a segment, a keep-alive while idle, and turns
each received frame into an event with the dialect's parser.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from narrator.errors import ServiceError


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


Event = AudioChunk | Final | None


@dataclass(frozen=True)
class Dialect:
    """One service's protocol as the session needs it. Built by each codec's
    `dialect()`; pure values and functions, no I/O."""

    name: str
    url: str
    headers: dict[str, str] = field(repr=False)  # carries the key: never in a repr or a log
    opening: tuple[str, ...]  # sent once, right after connecting
    segment_messages: Callable[[str], list[str]]  # one segment's text, ending with a flush
    keepalive: str
    end_of_input: str  # asks the service to finish what it has, send its final message and close
    keepalive_every: float  # seconds of idleness before a keep-alive is sent
    parse_frame: Callable[[str | bytes], Event]  # raises a classified ServiceError
    classify_close: Callable[[int | None, str], ServiceError]
    classify_handshake: Callable[[int], ServiceError]
    # How many completion events a segment's messages bring (one per flush), or 0
    # when the service has none and alignment covering the text ends a segment.
    finals: Callable[[str], int]
    domain: str  # the service's own hosts (its regions among them) all end in this
    # Characters of text a segment's messages carry: what the service counts, and so what budgets count.
    sent_characters: Callable[[str], int] = len

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
