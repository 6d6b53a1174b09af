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
from narrator.protocol.elevenlabs import MP3_FORMATS
from narrator.runner import PROVIDERS, NarrateOptions, narrate_file
from narrator.server.app import CloudProfile, EmbeddedServer
from narrator.server.faults import parse_faults

log = logging.getLogger("narrator")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="narrator: %(message)s", stream=sys.stderr)
    logging.getLogger("websockets").setLevel(logging.WARNING)  # its per-connection lines are noise here
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except NarratorError as exc:
        click.echo(f"narrator: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("narrator: interrupted; finished segments were not joined", err=True)
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
              help="local: the embedded engine, started here. elevenlabs: the cloud service (ELEVENLABS_API_KEY).")
@click.option("--voice", help="Voice id (an espeak-ng voice such as en-gb for local).")
@click.option("--model", help="Model id, e.g. eleven_multilingual_v2.")
@click.option("--endpoint", help="ws:// or wss:// base URL of the service (default wss://api.elevenlabs.io).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="Sessions at once.")
@click.option("--format", "output_format", type=click.Choice(MP3_FORMATS), default="mp3_44100_128", show_default=True,
              help="The service's output_format.")
@click.option("--no-titles", is_flag=True, help="Do not speak chapter titles.")
@click.option("--timeout", "stall_timeout", type=click.FloatRange(1, 600), default=30.0, show_default=True,
              help="Seconds without a message before a stream counts as stalled and is retried.")
def narrate(inputs, out_dir, provider, voice, model, endpoint, concurrency, output_format, no_titles, stall_timeout) -> None:
    """Narrate INPUT documents (.txt, .md) into OUT/STEM.mp3, .srt and .vtt."""
    options = NarrateOptions(out_dir, provider, voice, model, endpoint, concurrency, output_format,
                             speak_titles=not no_titles, stall_timeout=stall_timeout)
    failures: list[NarratorError] = []
    for path in inputs:
        try:
            result = narrate_file(path, options)
        except NarratorError as exc:
            if len(inputs) == 1:
                raise
            click.echo(f"narrator: error: {exc}", err=True)
            failures.append(exc)
            continue
        click.echo(
            f"{result.mp3}: {result.audio_seconds / 60:.1f} min, {result.segments} segments, "
            f"{result.cues} cues, {result.characters_sent} characters sent, {result.retries} retries, "
            f"{result.wall_seconds:.1f} s"
        )
        if result.estimated_chapters:
            click.echo(f"  captions estimated (no timing from the service) in: {', '.join(result.estimated_chapters)}")
    if failures:
        sys.exit(failures[0].exit_code)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0 picks a free port.")
@click.option("--api-key", envvar="NARRATOR_SERVE_API_KEY", help="Require this key (or set NARRATOR_SERVE_API_KEY).")
@click.option("--ttfb-ms", type=click.IntRange(0, 60000), default=0, help="Pretend: time to first byte of each stream.")
@click.option("--speed", type=click.FloatRange(0), default=0.0, help="Pretend: audio seconds generated per second (0: as fast as it goes).")
@click.option("--capacity", type=click.IntRange(0), default=0, help="Pretend: generations at once; others wait (0: no limit).")
@click.option("--faults", help="Misbehave on purpose, e.g. drop=0.1,close1011=0.05,http429=0.2,stall=0.05,garbage=0.05,seed=7.")
@click.option("--certfile", type=click.Path(exists=True, dir_okay=False), help="Serve wss:// with this certificate (PEM).")
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False), help="The certificate's private key (PEM).")
def serve(host, port, api_key, ttfb_ms, speed, capacity, faults, certfile, keyfile) -> None:
    """Serve the ElevenLabs stream-input protocol through the embedded engine.

    Prints `listening on URL` when ready, and one JSON line of statistics on exit."""
    context = None
    if certfile:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile, keyfile)
    server = EmbeddedServer(host, port, api_key=api_key, profile=CloudProfile(ttfb_ms, speed, capacity),
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
