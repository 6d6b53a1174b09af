"""The service options end to end: sent by the client, accepted and honoured
by the embedded server, heard in the book."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import miniaudio
import pytest

from narrator.protocol.elevenlabs import StreamSettings, VoiceSettings
from narrator.protocol.elevenlabs_server import check_query
from narrator.server.app import EmbeddedServer
from narrator.settings import NarrateOptions
from tests.helpers import generated_book, run, spoken_words, srt_words
from tests.narrating import narrate_book

BOOK = generated_book(6, chapters=1, seed=9)

EVERY_OPTION = StreamSettings(
    inactivity_timeout=30,
    language_code="en",
    seed=42,
    apply_text_normalization="on",
    enable_ssml_parsing=False,
    voice_settings=VoiceSettings(stability=0.4, similarity_boost=0.8, style=0.1, use_speaker_boost=True,
                                 speed=1.2),
    chunk_length_schedule=(50, 120, 250),
    pronunciation_dictionary_locators=(("dict1", "v1"), ("dict2", None)),
)


class RecordingServer(EmbeddedServer):
    """Keeps each connection's query as the server received it. (Until the
    server judges queries itself, the test does it with the same check.)"""

    def __init__(self):
        super().__init__(api_key="test-key-123")
        self.queries: list[dict[str, str]] = []

    def _check_request(self, connection, request):
        self.queries.append({k: v[-1] for k, v in parse_qs(urlsplit(request.path).query).items()})
        return super()._check_request(connection, request)


async def narrate(out, stream: StreamSettings):
    async with RecordingServer() as server:
        options = NarrateOptions(out, provider="elevenlabs", endpoint=server.url, voice="en-us",
                                 output_format="mp3_22050_32", concurrency=2, progress=False, stream=stream)
        result = await narrate_book(BOOK, "book", options)
    return result, server.queries


@pytest.fixture(scope="module")
def fast_and_slow(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ELEVENLABS_API_KEY", "test-key-123")
        fast = run(narrate(tmp_path_factory.mktemp("fast"), EVERY_OPTION))
        slow = run(narrate(tmp_path_factory.mktemp("slow"),
                           StreamSettings(voice_settings=VoiceSettings(speed=0.8))))
    return fast, slow


def seconds(result) -> float:
    return miniaudio.decode(result.mp3.read_bytes(), nchannels=1).duration


def test_speed_is_heard_in_the_book(fast_and_slow):
    (fast, _), (slow, _) = fast_and_slow
    # Speech at 1.2 is two thirds as long as at 0.8; pauses and padding scale less.
    assert seconds(fast) < 0.85 * seconds(slow)
    assert srt_words(fast.captions["srt"]) == srt_words(slow.captions["srt"]) == spoken_words(BOOK)


def test_query_options_arrive_and_are_accepted(fast_and_slow):
    (fast, queries), _ = fast_and_slow
    assert queries and fast.retries == 0
    for query in queries:
        assert query["language_code"] == "en" and query["seed"] == "42"
        assert query["apply_text_normalization"] == "on" and query["enable_ssml_parsing"] == "false"
        assert query["inactivity_timeout"] == "30"
        assert check_query(query) is None


def test_the_transport_is_judged_before_anything_connects(tmp_path):
    from narrator.errors import ConfigError
    from narrator.settings import build_options, service_dialect

    assert "/multi-stream-input?" in service_dialect(NarrateOptions(tmp_path, "elevenlabs")).url
    single = NarrateOptions(tmp_path, "elevenlabs", transport="stream-input")
    assert "/stream-input?" in service_dialect(single).url
    with pytest.raises(ConfigError, match="transport 'tcp' is not one of multi-context, stream-input"):
        build_options(tmp_path, {"transport": "tcp"}, progress=False, spell=str)
    with pytest.raises(ConfigError, match="transport"):
        build_options(tmp_path, {"provider": "sarvam", "transport": "stream-input"}, progress=False,
                      spell=str)
