"""The client codec: what goes on the wire and what frames mean."""

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from narrator.errors import ConfigError, ErrorKind, ServiceError, is_retryable
from narrator.protocol import elevenlabs as codec
from narrator.protocol.elevenlabs_dialect import ContextExchange, ElevenLabsDialect, FenceExchange, dialect


def test_url_carries_voice_model_format_and_timeout():
    settings = codec.StreamSettings(voice="abc", model="eleven_flash_v2_5", output_format="mp3_22050_32")
    url = codec.stream_url("wss://api.eu.residency.elevenlabs.io/", settings)
    assert url.startswith("wss://api.eu.residency.elevenlabs.io/v1/text-to-speech/abc/stream-input?")
    assert "model_id=eleven_flash_v2_5" in url and "output_format=mp3_22050_32" in url
    assert "inactivity_timeout=20" in url


@pytest.mark.parametrize("endpoint", ["https://api.elevenlabs.io", "api.elevenlabs.io", "ws://"])
def test_url_rejects_non_websocket_endpoints(endpoint):
    with pytest.raises(ConfigError, match="ws:// or wss://"):
        codec.stream_url(endpoint, codec.StreamSettings())


def query(settings):
    return {k: v[-1] for k, v in parse_qs(urlsplit(codec.stream_url("wss://h", settings)).query).items()}


def test_url_sends_only_the_options_that_are_set():
    assert query(codec.StreamSettings()) == {"output_format": "mp3_44100_128", "inactivity_timeout": "20"}


@pytest.mark.parametrize("field, value, sent", [
    ("model", "eleven_flash_v2_5", ("model_id", "eleven_flash_v2_5")),
    ("output_format", "mp3_22050_32", ("output_format", "mp3_22050_32")),
    ("inactivity_timeout", 180, ("inactivity_timeout", "180")),
    ("language_code", "hi", ("language_code", "hi")),
    ("seed", 4294967295, ("seed", "4294967295")),
    ("seed", 0, ("seed", "0")),
    ("apply_text_normalization", "off", ("apply_text_normalization", "off")),
    ("enable_ssml_parsing", True, ("enable_ssml_parsing", "true")),
    ("enable_ssml_parsing", False, ("enable_ssml_parsing", "false")),
])
def test_url_carries_each_option(field, value, sent):
    name, text = sent
    assert query(codec.StreamSettings(**{field: value}))[name] == text


def test_existing_query_order_is_kept_so_finished_work_is_still_found():
    url = codec.stream_url("wss://h", codec.StreamSettings(model="m", seed=7))
    assert url.endswith("?output_format=mp3_44100_128&inactivity_timeout=20&model_id=m&seed=7")


def test_regions_are_websocket_bases():
    assert set(codec.REGIONS) == {"us", "eu", "in", "sg"}
    for base in codec.REGIONS.values():
        assert codec.stream_url(base, codec.StreamSettings()).startswith(base + "/v1/text-to-speech/")


def first_message(**settings):
    return json.loads(codec.init_message(codec.StreamSettings(**settings)))


def test_first_message_sends_only_the_voice_settings_that_are_set():
    assert "voice_settings" not in first_message()
    assert "pronunciation_dictionary_locators" not in first_message()
    every = codec.VoiceSettings(stability=0.3, similarity_boost=0.9, style=0.0, use_speaker_boost=False,
                                speed=1.2)
    assert first_message(voice_settings=every)["voice_settings"] == {
        "stability": 0.3, "similarity_boost": 0.9, "style": 0.0, "use_speaker_boost": False, "speed": 1.2}
    assert first_message(voice_settings=codec.VoiceSettings(speed=0.7))["voice_settings"] == {"speed": 0.7}


def test_first_message_carries_the_schedule_and_dictionaries():
    first = first_message(chunk_length_schedule=(50, 500),
                          pronunciation_dictionary_locators=(("d1", "v1"), ("d2", None)))
    assert first["generation_config"] == {"chunk_length_schedule": [50, 500]}
    assert first["pronunciation_dictionary_locators"] == [
        {"pronunciation_dictionary_id": "d1", "version_id": "v1"}, {"pronunciation_dictionary_id": "d2"}]


