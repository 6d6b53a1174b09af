"""The Sarvam codec, driven with plain strings: settings, messages, text
splitting, frames and error kinds."""

from __future__ import annotations

import base64
import json
import random
from dataclasses import replace

import pytest
import regex

from narrator.errors import ConfigError, ErrorKind, ServiceError
from narrator.protocol import sarvam
from narrator.protocol.events import AudioChunk, Final
from narrator.protocol.sarvam import (
    FlushExchange,
    SarvamDialect,
    SarvamSettings,
    classify_error,
    parse_frame,
    split_text,
)


def test_settings_default_to_the_sdks_defaults():
    assert SarvamSettings() == SarvamSettings(
        speaker="anushka", language_code="en-IN", model="bulbul:v2", pace=1.0, pitch=0.0, loudness=1.0,
        sample_rate=22050, bitrate="128k", min_buffer_size=50, max_chunk_length=150,
        enable_preprocessing=False,
    )
    sarvam.validate(SarvamSettings())


@pytest.mark.parametrize("change, words", [
    ({"model": "bulbul:v9"}, "model 'bulbul:v9' is not one of bulbul:v2, bulbul:v3, bulbul:v4-flash"),
    ({"language_code": "en-US"}, "language_code 'en-US' is not one of bn-IN, en-IN,"),
    ({"speaker": "Anushka"}, "speaker 'Anushka' is not a speaker name: give one in lowercase"),
    ({"speaker": ""}, "speaker '' is not a speaker name"),
    ({"pace": 3.5}, "pace 3.5 is out of range for bulbul:v2: give a number from 0.3 to 3.0"),
    ({"pace": 2.5, "model": "bulbul:v3"},
     "pace 2.5 is out of range for bulbul:v3: give a number from 0.5 to 2.0"),
    ({"pace": 0.4, "model": "bulbul:v4-flash"}, "pace 0.4 is out of range for bulbul:v4-flash"),
    ({"pitch": 0.8}, "pitch 0.8 is out of range: give a number from -0.75 to 0.75"),
    ({"loudness": 0.1}, "loudness 0.1 is out of range: give a number from 0.3 to 3.0"),
    ({"sample_rate": 44100}, "sample_rate 44100 is not one of 8000, 16000, 22050, 24000"),
    ({"sample_rate": 22050.0}, "sample_rate 22050.0 is not one of"),
    ({"bitrate": "128"}, "bitrate '128' is not one of 32k, 64k, 96k, 128k, 192k"),
    ({"min_buffer_size": 10}, "min_buffer_size 10 is out of range: give a whole number from 30 to 200"),
    ({"max_chunk_length": 501}, "max_chunk_length 501 is out of range: give a whole number from 50 to 500"),
    ({"max_chunk_length": 150.5}, "max_chunk_length 150.5 is out of range"),
    ({"pace": True}, "pace True is out of range"),
    ({"pace": float("nan")}, "pace nan is out of range"),
    ({"enable_preprocessing": "yes"}, "enable_preprocessing 'yes' is not true or false"),
])
def test_a_bad_setting_is_one_line_naming_it_its_value_and_the_range(change, words):
    with pytest.raises(ConfigError) as caught:
        sarvam.validate(replace(SarvamSettings(), **change))
    message = str(caught.value)
    assert message.startswith(words) and "\n" not in message


def test_later_models_ignore_pitch_and_loudness_so_they_are_not_judged():
    sarvam.validate(SarvamSettings(model="bulbul:v3", pitch=2.0, loudness=9.0))
    sarvam.validate(SarvamSettings(model="bulbul:v3", pace=2.0))


def test_url_and_headers():
    assert sarvam.stream_url("wss://api.sarvam.ai/", SarvamSettings(model="bulbul:v3")) == (
        "wss://api.sarvam.ai/text-to-speech/ws?model=bulbul%3Av3&send_completion_event=true")
    assert sarvam.auth_headers("k") == {"api-subscription-key": "k"} and sarvam.auth_headers(None) == {}
    for endpoint in ("https://api.sarvam.ai", "api.sarvam.ai", "ws://"):
        with pytest.raises(ConfigError, match="is not a ws:// or wss:// URL"):
            sarvam.stream_url(endpoint, SarvamSettings())


