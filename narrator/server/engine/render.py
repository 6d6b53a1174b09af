"""Text in, one service-shaped audio chunk out: MP3 bytes and its alignment."""

from __future__ import annotations

from dataclasses import dataclass

from narrator.audio import encode as mp3encode
from narrator.errors import ConfigError
from narrator.protocol.elevenlabs import MP3_FORMAT
from narrator.server.engine.alignment import WireAlignment, char_alignment
from narrator.server.engine.espeak import Espeak
from narrator.text.plain import without_tags

BASE_WORDS_PER_MINUTE = 175


@dataclass(frozen=True)
class Rendered:
    mp3: bytes
    alignment: WireAlignment | None  # None: audio sent without its timings (the nullalign fault)
    audio_seconds: float


def parse_output_format(output_format: str) -> tuple[int, int]:
    match = MP3_FORMAT.match(output_format)
    if not match:
        raise ConfigError(
            f"output_format {output_format!r} is not served by the embedded engine; "
            "use mp3_22050_32 or mp3_44100_32|64|96|128|192"
        )
    return int(match.group(1)), int(match.group(2))


def render(text: str, *, voice: str, output_format: str, speed: float = 1.0, ssml: bool = False) -> Rendered:
    """Blocking: run it in a thread. At an ElevenLabs `output_format`; with
    `ssml`, tags are read, not spoken: the words inside them are (espeak-ng
    cannot say a <phoneme>'s IPA, so it says the grapheme), and the
    alignment covers what was spoken."""
    rate, kbps = parse_output_format(output_format)
    if ssml:
        text = without_tags(text)
    return render_mp3(text, voice=voice, sample_rate=rate, kbps=kbps, speed=speed)


def render_mp3(text: str, *, voice: str, sample_rate: int, kbps: int, speed: float = 1.0) -> Rendered:
    """Blocking: run it in a thread. Alignment is relative to this chunk's own
    decoded audio, which starts after the codec delay. LAME lowers a bitrate
    its MPEG version cannot carry at the sample rate (192k at 22050 Hz, say)."""
    words_per_minute = round(BASE_WORDS_PER_MINUTE * speed)
    speech = Espeak.shared().synthesize(text, voice=voice, words_per_minute=words_per_minute)
    mp3 = mp3encode.encode(speech.pcm, speech.sample_rate, sample_rate, kbps)
    delay_ms = mp3encode.codec_delay_ms(sample_rate)
    alignment = char_alignment(text, speech.word_starts, speech.duration_ms, delay_ms)
    return Rendered(mp3, alignment, speech.duration_ms / 1000)
