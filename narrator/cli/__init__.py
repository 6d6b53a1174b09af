"""The command line. It catches only narrator's own errors and the
operating system's: one line, a documented exit code; a traceback is a bug."""

from __future__ import annotations

import logging
import sys

import click

from narrator import __version__
from narrator.cli import books, jobs, serve
from narrator.errors import ExitCode, LocalIOError, NarratorError
from narrator.keys import RedactingFilter, redact


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


for command in (books.narrate, books.chapters_command, books.check_command, jobs.run_command, jobs.status,
                jobs.estimate_command, jobs.cache_command, serve.serve):
    cli.add_command(command)
