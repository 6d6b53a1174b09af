"""The embedded server's protocol state, driven with plain strings."""

import json

from narrator.server.stream_input import EndOfInput, Generate, Reject, StreamInput


def send(state, **message):
    return state.receive(json.dumps(message))


def texts(actions):
    return [a.text for a in actions if isinstance(a, Generate)]


def test_text_waits_for_the_schedule_then_generates():
    state = StreamInput()
    assert send(state, text=" ", generation_config={"chunk_length_schedule": [50, 60]}) == []
    assert send(state, text="Short text. ") == []
    out = texts(send(state, text="And now a longer sentence that passes fifty characters. Tail "))
    assert out and out[0].startswith("Short text.") and out[0].rstrip().endswith("characters.")


def test_flush_generates_everything_and_restarts_the_schedule():
    long = "One sentence here. " * 30
    used = StreamInput()
    send(used, text=" ")
    first = texts(send(used, text=long, flush=True))
    assert "".join(first).split() == long.split() and len(first) > 1
    fresh = StreamInput()
    send(fresh, text=" ")
    send(fresh, text=" ", flush=True)  # clears the opening space, generates nothing
    # after a flush, the same text is cut exactly as on a fresh connection
    assert texts(send(used, text=long, flush=True)) == texts(send(fresh, text=long, flush=True))


def test_whitespace_alone_is_never_generated():
    state = StreamInput()
    send(state, text=" ")
    assert send(state, text=" ", flush=True) == []


def test_end_of_input_generates_the_rest_then_ends():
    state = StreamInput()
    send(state, text=" ")
    send(state, text="Hello there ")
    actions = send(state, text="")
    assert texts(actions) == ["Hello there "] and isinstance(actions[-1], EndOfInput) and state.ended


def test_wrong_key_is_rejected_with_the_documented_error():
    state = StreamInput(required_key="right")
    (reject,) = send(state, text=" ", xi_api_key="wrong")
    assert isinstance(reject, Reject)
    assert json.loads(reject.frame()) == {"message": "Invalid API key", "error": "invalid_api_key", "code": 1008}


def test_key_in_header_first_message_or_authorization():
    assert send(StreamInput(required_key="k", header_key="k"), text=" ") == []
    assert send(StreamInput(required_key="k"), text=" ", **{"xi-api-key": "k"}) == []
    assert send(StreamInput(required_key="k"), text=" ", authorization="Bearer k") == []


def test_unparsable_and_invalid_messages():
    for raw in ["not json", "[]", '{"flush": true}', '{"text": 5}']:
        (reject,) = StreamInput().receive(raw)
        assert reject.error == "invalid_input_message"
    (reject,) = send(StreamInput(), text=" ", generation_config={"chunk_length_schedule": [10]})
    assert "between 50 and 500" in reject.message


def test_voice_settings_cannot_change_after_the_first_message():
    state = StreamInput()
    send(state, text=" ", voice_settings={"stability": 0.5})
    assert send(state, text="a ", voice_settings={"stability": 0.5}) == []
    (reject,) = send(state, text="a ", voice_settings={"stability": 0.9})
    assert "first message" in reject.message


def test_sdk_first_message_with_null_voice_settings_is_accepted():
    state = StreamInput()
    assert send(state, text=" ", try_trigger_generation=True, voice_settings=None,
                generation_config={"chunk_length_schedule": [50]}) == []


def test_the_first_generation_after_a_flush_starts_a_stream():
    state = StreamInput()
    send(state, text=" ")
    first = send(state, text="Sentence one is here. " * 20, flush=True)
    second = send(state, text="Another sentence. " * 20, flush=True)
    assert [g.starts_stream for g in first] == [True] + [False] * (len(first) - 1)
    assert second[0].starts_stream and not any(g.starts_stream for g in second[1:])
