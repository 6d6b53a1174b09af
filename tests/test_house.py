"""The house's own rules, checked with the tests: lint, types, import
layers, module sizes, and a cloud narration that loads no embedded engine."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, SAMPLES
from tests.test_cli_service import KEY, served

PACKAGE = ROOT / "narrator"
BIN = Path(sys.executable).parent
MAX_LINES = 400
MAX_TOP_LEVEL_MODULES = 12


def gate(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def test_ruff_finds_nothing():
    done = gate(sys.executable, "-m", "ruff", "check", "--no-cache", "narrator", "tests", "bench")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_nothing():
    # The configuration in pyproject.toml: strict on the pure core, the default elsewhere.
    done = gate(sys.executable, "-m", "mypy")
    assert done.returncode == 0, done.stdout + done.stderr


def test_import_layers_are_kept():
    done = gate(str(BIN / "lint-imports"), "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr


def test_modules_are_small_and_the_top_level_is_short():
    modules = sorted(PACKAGE.rglob("*.py"))
    long = [f"{m.relative_to(ROOT)}: {n}" for m in modules
            if (n := len(m.read_text().splitlines())) > MAX_LINES]
    assert not long, f"over {MAX_LINES} lines: {long}"
    top = [m.name for m in PACKAGE.glob("*.py")]
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def test_every_package_says_what_it_holds():
    for init in PACKAGE.rglob("__init__.py"):
        docstring = ast.get_docstring(ast.parse(init.read_text()))
        assert docstring, f"{init.relative_to(ROOT)} has no docstring"


@pytest.mark.slow
def test_a_cloud_narration_loads_no_embedded_engine_or_server(tmp_path):
    """`narrate --provider elevenlabs` against `narrator serve` in another
    process: the narrating process never imports the server, the engine or espeak-ng."""
    loaded = tmp_path / "modules.json"
    script = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: open({str(loaded)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
        "from narrator.cli import main\n"
        "main()\n"
    )
    with served() as (url, _):
        done = subprocess.run(
            [sys.executable, "-c", script, "narrate", str(SAMPLES / "short-note.md"),
             "--provider", "elevenlabs", "--endpoint", url, "-o", str(tmp_path / "out")],
            capture_output=True, text=True, timeout=300, check=False,
            env={**os.environ, "ELEVENLABS_API_KEY": KEY, "NARRATOR_CACHE": str(tmp_path / "cache")},
        )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "short-note.mp3").is_file()
    modules = json.loads(loaded.read_text())
    assert "narrator.runner" in modules and "narrator.client.session" in modules  # it did narrate, here
    embedded = [m for m in modules if m.startswith(("narrator.server", "espeakng_loader"))]
    assert not embedded, embedded
