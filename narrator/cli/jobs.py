"""Commands on job files and the segment cache: `run`, `status`, `estimate`, `cache`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from narrator.book.cache import SegmentCache
from narrator.cli.options import given_settings, settings_options
from narrator.jobs.jobfile import find_jobs, load_job
from narrator.keys import redact
from narrator.runner import read_and_plan
from narrator.settings import build_options

log = logging.getLogger("narrator")


@click.command("run")
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
    from narrator.jobs.batch import run_jobs  # here, not at import: `narrate` does not pay for it
    from narrator.jobs.pricing import load_prices
    report = run_jobs(list(targets), max_characters=max_characters, prices=load_prices(prices),
                      on_job=lambda job: click.echo(job.line()))
    if report_path:
        report.write(report_path)
    sys.exit(report.exit_code)


@click.command()
@click.argument("targets", nargs=-1, required=True, type=click.Path(path_type=Path))
def status(targets) -> None:
    """Say per job: done, pending, partial (segments finished of all) or failed (why)."""
    from narrator.jobs.batch import job_status
    cache = SegmentCache()
    for path in find_jobs(*targets):
        click.echo(job_status(path, cache))


@click.command("estimate")
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
    from narrator.jobs.estimate import estimate, quota_warning
    from narrator.jobs.pricing import load_prices
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
        found = [(target, build_options(Path("out"), given_settings(settings)), plan, check_quota)]
    for document, options, chosen_plan, quota in found:
        planned = read_and_plan(document, options)
        result = estimate(document.name, planned, options, cache, chosen_plan, prices_table)
        click.echo(result.line())
        warning = quota_warning(options, result.billed) if quota else None
        if warning:
            click.echo(f"narrator: warning: {redact(warning)}", err=True)


@click.group("cache", invoke_without_command=True)
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
