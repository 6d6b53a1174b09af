"""The embedded server's Sarvam protocol state, driven with plain strings."""

from __future__ import annotations

import json

import pytest

from narrator.protocol.sarvam import LANGUAGES, SarvamSettings
from narrator.protocol.sarvam_server import (
    NOT_A_DICTIONARY,
    Completed,
    Error,
    Generate,
    Query,
    SarvamWs,
    read_query,
)
from narrator.server.engine.espeak import Espeak
from narrator.server.sarvam_conversation import SARVAM_VOICES

CONFIG = {"language_code": "en-IN", "speaker": "anushka"}


def send(state: SarvamWs, kind: str, data=None) -> list:
    message = {"type": kind} if data is None else {"type": kind, "data": data}
    return state.receive(json.dumps(message))


def configured(model: str = "bulbul:v2", **config) -> SarvamWs:
    state = SarvamWs(model)
    assert send(state, "config", CONFIG | config) == []
    return state


def texts(actions) -> list[str]:
    return [a.text for a in actions if isinstance(a, Generate)]


def errors(actions) -> list[tuple[str, int]]:
    return [(a.message, a.code) for a in actions if isinstance(a, Error)]


def test_config_comes_first():
    state = SarvamWs()
    assert send(state, "ping") == []  # a keep-alive is fine before anything
    for kind, data in (("text", {"text": "Hello"}), ("flush", None)):
        said = "send a config message first: it sets the language and the voice"
        assert errors(send(state, kind, data)) == [(said, 422)]


@pytest.mark.parametrize("name", ["language_code", "target_language_code"])
def test_the_language_under_either_name(name):
    state = SarvamWs("bulbul:v2")
    assert send(state, "config", {name: "hi-IN", "speaker": "anushka"}) == []
    (generate, _) = send(state, "text", {"text": "नमस्ते दुनिया।"}) + send(state, "flush")
    assert generate.settings.language_code == "hi-IN"


def test_the_sdks_config_with_nulls_takes_the_defaults():
    """The SDK sends dict_id: null, and leaves out what it was not given."""
    state = SarvamWs("bulbul:v2")
    config = {"language_code": "en-IN", "speaker": "anushka", "pitch": None, "dict_id": None}
    assert send(state, "config", config) == []
    (generate, _) = send(state, "text", {"text": "Hello"}) + send(state, "flush")
    assert generate.settings == SarvamSettings()


@pytest.mark.parametrize("config, message", [
    ({"language_code": None}, "language_code is required: one of bn-IN, en-IN,"),
    ({"language_code": "fr-FR"}, "language_code 'fr-FR' is not one of"),
    ({"speech_sample_rate": 44100}, "speech_sample_rate 44100 is not one of 8000, 16000, 22050, 24000"),
    ({"output_audio_bitrate": "256k"}, "output_audio_bitrate '256k' is not one of 32k, 64k, 96k, 128k, 192k"),
    ({"pace": 5}, "pace 5 is out of range for bulbul:v2: give a number from 0.3 to 3.0"),
    ({"pace": "fast"}, "pace 'fast' is out of range"),
    ({"pitch": 1}, "pitch 1 is out of range: give a number from -0.75 to 0.75"),
    ({"speaker": "Anushka"}, "speaker 'Anushka' is not a speaker name"),
    ({"min_buffer_size": 5}, "min_buffer_size 5 is out of range: give a whole number from 30 to 200"),
    ({"max_chunk_length": 1000}, "max_chunk_length 1000 is out of range: give a whole number from 50 to 500"),
    ({"output_audio_codec": "wav"}, "output_audio_codec 'wav' is not served by the embedded engine: use mp3"),
    ({"output_audio_codec": "ogg"}, "output_audio_codec 'ogg' is not one of mp3, wav, aac,"),
    ({"model": "bulbul:v1"}, "model 'bulbul:v1' is not one of"),
])
def test_bad_config_values_get_a_422_saying_what_is_wrong(config, message):
    ((said, code),) = errors(send(SarvamWs("bulbul:v2"), "config", CONFIG | config))
    assert said.startswith(message) and code == 422


def test_the_pace_range_is_the_urls_models():
    assert errors(send(SarvamWs("bulbul:v3"), "config", CONFIG | {"pace": 2.5}))[0][0].startswith(
        "pace 2.5 is out of range for bulbul:v3: give a number from 0.5 to 2.0")
    assert send(SarvamWs("bulbul:v2"), "config", CONFIG | {"pace": 2.5}) == []
    # pitch and loudness are ignored by the later models, as the service does
    assert send(SarvamWs("bulbul:v3"), "config", CONFIG | {"pitch": 2.0}) == []


