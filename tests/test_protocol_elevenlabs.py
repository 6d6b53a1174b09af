"""The client codec: what goes on the wire and what frames mean."""

import base64
import json

import pytest

from narrator.errors import ConfigError, ErrorKind, ServiceError, is_retryable
from narrator.protocol import elevenlabs as codec


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


def test_key_goes_in_the_header_never_in_messages():
    settings = codec.StreamSettings(voice_settings={"stability": 0.5})
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
                                 '{"audio": "AAAA", "alignment": {"chars": ["a"]}}'])
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
])
def test_error_frames_are_classified(error, message, kind):
    with pytest.raises(ServiceError) as caught:
        codec.parse_frame(json.dumps({"message": message, "error": error, "code": 1008}))
    assert caught.value.kind is kind


def test_auth_and_quota_stop_while_drops_retry():
    auth = codec.classify_close(1008, "Invalid API key")
    assert auth.kind is ErrorKind.AUTH and not is_retryable(auth) and auth.exit_code == 6
    assert codec.classify_close(1011, "internal").kind is ErrorKind.TRANSIENT
    assert codec.classify_close(None, "").kind is ErrorKind.TRANSIENT
    assert codec.classify_close(1009, "").kind is ErrorKind.PROTOCOL
    assert codec.classify_close(1008, "Have not received a new text input within the timeout").kind is ErrorKind.TRANSIENT


@pytest.mark.parametrize("status, kind", [(401, ErrorKind.AUTH), (403, ErrorKind.AUTH), (429, ErrorKind.RATE_LIMIT),
                                          (503, ErrorKind.TRANSIENT), (404, ErrorKind.INPUT)])
def test_handshake_statuses(status, kind):
    assert codec.classify_handshake(status).kind is kind
