"""The command line. It catches only narrator's own errors: one line, a
documented exit code (errors.ExitCode), never a traceback for those."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import sys
from pathlib import Path

import click

from narrator import __version__
from narrator.errors import ExitCode, NarratorError
from narrator.keys import RedactingFilter, redact
from narrator.protocol.elevenlabs import MP3_FORMATS, REGIONS, TEXT_NORMALIZATION, StreamSettings, VoiceSettings
from narrator.protocol.sarvam import SarvamSettings
from narrator.runner import PROVIDERS, NarrateOptions, narrate_file
from narrator.server.app import CloudProfile, EmbeddedServer
from narrator.server.faults import parse_faults

log = logging.getLogger("narrator")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="narrator: %(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    logging.getLogger("websockets").setLevel(logging.WARNING)  # its per-connection lines are noise here
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except NarratorError as exc:
        click.echo(f"narrator: error: {redact(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("narrator: interrupted; finished segments are kept: run the same command again to go on", err=True)
        sys.exit(ExitCode.INTERRUPTED)


@click.group()
@click.version_option(__version__, prog_name="narrator")
def cli() -> None:
    """Narrate documents into audiobooks with synced captions."""


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("out"), show_default=True,
              help="Folder for BOOK.mp3, BOOK.srt and BOOK.vtt.")
@click.option("--provider", type=click.Choice(PROVIDERS), default="local", show_default=True,
              help="local: the embedded engine, started here. elevenlabs (ELEVENLABS_API_KEY) or sarvam "
                   "(SARVAM_API_KEY): the cloud services.")
@click.option("--voice", help="Voice id (an espeak-ng voice such as en-gb for local; the speaker for sarvam).")
@click.option("--model", help="Model id, e.g. eleven_multilingual_v2 or bulbul:v2.")
@click.option("--endpoint", help="ws:// or wss:// base URL of the service (default wss://api.elevenlabs.io, "
                                 "wss://api.sarvam.ai).")
@click.option("--region", type=click.Choice(tuple(REGIONS)), help="Data-residency endpoint, instead of --endpoint.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="Sessions at once.")
@click.option("--format", "output_format", type=click.Choice(MP3_FORMATS),
              help="ElevenLabs' output_format (default mp3_44100_128).")
@click.option("--no-titles", is_flag=True, help="Do not speak chapter titles.")
@click.option("--timeout", "stall_timeout", type=click.FloatRange(1, 600), default=30.0, show_default=True,
              help="Seconds without a message before a stream counts as stalled and is retried.")
# What the service is asked for. Ranges are checked by the codec's validate(), not by
# click, so a value out of range is one line that gives the range, exit 3.
@click.option("--language", "language_code", help="The language to speak: ISO 639-1 for ElevenLabs (en, de, hi), "
                                                   "BCP-47 for sarvam (en-IN, hi-IN; default en-IN).")
@click.option("--seed", type=int, help="0-4294967295: best-effort repeatable audio for the same text and settings.")
@click.option("--text-normalization", "apply_text_normalization", type=click.Choice(TEXT_NORMALIZATION),
              help="Spell out numbers, dates and abbreviations (auto: the service decides).")
@click.option("--ssml/--no-ssml", "enable_ssml_parsing", default=None,
              help="Read SSML tags in the text (needed for phoneme dictionaries).")
@click.option("--pronunciation-dictionary", "dictionaries", multiple=True, metavar="ID[:VERSION]",
              help="Apply this pronunciation dictionary (latest version if none given); repeat for up to 3.")
@click.option("--stability", type=float, help="0-1: lower is more expressive, higher more even.")
@click.option("--similarity-boost", type=float, help="0-1: how closely to keep to the original voice.")
@click.option("--style", type=float, help="0-1: style exaggeration (slower to generate).")
@click.option("--speaker-boost/--no-speaker-boost", default=None, help="Boost likeness to the original speaker.")
@click.option("--speed", type=float, help="0.7-1.2: speaking rate, 1 is the voice's own.")
@click.option("--chunk-schedule", metavar="N,N,...", help="Characters buffered before each generation, 50-500 each "
              "(default 120,160,250,290).")
@click.option("--inactivity-timeout", type=int, help="1-180: seconds the service keeps an idle connection (default 20).")
# Sarvam's own settings.
@click.option("--pace", type=float, help="sarvam: speaking rate, 0.3-3.0 (bulbul:v2) or 0.5-2.0 (v3, v4-flash).")
@click.option("--pitch", type=float, help="sarvam: -0.75-0.75 (bulbul:v2 only).")
@click.option("--loudness", type=float, help="sarvam: 0.3-3.0 (bulbul:v2 only).")
@click.option("--sample-rate", type=int, help="sarvam: 8000, 16000, 22050 (default) or 24000 Hz.")
@click.option("--bitrate", help="sarvam: 32k, 64k, 96k, 128k (default) or 192k.")
@click.option("--preprocessing/--no-preprocessing", default=None, help="sarvam: normalise numbers, dates and English words.")
def narrate(inputs, out_dir, provider, voice, model, endpoint, region, concurrency, output_format, no_titles,
            stall_timeout, pace, pitch, loudness, sample_rate, bitrate, preprocessing, **service) -> None:
    """Narrate INPUT documents (.txt, .md) into OUT/STEM.mp3, .srt and .vtt."""
    sarvam = {"pace": pace, "pitch": pitch, "loudness": loudness, "sample_rate": sample_rate, "bitrate": bitrate,
              "enable_preprocessing": preprocessing}
    if provider == "sarvam":  # --language names Sarvam's language_code, not ElevenLabs' one
        sarvam["language_code"] = service.pop("language_code")
    options = NarrateOptions(out_dir, provider, voice, model, endpoint, concurrency, output_format,
                             speak_titles=not no_titles, stall_timeout=stall_timeout, region=region,
                             stream=_stream_settings(**service),
                             sarvam_settings=SarvamSettings(**{k: v for k, v in sarvam.items() if v is not None}))
    failures: list[NarratorError] = []
    for path in inputs:
        try:
            result = narrate_file(path, options)
        except NarratorError as exc:
            if len(inputs) == 1:
                raise
            click.echo(f"narrator: error: {redact(str(exc))}", err=True)
            failures.append(exc)
            continue
        click.echo(_summary(result))
    if failures:
        sys.exit(failures[0].exit_code)


def _summary(result) -> str:
    lines = [
        f"{result.mp3}: {result.audio_seconds / 60:.1f} min, {result.segments} segments, {result.cues} cues, "
        f"{result.characters_sent:,} characters sent for {result.book_characters:,} (waste {result.waste:.2f}), "
        f"{result.retries} retries, {result.wall_seconds:.1f} s"
    ]
    if result.reused_segments:
        lines.append(f"  {result.reused_segments} segments were finished by an earlier run and not sent again")
    lines.append(f"  {result.concurrency}")
    if result.short_segments:
        lines.append("  audio still short after a second request in segments: "
                     + ", ".join(str(i + 1) for i in result.short_segments))
    if result.estimated_chapters:
        lines.append(f"  captions estimated (no timing from the service) in: {', '.join(result.estimated_chapters)}")
    return "\n".join(lines)


def _stream_settings(*, stability, similarity_boost, style, speaker_boost, speed, chunk_schedule, dictionaries,
                     **query) -> StreamSettings:
    """The service's settings as typed; StreamSettings' defaults for what was not given.
    `query` holds the options named as the URL's query parameters."""
    given = {name: value for name, value in query.items() if value is not None}
    if chunk_schedule is not None:
        given["chunk_length_schedule"] = _numbers("--chunk-schedule", chunk_schedule)
    return StreamSettings(
        voice_settings=VoiceSettings(stability, similarity_boost, style, speaker_boost, speed),
        pronunciation_dictionary_locators=tuple(_locator(value) for value in dictionaries),
        **given,
    )


