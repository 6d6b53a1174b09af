"""The embedded server's multi-context protocol state, driven with plain strings."""

import json

import pytest

from narrator.protocol.elevenlabs_multi_server import (
    DEFAULT_CONTEXT,
    CloseContext,
    CloseSocket,
    Heard,
    InContext,
    MultiStreamInput,
)
from narrator.protocol.elevenlabs_server import Reject

SCHEDULE = {"chunk_length_schedule": [120, 160, 250, 290]}


def send(state, **message):
    return state.receive(json.dumps(message))


def spoken(actions, context="c"):
    mine = [a for a in actions if isinstance(a, InContext) and a.context_id == context]
    return [(a.text, a.starts_stream) for a in mine]


def opened(*contexts, **first):
    state = MultiStreamInput()
    for context in contexts:
        opening = send(state, text=" ", context_id=context, generation_config=SCHEDULE, **first)
        assert opening == [Heard(context)]
    return state


def test_a_context_opens_buffers_flushes_and_closes_with_its_final():
    state = opened("c")
    assert state.open_contexts == ("c",)
    assert send(state, text="Short text ", context_id="c") == [Heard("c")]  # under the schedule: waits
    flushed = send(state, text="and more. ", context_id="c", flush=True)
    assert spoken(flushed) == [("Short text and more. ", True)]
    send(state, text="The rest ", context_id="c")
    actions = send(state, context_id="c", close_context=True)
    assert spoken(actions) == [("The rest ", True)] and actions[-1] == CloseContext("c")
    assert state.open_contexts == ()


def test_text_past_the_schedule_generates_without_a_flush():
    state = opened("c")
    long = "A sentence that runs on for a while. " * 6
    out = spoken(send(state, text=long, context_id="c"))
    assert out and out[0][1] and len(out[0][0]) >= 120


def test_empty_text_keeps_a_context_alive_and_ends_nothing():
    state = opened("c")
    send(state, text="Buffered ", context_id="c")
    assert send(state, text="", context_id="c") == [Heard("c")]
    assert state.open_contexts == ("c",) and not state.ended
    assert spoken(send(state, text="", context_id="c", flush=True)) == [("Buffered ", True)]


def test_a_flush_may_come_without_text():
    state = opened("c")
    send(state, text="Hello there ", context_id="c")
    assert spoken(send(state, context_id="c", flush=True)) == [("Hello there ", True)]


def test_contexts_are_independent():
    state = opened("a", "b")
    send(state, text="First context ", context_id="a")
    flushed = send(state, text="Second context ", context_id="b", flush=True)
    assert spoken(flushed, "b") == [("Second context ", True)] and spoken(flushed, "a") == []
    assert spoken(send(state, context_id="a", flush=True), "a") == [("First context ", True)]


def test_messages_without_a_context_use_the_default_one():
    state = MultiStreamInput()
    assert send(state, text=" ") == [Heard(DEFAULT_CONTEXT)]
    assert spoken(send(state, text="Hello ", flush=True), DEFAULT_CONTEXT) == [("Hello ", True)]
    assert send(state, close_context=True)[-1] == CloseContext(DEFAULT_CONTEXT)


def test_a_reused_id_is_a_new_unlinked_context():
    state = opened("c", voice_settings={"speed": 1.2})
    send(state, text="Left behind? ", context_id="c")
    send(state, context_id="c", close_context=True)
    # new settings are allowed: it is a first message again, and nothing of the old buffer is left
    assert send(state, text=" ", context_id="c", voice_settings={"speed": 0.8}) == [Heard("c")]
    (generation,) = [a for a in send(state, text="New ", context_id="c", flush=True)
                     if isinstance(a, InContext)]
    assert generation.text == "New " and generation.speed == 0.8


def test_settings_only_in_a_contexts_first_message():
    state = opened("c", voice_settings={"stability": 0.5})
    (reject,) = send(state, text="a ", context_id="c", voice_settings={"stability": 0.9})
    assert reject.error == "invalid_input_message" and "first message" in reject.message
    # another context's first message may carry its own
    assert send(state, text=" ", context_id="d", voice_settings={"stability": 0.9}) == [Heard("d")]


def test_closing_what_is_not_open_does_nothing():
    state = opened("c")
    assert send(state, context_id="other", close_context=True) == []
    send(state, context_id="c", close_context=True)
    assert send(state, context_id="c", close_context=True) == []
    # "If false, the context will remain open and the text will be ignored."
    state = opened("c")
    assert send(state, text="Ignored ", context_id="c", close_context=False) == []
    assert spoken(send(state, context_id="c", flush=True)) == []


def test_close_socket_finishes_every_context_then_the_connection():
    state = opened("a", "b")
    send(state, text="Rest of a ", context_id="a")
    actions = send(state, close_socket=True, context_id="ignored")
    assert spoken(actions, "a") == [("Rest of a ", True)]
    assert set(actions[-3:]) == {CloseContext("a"), CloseContext("b"), CloseSocket()}
    assert actions[-1] == CloseSocket() and state.ended and state.open_contexts == ()


def test_a_sixth_context_is_refused_until_an_isfinal_went_out():
    state = opened("1", "2", "3", "4", "5")
    (reject,) = send(state, text=" ", context_id="6")
    frame = {"message": "Maximum simultaneous contexts per WebSocket connection exceeded (5). "
                        "Please close an existing context before opening a new one.",
             "error": "max_active_conversations", "code": 1008}
    assert isinstance(reject, Reject) and json.loads(reject.frame()) == frame
    send(state, context_id="1", close_context=True)
    # closed, but its isFinal is still owed: it still counts
    assert send(state, text=" ", context_id="6")[0].error == "max_active_conversations"
    state.finished("1")
    assert send(state, text=" ", context_id="6") == [Heard("6")]


def test_keys_per_context_first_message():
    state = MultiStreamInput(required_key="k")
    assert send(state, text=" ", context_id="a", xi_api_key="k") == [Heard("a")]
    assert send(state, text="more ", context_id="a") == [Heard("a")]  # only the first message carries it
    assert send(state, text=" ", context_id="b", authorization="Bearer k") == [Heard("b")]
    (reject,) = send(state, text=" ", context_id="c", **{"xi-api-key": "wrong"})
    assert reject.error == "invalid_api_key"
    (reject,) = send(MultiStreamInput(required_key="k"), text=" ", context_id="a")
    assert reject.error == "invalid_api_key"
    header = MultiStreamInput(required_key="k", header_keys=("k",))
    assert send(header, text=" ", context_id="a") == [Heard("a")]


@pytest.mark.parametrize("raw", [
    "not json", "[]", '{"context_id": "c"}', '{"text": 5, "context_id": "c"}',
    '{"text": " ", "context_id": 7}',
    '{"text": " ", "context_id": "c", "generation_config": {"chunk_length_schedule": [10]}}',
])
def test_bad_messages_are_invalid_input(raw):
    (reject,) = MultiStreamInput().receive(raw)
    assert reject.error == "invalid_input_message"


def test_a_refused_first_message_opens_nothing():
    state = MultiStreamInput()
    send(state, text=" ", context_id="c", voice_settings={"speed": 9})
    assert state.open_contexts == ()