def test_a_bad_config_mid_stream_keeps_the_old_one_and_the_buffer():
    state = configured()
    send(state, "text", {"text": "Kept in the buffer"})
    assert errors(send(state, "config", CONFIG | {"pace": 99}))
    (generate, done) = send(state, "flush")
    assert generate.text == "Kept in the buffer" and generate.settings == SarvamSettings()
    assert done == Completed()


@pytest.mark.parametrize("text, ok", [
    ("", False), ("x", True), ("x" * 2500, True), ("x" * 2501, False), (None, False),
])
def test_text_is_1_to_2500_characters(text, ok):
    actions = send(configured(), "text", {"text": text})
    if ok:
        assert not errors(actions)
    else:
        ((message, code),) = errors(actions)
        assert message.startswith("text must be 1 to 2500 characters (got ") and code == 422


def test_text_waits_for_min_buffer_size_then_goes_by_sentences():
    state = configured()
    assert send(state, "text", {"text": "Short. "}) == []  # 7 of the 50 characters
    out = send(state, "text", {"text": "Then a sentence that passes the minimum. And a half"})
    assert texts(out) == ["Short. Then a sentence that passes the minimum. "]
    assert out[0].starts_stream
    assert send(state, "text", {"text": " that ends now. "}) == []  # 26 characters: under the minimum again
    out = send(state, "text", {"text": "The minimum is passed once more. Tail"})
    assert texts(out) == ["And a half that ends now. The minimum is passed once more. "]
    assert not out[0].starts_stream


def test_a_long_buffer_is_cut_within_max_chunk_length():
    state = configured(max_chunk_length=60)
    words = "word " * 100
    out = texts(send(state, "text", {"text": "One sentence. " * 10 + words}))
    assert all(len(t) <= 60 for t in out) and out[0].endswith(". ")
    out += texts(send(state, "flush"))
    assert " ".join(out).split() == ("One sentence. " * 10 + words).split()


def test_flush_generates_everything_then_completes_and_starts_a_new_stream():
    state = configured()
    first = send(state, "text", {"text": "Under fifty characters"}) + send(state, "flush")
    assert texts(first) == ["Under fifty characters"] and first[-1] == Completed() and first[0].starts_stream
    again = send(state, "text", {"text": "Again"}) + send(state, "flush")
    assert again[0].starts_stream
    assert send(state, "flush") == [Completed()]


def test_whitespace_alone_is_never_generated():
    state = configured()
    assert send(state, "text", {"text": "   "}) == [] and send(state, "flush") == [Completed()]


def test_a_new_config_generates_the_buffer_with_the_old_one_first():
    state = configured()
    send(state, "text", {"text": "Said in English"})
    (generate,) = send(state, "config", {"language_code": "hi-IN", "speaker": "anushka", "pace": 1.5})
    assert generate.text == "Said in English" and generate.settings.language_code == "en-IN"
    (after, done) = send(state, "text", {"text": "नमस्ते"}) + send(state, "flush")
    assert after.settings.language_code == "hi-IN" and after.settings.pace == 1.5 and after.starts_stream
    assert done == Completed()  # only a flush completes: the config's own generation did not


def test_unknown_and_unreadable_messages_get_a_422():
    state = configured()
    said = "unknown message type 'speak': send config, text, flush or ping"
    assert errors(send(state, "speak", {"text": "x"})) == [(said, 422)]
    for raw in ("not json", "[1, 2]", json.dumps({"type": "config", "data": [1]})):
        assert errors(state.receive(raw)) == [(NOT_A_DICTIONARY, 422)]
    assert send(state, "ping") == []


@pytest.mark.parametrize("query, expected", [
    ({}, Query("bulbul:v3", False)),
    ({"model": "bulbul:v2", "send_completion_event": "True"}, Query("bulbul:v2", True)),
    ({"model": "bulbul:v4-flash", "send_completion_event": "true"}, Query("bulbul:v4-flash", True)),
    ({"send_completion_event": "false"}, Query("bulbul:v3", False)),
    ({"model": "bulbul:v1"}, Error("model 'bulbul:v1' is not one of bulbul:v2, bulbul:v3, bulbul:v4-flash")),
])
def test_the_query(query, expected):
    assert read_query(query) == expected


def test_every_language_has_an_engine_voice():
    assert set(SARVAM_VOICES) == set(LANGUAGES)
    assert all(Espeak.shared().has_voice(voice) for voice in SARVAM_VOICES.values())