def _numbers(option: str, text: str) -> tuple[int, ...]:
    # Whether it is a list of numbers is click's question (exit 2); their range is validate()'s.
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of whole numbers", param_hint=option) from None


def _locator(value: str) -> tuple[str, str | None]:
    dictionary, _, version = value.partition(":")
    return dictionary, version or None


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0 picks a free port.")
@click.option("--api-key", envvar="NARRATOR_SERVE_API_KEY", help="Require this key (or set NARRATOR_SERVE_API_KEY).")
@click.option("--ttfb-ms", type=click.IntRange(0, 60000), default=0, help="Pretend: time to first byte of each stream.")
@click.option("--speed", type=click.FloatRange(0), default=0.0, help="Pretend: audio seconds generated per second (0: as fast as it goes).")
@click.option("--capacity", type=click.IntRange(0), default=0, help="Pretend: generations at once; others wait (0: no limit).")
@click.option("--over-capacity", type=click.Choice(["queue", "refuse"]), default="queue", show_default=True,
              help="Pretend: over --capacity, wait, or refuse with too_many_concurrent_requests as plans do.")
@click.option("--faults", help="Misbehave on purpose, e.g. drop=0.1,close1011=0.05,http429=0.2,stall=0.05,garbage=0.05,"
                               "nullalign=0.2,quota=20000,seed=7 (see the README for every kind).")
@click.option("--certfile", type=click.Path(exists=True, dir_okay=False), help="Serve wss:// with this certificate (PEM).")
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False), help="The certificate's private key (PEM).")
def serve(host, port, api_key, ttfb_ms, speed, capacity, over_capacity, faults, certfile, keyfile) -> None:
    """Serve ElevenLabs stream-input and Sarvam streaming TTS through the embedded engine.

    Prints `listening on URL` when ready, and one JSON line of statistics on exit."""
    context = None
    if certfile:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile, keyfile)
    server = EmbeddedServer(host, port, api_key=api_key, profile=CloudProfile(ttfb_ms, speed, capacity, over_capacity == "refuse"),
                            faults=parse_faults(faults), ssl=context)
    asyncio.run(_serve_until_stopped(server))
    click.echo(server.stats.line())


async def _serve_until_stopped(server: EmbeddedServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    click.echo(f"listening on {server.url}", err=True)
    await stop.wait()
    await server.close()
