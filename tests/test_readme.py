"""The README's set-up commands are the ones CI runs, and every link in the
README, docs/ and bench/README.md leads to a file and a heading that exist."""

import re
from pathlib import Path

import pytest

from tests.helpers import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]

# Code is not prose: a `[x](y)` or a `# comment` inside it is neither a link nor a heading.
_FENCED = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[^\n]*$", re.M | re.S)
_INLINE_CODE = re.compile(r"`(?:[^`\n]|\n(?!\n))*`")  # may wrap, never past a paragraph
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
_EXTERNAL = ("http://", "https://", "mailto:")


def test_ci_runs_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```", 2)[1]
    commands = [line for line in block.splitlines() if line.startswith("python3 ")]
    assert len(commands) == 2
    assert commands[1] in (ROOT / ".ci" / "run").read_text()
    assert "narrator narrate samples/" in commands[0]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation other than
    '-' and '_' dropped, each space a '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor; a repeated heading gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for heading in _HEADING.findall(_FENCED.sub("", page.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(page: Path) -> list[str]:
    prose = _INLINE_CODE.sub("", _FENCED.sub("", page.read_text()))
    return _LINK.findall(prose)


def broken(page: Path, target: str) -> str | None:
    """Why a relative link from page leads nowhere, or None when it resolves."""
    path, _, fragment = target.partition("#")
    destination = (page.parent / path).resolve() if path else page
    if not destination.is_relative_to(ROOT):
        return "leads out of the repository"
    if not destination.exists():
        return "no such file"
    if fragment and destination.suffix == ".md" and fragment not in anchors(destination):
        return f"no heading #{fragment} in {destination.relative_to(ROOT)}"
    return None


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_link_resolves(page):
    problems = [f"{target}: {why}" for target in links(page)
                if not target.startswith(_EXTERNAL) and (why := broken(page, target))]
    assert problems == []


def test_the_readme_leads_to_every_page_of_the_manual():
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in links(ROOT / "README.md")}
    manual = [page for page in PAGES if page.parent == ROOT / "docs"]
    assert manual, "docs/ holds the manual"
    assert [page.name for page in manual if page not in linked] == []


@pytest.mark.parametrize(("heading", "anchor"), [
    ("Exit codes", "exit-codes"),
    ("`narrator check`: ACX's rules", "narrator-check-acxs-rules"),
    ("Remaining quota (ElevenLabs)", "remaining-quota-elevenlabs"),
    ("`--acx` mastering", "--acx-mastering"),
    ("snake_case and M4B", "snake_case-and-m4b"),
])
def test_slugs_are_githubs(heading, anchor):
    assert slug(heading) == anchor