def test_config_message_sends_every_setting_with_the_documented_names():
    settings = SarvamSettings(speaker="abhilash", language_code="hi-IN", pace=1.5, pitch=0.25, loudness=2.0,
                              sample_rate=16000, bitrate="64k", min_buffer_size=30, max_chunk_length=200,
                              enable_preprocessing=True)
    assert json.loads(sarvam.config_message(settings)) == {"type": "config", "data": {
        "language_code": "hi-IN", "speaker": "abhilash", "pitch": 0.25, "pace": 1.5, "loudness": 2.0,
        "speech_sample_rate": 16000, "enable_preprocessing": True, "output_audio_codec": "mp3",
        "output_audio_bitrate": "64k", "min_buffer_size": 30, "max_chunk_length": 200,
    }}
    assert json.loads(sarvam.PING) == {"type": "ping"} and json.loads(sarvam.FLUSH) == {"type": "flush"}


def kinds(messages):
    return [json.loads(m)["type"] for m in messages]


def test_a_paragraph_is_its_pieces_then_a_flush():
    text = "A sentence that ends. " * 50
    messages = [json.loads(m) for m in FlushExchange(text).start()]
    assert messages[-1] == {"type": "flush"}
    pieces = [m["data"]["text"] for m in messages[:-1]]
    assert all(m["type"] == "text" for m in messages[:-1]) and len(pieces) == 3
    assert "".join(pieces) == text.strip() and all(len(p) <= 500 for p in pieces)
    blank = FlushExchange("   ")
    assert blank.done and blank.start() == []


def test_one_flush_is_outstanding_and_each_completion_event_sends_the_next_paragraph():
    exchange = FlushExchange("First paragraph.\n\nSecond one.\n\nThird.")
    assert kinds(exchange.start()) == ["text", "flush"]
    audio = AudioChunk(b"\xff\xfb", None)
    assert exchange.receive(audio) == [] and not exchange.done
    assert [json.loads(m)["data"]["text"] for m in exchange.receive(Final())[:-1]] == ["Second one."]
    assert kinds(exchange.receive(Final())) == ["text", "flush"] and not exchange.done
    assert exchange.receive(Final()) == [] and exchange.done
    # Each event marks where its paragraph's audio ends, for captions estimated without timings.
    assert exchange.chunks == [audio, Final(), Final(), Final()]


def test_the_dialect():
    dialect = sarvam.dialect("ws://127.0.0.1:9", SarvamSettings(), "secret-key")
    assert dialect.name == "sarvam" and isinstance(dialect.exchange("One.\n\nTwo.", None), FlushExchange) \
        and dialect.keepalive == sarvam.PING and dialect.max_contexts == 1
    assert dialect.keepalive_every == 20 and dialect.opening == (sarvam.config_message(SarvamSettings()),)
    assert dialect.headers == {"api-subscription-key": "secret-key"} and "secret-key" not in repr(dialect)
    with pytest.raises(ConfigError, match="^pace"):
        sarvam.dialect("ws://127.0.0.1:9", SarvamSettings(pace=9), None)


# -- split_text -------------------------------------------------------------

_GRAPHEME = regex.compile(r"\X")
# The pieces of tricky text: combining marks, ZWJ emoji, flags, Devanagari
# conjuncts with a virama, a danda, CJK without spaces, CRLF, quotes.
_ATOMS = [
    "word", "the", "a", "x", " ", " ", " ", "  ", "\n", "\r\n", "\t", ". ", "! ", "? ", "… ", '." ', ".", ",",
    "e\u0301", "n\u0303\u0323", "\u0915\u094d\u0937", "\u0924\u094d\u0930\u093f",
    "\u0928\u092e\u0938\u094d\u0924\u0947", "\u0939\u0948\u0964", "\u0964 ",
    "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466", "\U0001F1EE\U0001F1F3",
    "\U0001F3F3\ufe0f\u200d\U0001F308", "\u65e5\u672c\u8a9e", "\u3002", "3.14", "\u00a0",
]


def _tricky(rng: random.Random) -> str:
    return "".join(rng.choice(_ATOMS) for _ in range(rng.randint(0, 400)))


def _boundaries(text: str) -> set[int]:
    return {0} | {m.end() for m in _GRAPHEME.finditer(text)}


