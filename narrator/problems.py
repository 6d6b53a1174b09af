"""Judging settings, one way for both services and both sides of the wire:
each check gives the line a person reads, or None when the value is good;
and reading the TOML files settings come in (jobs, price tables)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from narrator.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, as a package
    import tomli as tomllib


def is_number(value, *, whole: bool = False) -> bool:
    # bool is an int to Python but never a number to a person or a service.
    kind = int if whole else (int, float)
    return isinstance(value, kind) and not isinstance(value, bool)


def range_problem(name: str, value, bounds, *, whole: bool = False, context: str = "", unit: str = "",
                  optional: bool = False) -> str | None:
    """`optional`: None means "not set, not sent", never wrong. NaN fails both comparisons."""
    low, high = bounds
    if (optional and value is None) or (is_number(value, whole=whole) and low <= value <= high):
        return None
    kind = "a whole number" if whole else "a number"
    return f"{name} {value!r} is out of range{context}: give {kind} from {low} to {high}{unit}"


def choice_problem(name: str, value, choices: tuple, *, optional: bool = False) -> str | None:
    # True == 1 to Python, and 22050.0 == 22050: only the exact type is the choice.
    if (optional and value is None) or any(type(value) is type(c) and value == c for c in choices):
        return None
    return f"{name} {value!r} is not one of {', '.join(map(str, choices))}"


def raise_first(problems: Iterable[str | None]) -> None:
    for problem in problems:
        if problem:
            raise ConfigError(problem)


def read_toml(path: Path, what: str) -> dict:
    """A settings file (a job, a price table) as a table, or one line saying why not."""
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        # The parser's message is one line and says where: "Invalid value (at line 2, column 11)".
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
