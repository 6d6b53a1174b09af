"""The embedded server's protocol state, driven with plain strings."""

import json

import pytest

from narrator.protocol.elevenlabs_server import EndOfInput, Generate, Reject, StreamInput, check_query


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
    frame = {"message": "Invalid API key", "error": "invalid_api_key", "code": 1008}
    assert json.loads(reject.frame()) == frame


def test_key_in_header_first_message_or_authorization():
    assert send(StreamInput(required_key="k", header_keys=("k",)), text=" ") == []
    assert send(StreamInput(required_key="k"), text=" ", **{"xi-api-key": "k"}) == []
    assert send(StreamInput(required_key="k"), text=" ", authorization="Bearer k") == []


def test_a_second_header_key_never_rescues_a_wrong_first():
    (reject,) = send(StreamInput(required_key="k", header_keys=("wrong", "k")), text=" ")
    assert isinstance(reject, Reject) and reject.error == "invalid_api_key"


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


@pytest.mark.parametrize("query", [
    {},
    {"seed": "0", "apply_text_normalization": "auto", "enable_ssml_parsing": "false", "language_code": "en"},
    {"seed": "4294967295", "apply_text_normalization": "off", "enable_ssml_parsing": "True",
     "language_code": "FIL"},
    {"output_format": "mp3_8000_8", "inactivity_timeout": "999"},  # judged where they are used
    {"sync_alignment": "true", "auto_mode": "False"},
    {"sync_alignment": "TRUE", "auto_mode": "false"},
])
def test_good_query_parameters_pass(query):
    assert check_query(query) is None


@pytest.mark.parametrize("name, value, says", [
    ("seed", "-1", "between 0 and 4294967295"),
    ("seed", "4294967296", "between 0 and 4294967295"),
    ("seed", "1.5", "integer"),
    ("seed", "", "integer"),
    ("apply_text_normalization", "always", "auto, on, off"),
    ("enable_ssml_parsing", "yes", "true or false"),
    ("sync_alignment", "1", "true or false"),
    ("auto_mode", "", "true or false"),
    ("language_code", "english", "ISO 639-1"),
    ("language_code", "e1", "ISO 639-1"),
])
def test_bad_query_parameters_are_invalid_input(name, value, says):
    reject = check_query({"seed": "7", name: value})
    assert reject.error == "invalid_input_message"
    assert reject.message.startswith(name) and says in reject.message and repr(value) in reject.message


def first(**message):
    return send(StreamInput(), text=" ", **message)


def test_every_voice_setting_at_its_bounds_is_accepted():
    assert first(voice_settings={"stability": 0, "similarity_boost": 1, "style": 1.0, "speed": 0.7,
                                 "use_speaker_boost": True}) == []
    assert first(voice_settings={"stability": 1, "similarity_boost": 0.0, "style": 0, "speed": 1.2,
                                 "use_speaker_boost": None}) == []


@pytest.mark.parametrize("settings, field", [
    ({"stability": -0.1}, "voice_settings.stability"),
    ({"stability": 1.1}, "voice_settings.stability"),
    ({"similarity_boost": 2}, "voice_settings.similarity_boost"),
    ({"style": -1}, "voice_settings.style"),
    ({"speed": 0.5}, "voice_settings.speed"),
    ({"speed": 1.3}, "voice_settings.speed"),
    ({"speed": "fast"}, "voice_settings.speed"),
    ({"speed": True}, "voice_settings.speed"),
    ({"use_speaker_boost": "yes"}, "voice_settings.use_speaker_boost"),
    ("loud", "voice_settings"),
])
def test_voice_settings_out_of_range_are_rejected_naming_the_field(settings, field):
    (reject,) = first(voice_settings=settings)
    assert reject.error == "invalid_input_message" and reject.message.startswith(field + " must be")


def test_pronunciation_dictionaries_are_accepted_in_the_first_message():
    assert first(pronunciation_dictionary_locators=[
        {"pronunciation_dictionary_id": "d1", "version_id": "v1"},
        {"pronunciation_dictionary_id": "d2"},  # the latest version
    ]) == []


@pytest.mark.parametrize("locators", [
    {"pronunciation_dictionary_id": "d1", "version_id": "v1"},
    ["d1"],
    [{"version_id": "v1"}],
    [{"pronunciation_dictionary_id": 5, "version_id": "v1"}],
    [{"pronunciation_dictionary_id": "d1", "version_id": 2}],
    [{"pronunciation_dictionary_id": "d", "version_id": "v"}] * 4,
])
def test_malformed_pronunciation_dictionaries_are_rejected(locators):
    (reject,) = first(pronunciation_dictionary_locators=locators)
    assert reject.error == "invalid_input_message"
    assert reject.message.startswith("pronunciation_dictionary_locators")


def test_a_generation_never_ends_inside_an_ssml_tag():
    state = StreamInput()
    send(state, text=" ", generation_config={"chunk_length_schedule": [50]})
    tag = '<phoneme alphabet="ipa" ph="w\u026an">Nguyen</phoneme>'
    text = " ".join(f"Sentence {n} names {tag} once more." for n in range(8)) + " "
    pieces = texts(send(state, text=text, flush=True))
    assert "".join(pieces) == text and len(pieces) > 3
    assert all(piece.count("<") == piece.count(">") for piece in pieces)
