"""The server side of ElevenLabs `multi-stream-input` (multi-context), without I/O.

Several contexts share one connection. Each is judged as a stream-input
connection is (a `StreamInput` of its own: its first message's key and
settings, its buffer and chunk schedule), except that empty text keeps a
context alive instead of ending anything. Messages in, actions out: a
context heard from (its inactivity clock starts again), text to generate in
a context, a context to finish (its isFinal after its audio), the whole
connection to finish, or an error to send before closing 1008.

A context counts against the limit of five from its first message until
its isFinal went out, which only the I/O knows: it says so (`finished`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from narrator.protocol import frames
from narrator.protocol.elevenlabs_server import NOT_A_TEXT_MESSAGE, Generate, Reject, StreamInput, invalid

MAX_CONTEXTS = 5
# The context of messages that name none ("If not provided, a default context
# will be used"); the service does not document its id, so this one is ours.
DEFAULT_CONTEXT = "default"
TOO_MANY_CONTEXTS = Reject(
    "max_active_conversations",
    f"Maximum simultaneous contexts per WebSocket connection exceeded ({MAX_CONTEXTS}). "
    "Please close an existing context before opening a new one.",
)


@dataclass(frozen=True)
class Heard:
    """A message for this open context came: its inactivity clock starts again."""

    context_id: str


@dataclass(frozen=True)
class InContext(Generate):
    """Text to generate in a context, at the speaking rate its first message set
    (carried along: the context may be closed before the text is generated)."""

    context_id: str
    speed: float = 1.0


@dataclass(frozen=True)
class CloseContext:
    """The context is finished: once its audio went out, its isFinal."""

    context_id: str


@dataclass(frozen=True)
class CloseSocket:
    """Every context is finished: once every isFinal went out, close 1000."""


Action = Heard | InContext | CloseContext | CloseSocket | Reject


class MultiStreamInput:
    """One connection's contexts: those open, and those closed whose isFinal is still owed."""

    def __init__(self, *, required_key: str | None = None, header_keys: tuple[str, ...] = ()) -> None:
        self._required_key = required_key
        self._header_keys = header_keys
        self._open: dict[str, StreamInput] = {}
        self._closing: Counter[str] = Counter()
        self.ended = False  # close_socket came: nothing more is read

    @property
    def open_contexts(self) -> tuple[str, ...]:
        """The contexts open and not closing, in the order they were opened."""
        return tuple(self._open)

    def finished(self, context_id: str) -> None:
        """A closed context's isFinal went out: it no longer counts."""
        self._closing[context_id] -= 1
        if self._closing[context_id] <= 0:
            del self._closing[context_id]

    def receive(self, raw: str | bytes) -> list[Action]:
        message = frames.json_object(raw)
        if message is None:
            return [NOT_A_TEXT_MESSAGE]
        if message.get("close_socket") is True:  # "The text and contextId fields are ignored."
            return self._close_socket()
        context_id = _context_id(message)
        if isinstance(context_id, Reject):
            return [context_id]
        if "close_context" in message:
            # "If false, the context will remain open and the text will be ignored."
            return self._close(context_id) if message["close_context"] is True else []
        return self._text(context_id, message)

    def _text(self, context_id: str, message: dict[str, object]) -> list[Action]:
        if message.get("text") is None and message.get("flush") is True:
            message = {**message, "text": ""}  # a flush may come without text
        state = self._open.get(context_id)
        if state is None:
            if len(self._open) + sum(self._closing.values()) >= MAX_CONTEXTS:
                return [TOO_MANY_CONTEXTS]
            state = StreamInput(required_key=self._required_key, header_keys=self._header_keys,
                                ends_on_empty=False)
        actions = state.receive_message(message)
        rejected = [a for a in actions if isinstance(a, Reject)]
        if rejected:
            return [rejected[0]]
        self._open[context_id] = state  # opened by its first message, once that was accepted
        generations = [a for a in actions if isinstance(a, Generate)]
        return [Heard(context_id), *_in_context(context_id, state, generations)]

    def _close(self, context_id: str) -> list[Action]:
        state = self._open.pop(context_id, None)
        if state is None:
            return []  # never opened, or already closing: nothing more to finish
        self._closing[context_id] += 1
        return [*_in_context(context_id, state, state.flush()), CloseContext(context_id)]

    def _close_socket(self) -> list[Action]:
        self.ended = True
        closing = [action for context_id in list(self._open) for action in self._close(context_id)]
        return [*closing, CloseSocket()]


def _context_id(message: dict[str, object]) -> str | Reject:
    # The SDK's own message type spells it contextId when it serialises by alias.
    value = message.get("context_id", message.get("contextId"))
    if value is None:
        return DEFAULT_CONTEXT
    return value if isinstance(value, str) else invalid(f"context_id must be a string (got {value!r})")


def _in_context(context_id: str, state: StreamInput, generations: list[Generate]) -> list[Action]:
    return [InContext(g.text, g.starts_stream, context_id, state.speed) for g in generations]