def _check_pieces(text: str, pieces: list[str], target: int, limit: int) -> None:
    joined, stripped = "".join(pieces), text.strip()
    # Nothing lost, doubled or glued: the same words with the same whitespace
    # between them, but for runs longer than a piece, shortened to one character.
    assert joined.split() == text.split()
    original, kept = regex.split(r"(\s+)", stripped), regex.split(r"(\s+)", joined)
    assert len(kept) == len(original)
    assert all(k == o or (len(o) > target and k == o[0]) for k, o in zip(kept, original))
    assert not any(piece[0].isspace() for piece in pieces)
    boundaries, at = _boundaries(joined), 0
    for piece in pieces:
        # Longer than a piece only where one cluster (and the space after it) is.
        clusters = _GRAPHEME.findall(piece.rstrip())
        assert len(piece) <= target or (len(clusters) == 1 and len(piece) <= limit), (len(piece), target)
        at += len(piece)
        assert at in boundaries  # never inside a grapheme cluster


def test_split_text_properties_on_tricky_strings():
    rng = random.Random(20240611)
    for _ in range(400):
        text = _tricky(rng)
        target = rng.randint(8, 80)
        limit = target * rng.randint(3, 5)  # room for a cluster and the whitespace after it
        _check_pieces(text, split_text(text, target, limit), target, limit)


def test_split_text_at_the_services_sizes():
    rng = random.Random(7)
    for _ in range(20):
        text = " ".join(_tricky(rng) for _ in range(12))
        _check_pieces(text, split_text(text), 500, 2500)


def test_split_text_prefers_sentence_ends_then_spaces():
    text = "One two three. Four five six seven eight"
    assert split_text(text, target=20) == ["One two three. ", "Four five six seven ", "eight"]
    assert split_text("Short enough.") == ["Short enough."]
    assert split_text("  \n ") == []


def test_a_danda_ends_a_sentence_without_a_space():
    text = "\u092f\u0939 \u090f\u0915 \u0939\u0948\u0964\u0935\u0939 \u0926\u094b \u0939\u0948\u0964"
    assert split_text(text, target=12) == [text[:9], text[9:]]


def test_one_3000_character_word_is_cut_at_grapheme_boundaries():
    for word in ("a" * 3000, "e\u0301" * 1500, "\u0915\u094d\u0937" * 1000,
                 "\U0001F468\u200d\U0001F469\u200d\U0001F467" * 600):
        pieces = split_text(word)
        _check_pieces(word, pieces, 500, 2500)
        assert len(pieces) >= 6 and not any(piece.endswith(("\u094d", "\u200d")) for piece in pieces)


def test_a_cluster_longer_than_the_limit_is_cut_at_the_limit():
    zalgo = "x" + "\u0301" * 3000 + " tail"
    pieces = split_text(zalgo, target=500, limit=2500)
    assert "".join(pieces) == zalgo and max(map(len, pieces)) == 2500


def test_a_whitespace_run_longer_than_a_piece_is_shortened():
    assert split_text("before" + "\n" * 1200 + "after") == ["before\nafter"]
    assert split_text("before" + " " * 40 + "after", target=10) == ["before ", "after"]


def test_a_piece_never_starts_with_whitespace():
    """A danda ends a sentence with or without a space after it: either
    way the space stays on the left, and no piece is whitespace alone."""
    text = "\u0939\u0948\u0964 \u0939\u0948\u0964 \u0939\u0948\u0964 \u0939\u0948\u0964"
    for target in range(4, 12):
        pieces = split_text(text, target)
        assert "".join(pieces) == text and not any(p[0].isspace() for p in pieces), pieces


# -- frames -----------------------------------------------------------------

def _frame(kind: str, **data) -> str:
    return json.dumps({"type": kind, "data": data})


def test_audio_final_and_other_frames():
    audio = _frame("audio", content_type="audio/mp3", audio=base64.b64encode(b"\xff\xf3mp3").decode(),
                   request_id="r")
    assert parse_frame(audio) == AudioChunk(b"\xff\xf3mp3", None)
    assert parse_frame(audio.encode()) == AudioChunk(b"\xff\xf3mp3", None)
    assert parse_frame(_frame("event", event_type="final", message="done",
                              timestamp="2025-01-01T00:00:00Z")) == Final()
    assert parse_frame(_frame("event", event_type="started")) is None
    assert parse_frame(json.dumps({"type": "pong"})) is None


