"""The README's set-up commands are the ones CI runs."""

from tests.helpers import ROOT


def test_ci_runs_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```", 2)[1]
    commands = [line for line in block.splitlines() if line.startswith("python3 ")]
    assert len(commands) == 2
    assert commands[1] in (ROOT / ".ci" / "run").read_text()
    assert "narrator narrate samples/" in commands[0]
