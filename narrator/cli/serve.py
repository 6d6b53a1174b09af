"""`narrator serve`: the embedded server in the foreground, its key taken without showing it."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

import click

from narrator.errors import ConfigError, os_errors
from narrator.keys import remember

if TYPE_CHECKING:
    from narrator.server.app import EmbeddedServer

log = logging.getLogger("narrator")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="0 picks a free port.")
@click.option("--api-key", envvar="NARRATOR_SERVE_API_KEY",
              help="Require this key. Better: set NARRATOR_SERVE_API_KEY or give --api-key-file, "
                   "since a command line is seen by every user of the machine (ps).")
@click.option("--api-key-file", type=click.Path(path_type=Path, dir_okay=False),
              help="Require the key on this file's first line.")
@click.option("--ttfb-ms", type=click.IntRange(0, 60000), default=0,
              help="Pretend: time to first byte of each stream.")
@click.option("--speed", type=click.FloatRange(0), default=0.0,
              help="Pretend: audio seconds generated per second (0: as fast as it goes).")
@click.option("--capacity", type=click.IntRange(0), default=0,
              help="Pretend: generations at once; others wait (0: no limit).")
@click.option("--over-capacity", type=click.Choice(["queue", "refuse"]), default="queue", show_default=True,
              help="Pretend: over --capacity, wait, or refuse with too_many_concurrent_requests as plans do.")
@click.option("--faults", help="Misbehave on purpose, e.g. drop=0.1,close1011=0.05,http429=0.2,stall=0.05,"
                               "garbage=0.05,nullalign=0.2,skipchars=0.2,coalesce=0.5,split=3,quota=20000,"
                               "seed=7 (docs/server.md lists every kind).")
@click.option("--certfile", type=click.Path(exists=True, dir_okay=False),
              help="Serve wss:// with this certificate (PEM).")
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False),
              help="The certificate's private key (PEM).")
@click.pass_context
def serve(ctx, host, port, api_key, api_key_file, ttfb_ms, speed, capacity, over_capacity, faults, certfile,
          keyfile) -> None:
    """Serve ElevenLabs multi-stream-input, stream-input and Sarvam streaming TTS through the embedded engine.

    Prints `listening on URL` when ready, and one JSON line of statistics on exit."""
    from narrator.server.app import (  # espeak-ng: only for the commands that serve
        CloudProfile,
        EmbeddedServer,
    )
    from narrator.server.faults import parse_faults

    api_key = _serve_key(ctx, api_key, api_key_file)
    context = None
    if certfile:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with os_errors(f"could not load the certificate {certfile} and its key {keyfile or certfile}"):
            context.load_cert_chain(certfile, keyfile)
    server = EmbeddedServer(host, port, api_key=api_key,
                            profile=CloudProfile(ttfb_ms, speed, capacity, over_capacity == "refuse"),
                            faults=parse_faults(faults), ssl=context)
    asyncio.run(_serve_until_stopped(server, f"{host}:{port}"))
    click.echo(server.stats.line())


def _serve_key(ctx: click.Context, given: str | None, path: Path | None) -> str | None:
    """The key `serve` requires: from --api-key-file, NARRATOR_SERVE_API_KEY or
    (with a warning: `ps` shows it) --api-key; remembered so no log shows it."""
    if path is not None and given is not None:
        raise click.UsageError("give the key one way: --api-key-file, or --api-key "
                               "(or NARRATOR_SERVE_API_KEY)")
    if ctx.get_parameter_source("api_key") is click.core.ParameterSource.COMMANDLINE:
        log.warning("--api-key puts the key in the process list for every user of this machine to see; "
                    "set NARRATOR_SERVE_API_KEY or give --api-key-file instead")
    if path is not None:
        with os_errors("could not read the key file"):
            raw = path.read_bytes()
        try:
            given = (raw.decode("utf-8").splitlines() or [""])[0].strip()
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: the key file is not UTF-8 text; "
                              "put the key on its first line") from None
        if not given:
            raise ConfigError(f"{path}: the key file is empty; put the key on its first line")
    if given:
        remember(given)
    return given or None


async def _serve_until_stopped(server: EmbeddedServer, where: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with os_errors(f"could not listen on {where}"):
        await server.start()
    click.echo(f"listening on {server.url}", err=True)
    await stop.wait()
    await server.close()
