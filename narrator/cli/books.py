"""Commands on one document or book: `narrate`, `chapters`, `check`."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from narrator.cli.options import given_settings, settings_options
from narrator.client.budget import Budget
from narrator.errors import ExitCode, NarratorError
from narrator.keys import redact
from narrator.runner import narrate_file
from narrator.settings import build_options
from narrator.text import read_document
from narrator.text.select import chapter_listing

log = logging.getLogger("narrator")


@click.command()
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
    options = build_options(out_dir, given_settings(settings))
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


@click.command("chapters")
@click.argument("document", type=click.Path(path_type=Path, dir_okay=False))
def chapters_command(document) -> None:
    """List a document's chapters, numbered as --chapters takes them."""
    for line in chapter_listing(read_document(document)):
        click.echo(line)


@click.command("check")
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
    if result.read_along:
        lines.append(f"  read-along book: {result.read_along}")
    if result.estimated_chapters:
        timed = "captions and read-along highlights" if result.read_along else "captions"
        lines.append(f"  {timed} estimated (no timing from the service) in: "
                     f"{', '.join(result.estimated_chapters)}")
    if result.interpolated_words:
        lines.append(f"  {result.interpolated_words:,} words timed between their neighbours "
                     "(the service's alignment left them out)")
    return "\n".join(lines)
