"""The command line. It catches only narrator's own errors: one line, a
documented exit code (errors.ExitCode), never a traceback for those."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import ssl
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from narrator import __version__
from narrator.book.cache import SegmentCache
from narrator.captions.cues import CAPTION_STYLES
from narrator.captions.formats import CAPTION_FORMATS
from narrator.client.budget import Budget
from narrator.errors import ExitCode, LocalIOError, NarratorError, os_errors
from narrator.jobs.batch import job_status, run_jobs
from narrator.jobs.estimate import estimate, quota_warning
from narrator.jobs.jobfile import find_jobs, load_job
from narrator.jobs.pricing import load_prices
from narrator.keys import RedactingFilter, redact
from narrator.protocol.elevenlabs import MP3_FORMATS, REGIONS, TEXT_NORMALIZATION
from narrator.runner import narrate_file, read_and_plan
from narrator.settings import M4B, PROVIDERS, build_options
from narrator.text import read_document
from narrator.text.select import chapter_listing

if TYPE_CHECKING:
    from narrator.server.app import EmbeddedServer

log = logging.getLogger("narrator")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="narrator: %(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    logging.getLogger("websockets").setLevel(logging.WARNING)  # its per-connection lines are noise here
    try:
        cli.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
        click.echo("narrator: interrupted; finished segments are kept: "
                   "run the same command again to go on", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except OSError as exc:  # one a command did not place itself: the path and the cause all the same
        click.echo(f"narrator: error: {redact(str(LocalIOError.of(exc)))}", err=True)
        sys.exit(ExitCode.IO)
    except NarratorError as exc:
        click.echo(f"narrator: error: {redact(str(exc))}", err=True)
        sys.exit(exc.exit_code)


@click.group()
@click.version_option(__version__, prog_name="narrator")
def cli() -> None:
    """Narrate documents into audiobooks with synced captions."""


def settings_options(command):
    """The narration settings, named as in a job file (options.SETTINGS)."""
    for option in reversed(_SETTINGS_OPTIONS):
        command = option(command)
    return command


_SETTINGS_OPTIONS = [
    click.option("--provider", type=click.Choice(PROVIDERS), default="local", show_default=True,
                 help="local: the embedded engine, started here. elevenlabs (ELEVENLABS_API_KEY) or sarvam "
                      "(SARVAM_API_KEY): the cloud services."),
    click.option("--voice",
                 help="Voice id (an espeak-ng voice such as en-gb for local; the speaker for sarvam)."),
    click.option("--model", help="Model id, e.g. eleven_multilingual_v2 or bulbul:v2."),
    click.option("--endpoint", help="ws:// or wss:// base URL of the service (default "
                                    "wss://api.elevenlabs.io, wss://api.sarvam.ai)."),
    click.option("--region", type=click.Choice(tuple(REGIONS)),
                 help="Data-residency endpoint, instead of --endpoint."),
    click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True,
                 help="Sessions at once."),
    click.option("--format", type=click.Choice((*MP3_FORMATS, M4B)),
                 help="ElevenLabs' output_format (default mp3_44100_128), or m4b: also an M4B audiobook "
                      "with chapters and cover (needs ffmpeg)."),
    click.option("--titles/--no-titles", default=True, help="Speak chapter titles (default: yes)."),
    click.option("--timeout", type=click.FloatRange(1, 600), default=30.0, show_default=True,
                 help="Seconds without a message before a stream counts as stalled and is retried."),
    click.option("--captions", type=click.Choice(CAPTION_FORMATS), multiple=True,
                 help="Caption files to write; repeat for several (default: srt and vtt). vtt carries word "
                      "timestamps, ass is karaoke, json every word's times."),
    click.option("--caption-style", type=click.Choice(CAPTION_STYLES),
                 help="sentence: cues of up to two 42-character lines (default); word: one cue per word."),
    # The book files.
    click.option("--chapters", metavar="N-M,...",
                 help="Narrate these chapters only, numbered as `narrator chapters BOOK` lists them, "
                      "e.g. 3-7 or 1,4,9- (default: the prose, without cover, contents and copyright "
                      "pages)."),
    click.option("--chapter-files/--no-chapter-files", default=None,
                 help="Also one MP3 per chapter, OUT/STEM/NN - Title.mp3, with its own captions "
                      "(default: yes)."),
    click.option("--lead-in", type=float, help="Seconds of room tone before each chapter (default 0.75)."),
    click.option("--chapter-pause", type=float, help="Seconds of room tone after each chapter (default 2)."),
    click.option("--paragraph-pause", type=float,
                 help="Seconds between paragraphs (default: the voice's own). Re-encodes the audio."),
    click.option("--acx", is_flag=True, default=None,
                 help="Master for Audible's ACX: levels, room tone, 44.1 kHz 192 kbps CBR. "
                      "Re-encodes the audio."),
    # What the service is asked for. Ranges are checked by the codec's validate(), not by
    # click, so a value out of range is one line that gives the range, exit 3.
    click.option("--language", help="The language to speak: ISO 639-1 for ElevenLabs (en, de, hi), "
                                    "BCP-47 for sarvam (en-IN, hi-IN; default en-IN)."),
    click.option("--seed", type=int,
                 help="0-4294967295: best-effort repeatable audio for the same text and settings."),
    click.option("--text-normalization", type=click.Choice(TEXT_NORMALIZATION),
                 help="Spell out numbers, dates and abbreviations (auto: the service decides)."),
    click.option("--ssml/--no-ssml", default=None,
                 help="Read SSML tags in the text (needed for phoneme dictionaries)."),
    click.option("--pronunciation-dictionary", "pronunciation_dictionaries", multiple=True,
                 metavar="ID[:VERSION]",
                 help="Apply this pronunciation dictionary (latest version if none given); "
                      "repeat for up to 3."),
    click.option("--stability", type=float, help="0-1: lower is more expressive, higher more even."),
    click.option("--similarity-boost", type=float, help="0-1: how closely to keep to the original voice."),
    click.option("--style", type=float, help="0-1: style exaggeration (slower to generate)."),
    click.option("--speaker-boost/--no-speaker-boost", default=None,
                 help="Boost likeness to the original speaker."),
    click.option("--speed", type=float, help="0.7-1.2: speaking rate, 1 is the voice's own."),
    click.option("--chunk-schedule", metavar="N,N,...",
                 callback=lambda ctx, param, value: _numbers(param, value),
                 help="Characters buffered before each generation, 50-500 each (default 120,160,250,290)."),
    click.option("--inactivity-timeout", type=int,
                 help="1-180: seconds the service keeps an idle connection (default 20)."),
    # Sarvam's own settings.
    click.option("--pace", type=float,
                 help="sarvam: speaking rate, 0.3-3.0 (bulbul:v2) or 0.5-2.0 (v3, v4-flash)."),
    click.option("--pitch", type=float, help="sarvam: -0.75-0.75 (bulbul:v2 only)."),
    click.option("--loudness", type=float, help="sarvam: 0.3-3.0 (bulbul:v2 only)."),
    click.option("--sample-rate", type=int, help="sarvam: 8000, 16000, 22050 (default) or 24000 Hz."),
    click.option("--bitrate", help="sarvam: 32k, 64k, 96k, 128k (default) or 192k."),
    click.option("--preprocessing/--no-preprocessing", default=None,
                 help="sarvam: normalise numbers, dates and English words."),
]


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("out"),
              show_default=True, help="Folder for STEM.mp3, its captions and the chapter files in STEM/.")
@click.option("--max-characters", type=click.IntRange(1),
              help="Stop before sending more than this many characters (retries count); "
                   "what is finished is kept.")
@click.option("--force", is_flag=True, help="Make the book files even when they are up to date.")
@settings_options
def narrate(inputs, out_dir, max_characters, force, **settings) -> None:
    """Narrate INPUT documents (.txt, .md, .epub, .html) into OUT/STEM.mp3 with chapter
    marks, its captions, and one MP3 per chapter in OUT/STEM/."""
    options = build_options(out_dir, _given(settings))
    budget = Budget(max_characters)
    failures: list[NarratorError] = []
    for path in inputs:
        try:
            result = narrate_file(path, options, budget=budget, force=force)
        except NarratorError as exc:
            if len(inputs) == 1:
                raise
            click.echo(f"narrator: error: {redact(str(exc))}", err=True)
            failures.append(exc)
            continue
        click.echo(_summary(result) if result else f"{path}: up to date (its files were made from this text "
                                                     "with these settings); nothing sent, nothing written; "
                                                     "--force remakes them")
    if failures:
        sys.exit(failures[0].exit_code)


def _given(settings: dict) -> dict:
    # click gives () for a repeatable option never used: that is "not given" too.
    return {name: value for name, value in settings.items() if value not in (None, ())}


@cli.command("run")
@click.argument("targets", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--report", "report_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Write this run's JSON report here: per job, characters sent and from the cache, audio, "
                   "retries, time and estimated cost.")
@click.option("--max-characters", type=click.IntRange(1),
              help="Stop the whole run before sending more than this many characters; "
                   "what is finished is kept.")
@click.option("--prices", type=click.Path(path_type=Path, dir_okay=False),
              help="A TOML price table over the built-in one.")
def run_command(targets, report_path, max_characters, prices) -> None:
    """Run JOB.toml files, or every *.toml in a folder, in name order.

    Books whose files are up to date are skipped; one line per job says how it went."""
    report = run_jobs(list(targets), max_characters=max_characters, prices=load_prices(prices),
                      on_job=lambda job: click.echo(job.line()))
    if report_path:
        report.write(report_path)
    sys.exit(report.exit_code)


@cli.command()
@click.argument("targets", nargs=-1, required=True, type=click.Path(path_type=Path))
def status(targets) -> None:
    """Say per job: done, pending, partial (segments finished of all) or failed (why)."""
    cache = SegmentCache()
    for path in find_jobs(*targets):
        click.echo(job_status(path, cache))


@cli.command("estimate")
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--plan", help="Price plan (default: the provider's default in the price table).")
@click.option("--prices", type=click.Path(path_type=Path, dir_okay=False),
              help="A TOML price table over the built-in one.")
@click.option("--check-quota", is_flag=True,
              help="ElevenLabs: warn when the subscription's remaining characters will not cover it "
                   "(asks the service over HTTPS).")
@settings_options
@click.pass_context
def estimate_command(ctx, target, plan, prices, check_quota, **settings) -> None:
    """Characters to send (after the cache), billed characters and a price, for a
    document (with narrate's options) or for job files (with their own)."""
    prices_table, cache = load_prices(prices), SegmentCache()
    if target.suffix.lower() == ".toml" or target.is_dir():
        given = [p.opts[0] for p in ctx.command.params
                 if p.name in settings
                 and ctx.get_parameter_source(p.name) is click.core.ParameterSource.COMMANDLINE]
        if given:
            raise click.UsageError(f"{given[0]} applies to a document: a job file carries its own settings")
        jobs = [load_job(path, progress=False) for path in find_jobs(target)]
        found = [(document, job.options, plan or job.plan, job.check_quota or check_quota)
                 for job in jobs for document in job.inputs]
    else:
        found = [(target, build_options(Path("out"), _given(settings)), plan, check_quota)]
    for document, options, chosen_plan, quota in found:
        planned = read_and_plan(document, options)
        result = estimate(document.name, planned, options, cache, chosen_plan, prices_table)
        click.echo(result.line())
        warning = quota_warning(options, result.billed) if quota else None
        if warning:
            click.echo(f"narrator: warning: {redact(warning)}", err=True)


@cli.command("chapters")
@click.argument("document", type=click.Path(path_type=Path, dir_okay=False))
def chapters_command(document) -> None:
    """List a document's chapters, numbered as --chapters takes them."""
    for line in chapter_listing(read_document(document)):
        click.echo(line)


@cli.command("check")
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check_command(target, as_json) -> None:
    """Check MP3 files against ACX's audio rules: a book's folder of chapter
    files, or one file. Exits 12 when a file breaks a rule."""
    from narrator.acx.check import check_paths, format_report, report_json  # numpy and a decoder: only here

    report = check_paths(target)
    if as_json:
        click.echo(json.dumps(report_json(report), indent=2))
    else:
        for line in format_report(report):
            click.echo(line)
    if not report.passed:
        sys.exit(ExitCode.CHECK_FAILED)


@cli.group("cache", invoke_without_command=True)
@click.pass_context
def cache_command(ctx) -> None:
    """Where the segment cache is and how big (set NARRATOR_CACHE to move it)."""
    if ctx.invoked_subcommand is None:
        cache = SegmentCache()
        usage = cache.usage()
        click.echo(f"{cache.root}: {usage.entries} segments, {usage.bytes / 1e6:.1f} MB, "
                   f"{usage.characters:,} characters of text")


@cache_command.command("prune")
@click.argument("targets", nargs=-1, type=click.Path(path_type=Path))
@click.option("--all", "everything", is_flag=True, help="Remove every entry (no job keeps any).")
@click.option("--dry-run", is_flag=True, help="Say what would go; remove nothing.")
def cache_prune(targets, everything, dry_run) -> None:
    """Remove the segments no job in TARGETS (job files or folders) uses now."""
    if bool(targets) == everything:
        raise click.UsageError("name the job files or folders whose segments to keep, "
                               "or give --all (not both)")
    keep: set[str] = set()
    for path in find_jobs(*targets):
        # A job that does not load stops the prune: its segments are unknown.
        job = load_job(path, progress=False)
        for document in job.inputs:
            keep.update(read_and_plan(document, job.options).keys)
    gone = SegmentCache().prune(keep, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {gone.entries} segments, {gone.bytes / 1e6:.1f} MB; "
               f"kept those of {len(keep)} planned segments")


def _summary(result) -> str:
    lines = [
        f"{result.mp3}: {result.audio_seconds / 60:.1f} min, {result.segments} segments, "
        f"{result.cues} cues, {result.characters_sent:,} characters sent for "
        f"{result.book_characters:,} (waste {result.waste:.2f}), "
        f"{result.retries} retries, {result.wall_seconds:.1f} s"
    ]
    if result.reused_segments:
        lines.append(f"  {result.reused_segments} segments were finished by an earlier run "
                     "and not sent again")
    lines.append(f"  {result.concurrency}")
    if result.short_segments:
        lines.append("  audio still short after a second request in segments: "
                     + ", ".join(str(i + 1) for i in result.short_segments))
    if result.estimated_chapters:
        lines.append("  captions estimated (no timing from the service) in: "
                     f"{', '.join(result.estimated_chapters)}")
    return "\n".join(lines)


def _numbers(param, text: str | None) -> tuple[int, ...] | None:
    # Whether it is a list of numbers is click's question (exit 2); their range is validate()'s.
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of whole numbers",
                                 param=param) from None


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="0 picks a free port.")
@click.option("--api-key", envvar="NARRATOR_SERVE_API_KEY",
              help="Require this key (or set NARRATOR_SERVE_API_KEY).")