def test_key_goes_in_the_header_never_in_messages():
    settings = codec.StreamSettings(voice_settings=codec.VoiceSettings(stability=0.5))
    assert codec.auth_headers("sk-secret") == {"xi-api-key": "sk-secret"}
    first = json.loads(codec.init_message(settings))
    assert first["text"] == " " and first["voice_settings"] == {"stability": 0.5}
    assert first["generation_config"] == {"chunk_length_schedule": [120, 160, 250, 290]}
    assert "sk-secret" not in codec.init_message(settings)


def test_text_messages_end_with_a_space_and_flush():
    assert json.loads(codec.text_message("Hello.", flush=True)) == {"text": "Hello. ", "flush": True}
    assert json.loads(codec.text_message("Hi ", flush=False)) == {"text": "Hi ", "flush": False}
    assert json.loads(codec.KEEPALIVE) == {"text": " "} and json.loads(codec.END_OF_INPUT) == {"text": ""}


def test_audio_frame_with_alignment():
    frame = json.dumps({
        "audio": base64.b64encode(b"\xff\xfbxyz").decode(), "isFinal": None,
        "alignment": {"chars": ["H", "i"], "charStartTimesMs": [0, 104], "charDurationsMs": [104, 360]},
    })
    event = codec.parse_frame(frame)
    assert event.audio == b"\xff\xfbxyz"
    assert event.alignment == codec.Alignment(("H", "i"), (0, 104), (104, 360))


def test_old_spelling_of_durations_and_null_alignment():
    old = {"audio": "AAAA", "alignment": {"chars": ["a"], "charStartTimesMs": [5], "charsDurationsMs": [7]}}
    assert codec.parse_frame(json.dumps(old)).alignment.durations_ms == (7,)
    assert codec.parse_frame(json.dumps({"audio": "AAAA", "alignment": None})).alignment is None


def test_final_and_empty_frames():
    assert isinstance(codec.parse_frame('{"audio": null, "isFinal": true}'), codec.Final)
    assert codec.parse_frame('{"audio": null, "isFinal": null}') is None


@pytest.mark.parametrize("raw", ["\x00\x9f<html>502", "[1, 2]", '{"audio": "***not base64***"}',
                                 '{"audio": "AAAA", "alignment": {"chars": ["a"]}}',
                                 '{"audio": "AAAA", "alignment": {"chars": [7], "charStartTimesMs": [0]}}'])
def test_garbled_frames_are_protocol_errors_and_retried(raw):
    with pytest.raises(ServiceError) as caught:
        codec.parse_frame(raw)
    assert caught.value.kind is ErrorKind.PROTOCOL and is_retryable(caught.value)


@pytest.mark.parametrize("error, message, kind", [
    ("invalid_api_key", "Invalid API key", ErrorKind.AUTH),
    ("quota_exceeded", "This request exceeds your quota of 10000.", ErrorKind.QUOTA),
    ("", "This request exceeds your quota. You have 12 credits remaining", ErrorKind.QUOTA),
    ("system_busy", "busy", ErrorKind.RATE_LIMIT),
    ("too_many_concurrent_requests", "", ErrorKind.RATE_LIMIT),
    ("invalid_input_message", "Invalid message", ErrorKind.INPUT),
    ("", "We are sorry, something went wrong. You are not charged for this request.", ErrorKind.TRANSIENT),
    # The code decides: a quota message may name the key, an auth message may mention quota.
    ("quota_exceeded", "This API key has exceeded its quota of 10000 credits.", ErrorKind.QUOTA),
    (None, "This API key has exceeded its quota.", ErrorKind.QUOTA),
    ("invalid_api_key", "A key without quota", ErrorKind.AUTH),
    ("max_active_conversations", "Maximum simultaneous contexts per WebSocket connection exceeded (5).",
     ErrorKind.RATE_LIMIT),
    ("voice_not_found", "A voice with the voice_id x was not found.", ErrorKind.INPUT),
    # A code this table does not know leaves the words to decide.
    ("some_new_code", "Invalid API key", ErrorKind.AUTH),
    ("some_new_code", "hiccup", ErrorKind.TRANSIENT),
])
def test_error_frames_are_classified(error, message, kind):
    with pytest.raises(ServiceError) as caught:
        codec.parse_frame(json.dumps({"message": message, "error": error, "code": 1008}))
    assert caught.value.kind is kind