@pytest.mark.parametrize("raw, words", [
    ("<html>502 Bad Gateway</html>", "unparsable frame from the service: '<html>502 Bad Gateway</html>'"),
    (b"\x00\x9f<html>", "unparsable frame"),
    ("[1, 2]", "unexpected frame from the service: '[1, 2]'"),
    ('{"type": "audio", "data": "x"}', "unexpected frame"),
    (_frame("audio", content_type="audio/mp3"), "audio frame without audio"),
    (_frame("audio", audio="not base64!"), "audio that is not base64"),
])
def test_frames_that_break_the_protocol(raw, words):
    with pytest.raises(ServiceError) as caught:
        parse_frame(raw)
    assert caught.value.kind is ErrorKind.PROTOCOL and words in str(caught.value)


def test_the_preview_of_a_bad_frame_is_short():
    with pytest.raises(ServiceError) as caught:
        parse_frame("x" * 5000)
    assert len(str(caught.value)) < 120


@pytest.mark.parametrize("code, message, kind", [
    (401, "Unauthorized", ErrorKind.AUTH),
    (403, "Forbidden", ErrorKind.AUTH),
    (None, "Invalid API key", ErrorKind.AUTH),
    (400, "Invalid API subscription key", ErrorKind.INPUT),  # the code decides, whatever the words say
    (429, "This API key has exceeded its quota", ErrorKind.QUOTA),
    (None, "This API subscription key has exceeded its quota", ErrorKind.QUOTA),
    (401, "quota", ErrorKind.AUTH),
    (402, "Payment required", ErrorKind.QUOTA),
    (429, "You have exceeded your quota", ErrorKind.QUOTA),
    (429, "Insufficient credits for this request", ErrorKind.QUOTA),
    (None, "quota exhausted", ErrorKind.QUOTA),
    (429, "Too many requests", ErrorKind.RATE_LIMIT),
    (500, "rate limit reached", ErrorKind.TRANSIENT),
    ("429", "slow down", ErrorKind.RATE_LIMIT),
    (422, "Input parameters has to be a valid dictionary", ErrorKind.INPUT),
    (400, "text must be 1 to 2500 characters", ErrorKind.INPUT),
    (500, "Internal server error", ErrorKind.TRANSIENT),
    (503, "", ErrorKind.TRANSIENT),
    (None, "something went wrong", ErrorKind.TRANSIENT),
])
def test_error_frames_are_classified_by_code_and_words(code, message, kind):
    with pytest.raises(ServiceError) as caught:
        parse_frame(_frame("error", message=message, code=code, request_id="r"))
    assert caught.value.kind is kind
    assert caught.value.kind is classify_error(code, message).kind


def test_error_messages_say_what_to_do():
    assert str(classify_error(403, "Invalid API key")) == (
        "service error (auth): Invalid API key (code 403); check SARVAM_API_KEY")
    assert "add credits" in str(classify_error(429, "quota exceeded"))
    assert str(classify_error(None, "")) == "service error (transient): no message"


def test_closes_and_handshakes():
    assert SarvamDialect.classify_close(1008, "Invalid API subscription key").kind is ErrorKind.AUTH
    assert (SarvamDialect.classify_close(1008, "No message for 60 seconds: closing the idle connection").kind
            is ErrorKind.TRANSIENT)
    assert SarvamDialect.classify_close(1009, "").kind is ErrorKind.PROTOCOL
    assert SarvamDialect.classify_close(1011, "internal error").kind is ErrorKind.TRANSIENT
    assert SarvamDialect.classify_close(None, "").kind is ErrorKind.TRANSIENT
    refused = SarvamDialect.classify_handshake(401)
    assert refused.kind is ErrorKind.AUTH and "SARVAM_API_KEY" in str(refused)
    assert SarvamDialect.classify_handshake(403).kind is ErrorKind.AUTH
    assert SarvamDialect.classify_handshake(429).kind is ErrorKind.RATE_LIMIT
    assert SarvamDialect.classify_handshake(502).kind is ErrorKind.TRANSIENT
    assert SarvamDialect.classify_handshake(404).kind is ErrorKind.INPUT
