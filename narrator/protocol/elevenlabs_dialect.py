"""How one segment travels over ElevenLabs, without I/O.

On `multi-stream-input` (the default) a segment is one context: its
settings, its text with a flush, then `close_context`; the service's
`isFinal` for that context is the segment's end. Nothing depends on which
characters the alignment covers, and audio of other contexts sharing the
connection is told apart by its context id.

On `stream-input` no message ends a flush, so a segment ends when the
alignment has covered every letter and digit sent: what any service aligns
(spaces, punctuation, symbols, emoji, format characters and SSML tags may
be left out). Where that never happens (a service that leaves out letters,
or audio without alignment), a segment still cannot wait forever: after a
quiet spell, or at once for audio without alignment, the end of input is
sent, and the service's final message ends the segment and the connection.
"""

from __future__ import annotations

import re

from narrator.protocol import elevenlabs as codec
from narrator.protocol.events import AudioChunk, Dialect, Exchange, Final, letters_and_digits

# How long a stream-input segment whose alignment stopped short waits for more
# audio before it ends its input; a spell this long between chunks of one flush
# means the service has nothing more to send.
QUIET_SECONDS = 1.0
MAX_CONTEXTS = 5  # the service's limit per connection
_SSML_TAG = re.compile(r"<[^<>]*>")


class ContextExchange(Exchange):
    """A segment in a context of its own, ended by that context's isFinal."""

    def __init__(self, settings: codec.StreamSettings, text: str, context: str) -> None:
        super().__init__()
        self.context = context
        self._messages = [codec.init_message(settings, context),
                          codec.text_message(text, flush=True, context=context),
                          codec.close_context(context)]

    def start(self) -> list[str]:
        return self._messages

    def receive(self, event: AudioChunk | Final) -> list[str]:
        if isinstance(event, Final):
            self.done = True
        else:
            self.chunks.append(event)
        return []


class CoverageExchange(Exchange):
    """A segment on stream-input: done when the alignment covers its letters
    and digits, or, after the end of input was sent, at the final message."""

    quiet_after: float | None = QUIET_SECONDS

    def __init__(self, text: str, *, ssml: bool) -> None:
        super().__init__()
        self._message = codec.text_message(text, flush=True)
        self._expected = letters_and_digits(_SSML_TAG.sub(" ", text) if ssml else text)
        self._covered = 0
        self._fenced = False

    def start(self) -> list[str]:
        return [self._message]

    def receive(self, event: AudioChunk | Final) -> list[str]:
        if isinstance(event, Final):
            self.done = True  # the end of the stream: everything sent is spoken
            return []
        self.chunks.append(event)
        if event.alignment is None:
            # Nothing says when audio without alignment is complete: end the input.
            return self._fence()
        self._covered += letters_and_digits(event.alignment.chars)
        self.done = not self._fenced and self._covered >= self._expected
        return []

    def quiet(self) -> list[str]:
        # Before any audio the service may just be slow: only the stall timeout judges that.
        return self._fence() if self.chunks else []

    def _fence(self) -> list[str]:
        if self._fenced:
            return []
        self._fenced, self.reusable, self.quiet_after = True, False, None
        return [codec.END_OF_INPUT]


class ElevenLabsDialect(Dialect):
    """One voice and its settings, over `transport` (multi-context or stream-input)."""

    name = "elevenlabs"
    domain = "elevenlabs.io"
    parse_frame = staticmethod(codec.parse_frame)
    classify_error = staticmethod(codec.classify_error)
    key_name = "ELEVENLABS_API_KEY"
    settings_hint = "--endpoint, --voice and --model"

    def __init__(self, endpoint: str, settings: codec.StreamSettings, api_key: str | None,
                 transport: str = codec.MULTI_CONTEXT) -> None:
        multi = transport == codec.MULTI_CONTEXT
        # Timing data with every audio chunk: without it a chunk may come unaligned.
        url = codec.stream_url(endpoint, settings, transport) + "&sync_alignment=true"
        super().__init__(url, codec.auth_headers(api_key), () if multi else (codec.init_message(settings),))
        self._sound = codec.stream_url(endpoint, settings), (codec.init_message(settings),)
        self._settings = settings
        self.transport = transport
        self.max_contexts = MAX_CONTEXTS if multi else 1
        # A context is opened with its segment and closed with it: between segments there is
        # nothing to keep alive, so an idle multi-context connection is left to close.
        self.keepalive = None if multi else codec.KEEPALIVE
        self.keepalive_every = settings.inactivity_timeout / 2

    def sound(self) -> tuple[str, tuple[str, ...]]:
        return self._sound  # both transports make the same sound: they share finished segments

    def exchange(self, text: str, context: str | None) -> Exchange:
        if self.transport == codec.MULTI_CONTEXT:
            return ContextExchange(self._settings, text, context or "0")
        return CoverageExchange(text, ssml=bool(self._settings.enable_ssml_parsing))

    def sent_characters(self, text: str) -> int:
        return len(text if text.endswith(" ") else text + " ")  # as text_message sends it


def dialect(endpoint: str, settings: codec.StreamSettings, api_key: str | None,
            transport: str = codec.MULTI_CONTEXT) -> ElevenLabsDialect:
    return ElevenLabsDialect(endpoint, settings, api_key, transport)