def test_auth_and_quota_stop_while_drops_retry():
    auth = ElevenLabsDialect.classify_close(1008, "Invalid API key")
    assert auth.kind is ErrorKind.AUTH and not is_retryable(auth) and auth.exit_code == 6
    assert ElevenLabsDialect.classify_close(1011, "internal").kind is ErrorKind.TRANSIENT
    assert ElevenLabsDialect.classify_close(None, "").kind is ErrorKind.TRANSIENT
    assert ElevenLabsDialect.classify_close(1009, "").kind is ErrorKind.PROTOCOL
    idle = "Have not received a new text input within the timeout"
    assert ElevenLabsDialect.classify_close(1008, idle).kind is ErrorKind.TRANSIENT


@pytest.mark.parametrize("status, kind", [(401, ErrorKind.AUTH), (403, ErrorKind.AUTH),
                                          (429, ErrorKind.RATE_LIMIT), (503, ErrorKind.TRANSIENT),
                                          (404, ErrorKind.INPUT)])
def test_handshake_statuses(status, kind):
    assert ElevenLabsDialect.classify_handshake(status).kind is kind


def test_a_refused_handshakes_code_outranks_its_status():
    body = b'{"detail": {"status": "quota_exceeded", "message": "This API key has exceeded its quota"}}'
    refused = ElevenLabsDialect.classify_handshake(401, body)
    assert refused.kind is ErrorKind.QUOTA and refused.exit_code == 7
    assert ElevenLabsDialect.classify_handshake(429, b"not json").kind is ErrorKind.RATE_LIMIT


def test_frames_of_a_context_in_both_spellings():
    audio = base64.b64encode(b"\xff\xfbxyz").decode()
    assert codec.parse_frame(json.dumps({"audio": audio, "contextId": "c1"})).context == "c1"
    assert codec.parse_frame(json.dumps({"audio": audio, "context_id": "c2"})).context == "c2"
    assert codec.parse_frame('{"isFinal": true, "contextId": "c1"}') == codec.Final("c1")
    assert codec.parse_frame('{"is_final": true, "context_id": "c2"}') == codec.Final("c2")
    assert codec.parse_frame('{"is_final": false, "contextId": "c2"}') is None


def test_a_segment_in_its_own_context_ends_at_that_contexts_final_only():
    settings = codec.StreamSettings(voice_settings=codec.VoiceSettings(speed=1.1))
    exchange = ContextExchange(settings, "Hello there.", "7")
    opening, text, close = (json.loads(m) for m in exchange.start())
    assert opening["context_id"] == "7" and opening["text"] == " "
    assert opening["voice_settings"] == {"speed": 1.1}
    assert text == {"text": "Hello there. ", "context_id": "7", "flush": True}
    assert close == {"context_id": "7", "close_context": True}
    chunk = codec.AudioChunk(b"\xff\xfb", None, "7")
    assert exchange.receive(chunk) == [] and not exchange.done
    assert exchange.receive(codec.Final("7")) == [] and exchange.done and exchange.reusable
    assert exchange.chunks == [chunk]


def test_on_stream_input_a_segment_ends_its_input_and_its_final_ends_it():
    exchange = FenceExchange("Well... \"no\" she said (quietly)!!! \u2764\ufe0f")
    text, end = exchange.start()
    assert json.loads(text)["flush"] is True and end == codec.END_OF_INPUT and not exchange.reusable
    chunk = codec.AudioChunk(b"\xff\xfb", codec.Alignment(("W",), (0,), (1,)))
    exchange.receive(chunk)
    assert not exchange.done  # however much of the text the alignment covered, only the final ends it
    exchange.receive(codec.Final())
    assert exchange.done and exchange.chunks == [chunk]


def test_both_transports_make_the_same_sound_and_share_finished_segments():
    settings = codec.StreamSettings(model="m")
    multi = dialect("wss://api.elevenlabs.io", settings, "k")
    single = dialect("wss://api.elevenlabs.io", settings, "k", codec.STREAM_INPUT)
    assert "/multi-stream-input?" in multi.url and "/stream-input?" in single.url
    assert "sync_alignment=true" in multi.url and multi.opening == () and multi.max_contexts == 5
    assert multi.segment_key("Text.") == single.segment_key("Text.")
    assert multi.keepalive is None and single.keepalive is None  # nothing stays open between segments


def voice(**values):
    return codec.StreamSettings(voice_settings=codec.VoiceSettings(**values))