@click.option("--ttfb-ms", type=click.IntRange(0, 60000), default=0,
              help="Pretend: time to first byte of each stream.")
@click.option("--speed", type=click.FloatRange(0), default=0.0,
              help="Pretend: audio seconds generated per second (0: as fast as it goes).")
@click.option("--capacity", type=click.IntRange(0), default=0,
              help="Pretend: generations at once; others wait (0: no limit).")
@click.option("--over-capacity", type=click.Choice(["queue", "refuse"]), default="queue", show_default=True,
              help="Pretend: over --capacity, wait, or refuse with too_many_concurrent_requests as plans do.")
@click.option("--faults", help="Misbehave on purpose, e.g. drop=0.1,close1011=0.05,http429=0.2,stall=0.05,"
                               "garbage=0.05,nullalign=0.2,quota=20000,seed=7 "
                               "(docs/server.md lists every kind).")
@click.option("--certfile", type=click.Path(exists=True, dir_okay=False),
              help="Serve wss:// with this certificate (PEM).")
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False),
              help="The certificate's private key (PEM).")
def serve(host, port, api_key, ttfb_ms, speed, capacity, over_capacity, faults, certfile, keyfile) -> None:
    """Serve ElevenLabs stream-input and Sarvam streaming TTS through the embedded engine.

    Prints `listening on URL` when ready, and one JSON line of statistics on exit."""
    from narrator.server.app import (  # espeak-ng: only for the commands that serve
        CloudProfile,
        EmbeddedServer,
    )
    from narrator.server.faults import parse_faults

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
