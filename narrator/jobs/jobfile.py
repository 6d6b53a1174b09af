"""Job files: a TOML file per job, naming its documents, its output folder
and the narration settings (named as `narrate`'s options, see
options.SETTINGS), plus a budget. Paths are relative to the job file.
Every problem is one line naming the file, the key and what is allowed.
Keys never go in a job file: they stay in the environment.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

from narrator.errors import ConfigError
from narrator.problems import read_toml
from narrator.settings import (
    FILE_OR_TABLE,
    FLAG,
    NUMBER,
    SETTINGS,
    TEXT,
    TEXTS,
    WHOLE,
    WHOLES,
    NarrateOptions,
    build_options,
)
from narrator.text import SUPPORTED_SUFFIXES

JOB_KEYS = {
    "input": TEXT, "inputs": TEXTS, "output": TEXT,
    "budget": WHOLE,  # characters one run of this job may send
    "plan": TEXT,  # the price plan for estimates (pricing.PLANS, or one of --prices)
    "check_quota": FLAG,  # ElevenLabs: compare the subscription's remaining characters first
} | SETTINGS
SECRET_WORDS = ("key", "token", "secret", "password")


@dataclass(frozen=True)
class Job:
    path: Path
    inputs: tuple[Path, ...]
    output: Path
    options: NarrateOptions
    budget: int | None = None
    plan: str | None = None
    check_quota: bool = False

    @property
    def name(self) -> str:
        return self.path.stem


def find_jobs(*targets: Path) -> list[Path]:
    """Job files, and every *.toml in the folders among them, in name order (the order they run in)."""
    return [job for target in targets for job in _jobs_at(target)]


def _jobs_at(target: Path) -> list[Path]:
    if target.is_dir():
        found = sorted(p for p in target.glob("*.toml") if p.is_file())
        if not found:
            raise ConfigError(f"{target}: no job files (*.toml) in this folder; see jobs/example.toml")
        return found
    if not target.is_file():
        raise ConfigError(f"{target}: no such job file or folder")
    return [target]


def load_job(path: Path, *, progress: bool = True) -> Job:
    table = read_toml(path, "the job file")
    for key, value in table.items():
        _check_key(path, key, value)
    settings = {k: v for k, v in table.items() if k in SETTINGS}
    if "lexicon" in settings:  # beside the job file, like its inputs
        settings["lexicon"] = [str(_near(path, name)) for name in settings["lexicon"]]
    if isinstance(settings.get("voices"), str):
        settings["voices"] = str(_near(path, settings["voices"]))
    if "output" not in table:
        raise ConfigError(f"{path}: output is missing: give the folder the books go to, "
                          "e.g. output = \"../out\"")
    try:
        options = build_options(_near(path, table["output"]), settings, progress=progress, spell=str)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return Job(path, _inputs(path, table), options.out_dir, options, table.get("budget"),
               table.get("plan"), table.get("check_quota", False))


def _near(job: Path, name: str) -> Path:
    """A path in a job file, from the job file's folder (`jobs/../out` reads as `out`)."""
    return Path(os.path.normpath(job.parent / name))


def _check_key(path: Path, key: str, value) -> None:
    if any(word in key.lower() for word in SECRET_WORDS):
        raise ConfigError(f"{path}: {key}: keys never go in job files; "
                          "set ELEVENLABS_API_KEY or SARVAM_API_KEY in the environment "
                          "or a .env file instead")
    kind = JOB_KEYS.get(key)
    if kind is None:
        close = difflib.get_close_matches(key, JOB_KEYS, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(f"{path}: unknown key {key!r}; {hint}known keys: {', '.join(JOB_KEYS)}")
    if not _is_kind(value, kind):
        # A table may hide anything, a key among it: say what it is, not what it holds.
        shown = "a table" if _holds_table(value) else repr(value)
        raise ConfigError(f"{path}: {key} = {shown} must be {kind}")
    if key == "budget" and value < 1:
        raise ConfigError(f"{path}: budget = {value} must be a whole number of characters, 1 or more")


def _holds_table(value) -> bool:
    return isinstance(value, dict) or (isinstance(value, list) and any(_holds_table(v) for v in value))


def _is_kind(value, kind: str) -> bool:
    whole = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731 (TOML's true is no number)
    return {
        TEXT: lambda: isinstance(value, str),
        WHOLE: lambda: whole(value),
        NUMBER: lambda: whole(value) or isinstance(value, float),
        FLAG: lambda: isinstance(value, bool),
        TEXTS: lambda: isinstance(value, list) and all(isinstance(v, str) for v in value),
        WHOLES: lambda: isinstance(value, list) and all(whole(v) for v in value),
        FILE_OR_TABLE: lambda: isinstance(value, (str, dict)),
    }[kind]()


def _inputs(path: Path, table: dict) -> tuple[Path, ...]:
    if ("input" in table) == ("inputs" in table):
        raise ConfigError(f"{path}: give input = \"FILE or FOLDER\" or inputs = [...], one of them")
    names = [table["input"]] if "input" in table else table["inputs"]
    if not names:
        raise ConfigError(f"{path}: inputs = [] names no document: give at least one file or folder")
    found: list[Path] = []
    for name in names:
        given = _near(path, name)
        if given.is_dir():
            documents = sorted(p for p in given.iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES)
            if not documents:
                raise ConfigError(f"{path}: input {name!r}: no documents "
                                  f"({', '.join(SUPPORTED_SUFFIXES)}) in {given}")
            found.extend(documents)
        elif given.is_file():
            found.append(given)
        else:
            raise ConfigError(f"{path}: input {name!r}: no such file or folder ({given})")
    stems = [p.stem for p in found]
    twice = sorted({s for s in stems if stems.count(s) > 1})
    if twice:
        raise ConfigError(f"{path}: inputs {', '.join(twice)} would write the same book files: rename one")
    return tuple(found)