# Each bound, just inside and just outside; the message names the option as typed and the range.
INSIDE = [
    codec.StreamSettings(), voice(stability=0), voice(stability=1), voice(similarity_boost=0),
    voice(similarity_boost=1), voice(style=0), voice(style=1.0), voice(speed=0.7), voice(speed=1.2),
    voice(use_speaker_boost=True),
    codec.StreamSettings(seed=0), codec.StreamSettings(seed=4294967295),
    codec.StreamSettings(inactivity_timeout=1), codec.StreamSettings(inactivity_timeout=180),
    codec.StreamSettings(chunk_length_schedule=(50,)),
    codec.StreamSettings(chunk_length_schedule=(500, 50, 120)),
    codec.StreamSettings(language_code="en"), codec.StreamSettings(language_code="fil"),
    codec.StreamSettings(apply_text_normalization="auto"),
    codec.StreamSettings(apply_text_normalization="off"),
    codec.StreamSettings(enable_ssml_parsing=False),
    codec.StreamSettings(pronunciation_dictionary_locators=(("a", "1"), ("b", None), ("c", "x.2"))),
    codec.StreamSettings(voice="JBFqnCBsd6RMkjVDRZzb", model="eleven_multilingual_v2",
                         output_format="mp3_22050_32"),
]

OUTSIDE = [
    (voice(stability=-0.01), "--stability -0.01", "from 0 to 1"),
    (voice(stability=1.01), "--stability 1.01", "from 0 to 1"),
    (voice(similarity_boost=-1), "--similarity-boost -1", "from 0 to 1"),
    (voice(similarity_boost=1.5), "--similarity-boost 1.5", "from 0 to 1"),
    (voice(style=-0.1), "--style -0.1", "from 0 to 1"),
    (voice(style=2), "--style 2", "from 0 to 1"),
    (voice(speed=0.69), "--speed 0.69", "from 0.7 to 1.2"),
    (voice(speed=1.21), "--speed 1.21", "from 0.7 to 1.2"),
    (voice(speed=float("nan")), "--speed nan", "from 0.7 to 1.2"),
    (codec.StreamSettings(seed=-1), "--seed -1", "from 0 to 4294967295"),
    (codec.StreamSettings(seed=4294967296), "--seed 4294967296", "from 0 to 4294967295"),
    (codec.StreamSettings(seed=1.5), "--seed 1.5", "whole number"),
    (codec.StreamSettings(inactivity_timeout=0), "--inactivity-timeout 0", "from 1 to 180 seconds"),
    (codec.StreamSettings(inactivity_timeout=181), "--inactivity-timeout 181", "from 1 to 180 seconds"),
    (codec.StreamSettings(chunk_length_schedule=(49,)), "--chunk-schedule 49", "from 50 to 500"),
    (codec.StreamSettings(chunk_length_schedule=(120, 501)), "--chunk-schedule 120,501", "from 50 to 500"),
    (codec.StreamSettings(chunk_length_schedule=()), "--chunk-schedule (empty)", "from 50 to 500"),
    (codec.StreamSettings(language_code="english"), "--language 'english'", "ISO 639-1"),
    (codec.StreamSettings(language_code="EN"), "--language 'EN'", "ISO 639-1"),
    (codec.StreamSettings(apply_text_normalization="always"), "--text-normalization 'always'",
     "auto, on, off"),
    (codec.StreamSettings(output_format="pcm_16000"), "--format 'pcm_16000'", "mp3_22050_32"),
    (codec.StreamSettings(voice="../admin"), "--voice '../admin'", "letters, digits"),
    (codec.StreamSettings(voice=""), "--voice ''", "letters, digits"),
    (codec.StreamSettings(model="a model"), "--model 'a model'", "letters, digits"),
    (codec.StreamSettings(pronunciation_dictionary_locators=(("", None),)), "--pronunciation-dictionary ''",
     "ID[:VERSION]"),
    (codec.StreamSettings(pronunciation_dictionary_locators=(("a", "b:c"),)),
     "--pronunciation-dictionary 'a:b:c'", "ID[:VERSION]"),
    (codec.StreamSettings(pronunciation_dictionary_locators=(("a", None),) * 4),
     "--pronunciation-dictionary is given 4", "at most 3"),
]


@pytest.mark.parametrize("settings", INSIDE)
def test_validate_accepts_every_bound(settings):
    assert codec.validate(settings) is settings


@pytest.mark.parametrize("settings, names, says", OUTSIDE)
def test_validate_names_the_option_the_value_and_the_range(settings, names, says):
    with pytest.raises(ConfigError) as caught:
        codec.validate(settings)
    message = str(caught.value)
    assert message.startswith(names) and says in message and "\n" not in message
