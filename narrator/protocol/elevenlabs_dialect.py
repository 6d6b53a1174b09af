"""How one segment travels over ElevenLabs, without I/O.

On `multi-stream-input` (the default) a segment is one context: its
settings, its text with a flush, then `close_context`; the service's
`isFinal` for that context is the segment's end. Nothing depends on which
characters the alignment covers, and audio of other contexts sharing the
connection is told apart by its context id.

On `stream-input` no message ends a flush, and no count of aligned
characters can say when a flush's audio is complete: a service may leave
characters out of its alignment, and audio may follow the last aligned
letter (the pause after "!!!"). So each segment has a connection of its
own: its text, then the end of input, and the final message the service
sends before it closes ends the segment. Nothing can hang and nothing late
can reach another segment, at the cost of a connection per segment.
"""

from __future__ import annotations

from narrator.protocol import elevenlabs as codec
from narrator.protocol.events import AudioChunk, Dialect, Exchange, Final

MAX_CONTEXTS = 5  # the service's limit per connection


class FinalExchange(Exchange):
    """Its messages, all at once; the final message of its stream ends it."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__()
        self._messages = messages

    def start(self) -> list[str]:
        return self._messages

    def receive(self, event: AudioChunk | Final) -> list[str]:
        if isinstance(event, Final):
            self.done = True
        else:
            self.chunks.append(event)
        return []


class ContextExchange(FinalExchange):
    """A segment in a context of its own, ended by that context's isFinal."""

    def __init__(self, settings: codec.StreamSettings, text: str, context: str) -> None:
        super().__init__([codec.init_message(settings, context),
                          codec.text_message(text, flush=True, context=context),
                          codec.close_context(context)])
        self.context = context


class FenceExchange(FinalExchange):
    """A segment on stream-input, on a connection of its own: its text with a
    flush, then the end of input; the stream's final message ends it."""

    def __init__(self, text: str) -> None:
        super().__init__([codec.text_message(text, flush=True), codec.END_OF_INPUT])
        self.reusable = False  # the end of input ends the connection too


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
        # A context is opened with its segment and closed with it, and a stream-input connection
        # ends with its segment: between segments there is nothing to keep alive.
        self.keepalive = None
        self.keepalive_every = settings.inactivity_timeout / 2

    def sound(self) -> tuple[str, tuple[str, ...]]:
        return self._sound  # both transports make the same sound: they share finished segments

    def exchange(self, text: str, context: str | None) -> Exchange:
        if self.transport == codec.MULTI_CONTEXT:
            return ContextExchange(self._settings, text, context or "0")
        return FenceExchange(text)

    def sent_characters(self, text: str) -> int:
        return len(codec.spaced(text))


def dialect(endpoint: str, settings: codec.StreamSettings, api_key: str | None,
            transport: str = codec.MULTI_CONTEXT) -> ElevenLabsDialect:
    return ElevenLabsDialect(endpoint, settings, api_key, transport)
