"""How `narrator serve` takes its key and checks it: never on the command
line unless asked (with a warning), the same rule on every path."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from narrator.errors import ExitCode
from narrator.protocol.frames import key_matches
from tests.test_cli import narrator

KEY = "sk-serve-key-0123456789"


def serve(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str, str]:
    """`narrator serve` on a free port: the process, its URL and what it said before listening."""
    process = subprocess.Popen([sys.executable, "-m", "narrator", "serve", "--port", "0", *args],
                               env={**os.environ, **(env or {})}, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    said = []
    while match := process.stderr.readline():
        said.append(match)
        if found := re.search(r"listening on (\S+)", match):
            return process, found.group(1), "".join(said)
    raise AssertionError("".join(said) + process.stderr.read())


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)


def command_line(process: subprocess.Popen[str]) -> str:
    with open(f"/proc/{process.pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode()


@pytest.mark.parametrize("how", ["environment", "file"])
def test_a_key_from_the_environment_or_a_file_is_not_in_the_process_list(tmp_path, how):
    (tmp_path / "key").write_text(f"{KEY}\n")
    args, env = (("--api-key-file", str(tmp_path / "key")), None) if how == "file" else \
        ((), {"NARRATOR_SERVE_API_KEY": KEY})
    process, url, said = serve(*args, env=env)
    try:
        assert KEY not in command_line(process) and "--api-key puts" not in said
        assert refused(url, [("xi-api-key", "wrong")]) and not refused(url, [("xi-api-key", KEY)])
    finally:
        stop(process)


def test_a_key_on_the_command_line_works_but_warns():
    process, url, said = serve("--api-key", KEY)
    try:
        assert "--api-key puts the key in the process list" in said and KEY not in said
        assert not refused(url, [("xi-api-key", KEY)])
    finally:
        stop(process)


def test_an_empty_key_file_is_one_line(tmp_path):
    (tmp_path / "key").write_text("\n")
    done = narrator("serve", "--port", "0", "--api-key-file", tmp_path / "key")
    assert done.returncode == ExitCode.CONFIG
    assert done.stderr.strip() == f"narrator: error: {tmp_path / 'key'}: the key file is empty; " \
                                  "put the key on its first line"


def refused(url: str, headers: list[tuple[str, str]], path: str = "/v1/user/subscription") -> bool:
    request = urllib.request.Request(url.replace("ws://", "http://") + path)
    for name, value in headers:
        request.add_header(name, value)
    try:
        urllib.request.urlopen(request, timeout=10).read()
    except urllib.error.HTTPError as error:
        return error.code == 401
    return False


def test_every_path_takes_exactly_one_right_key():
    """A second value never rescues a wrong first: the subscription endpoint,
    ElevenLabs' stream-input handshake and Sarvam's, alike."""
    process, url, _ = serve(env={"NARRATOR_SERVE_API_KEY": KEY})

    async def handshake(path: str, headers: list[tuple[str, str]]) -> int:
        try:
            async with connect(url + path, additional_headers=headers, open_timeout=10):
                return 101
        except InvalidStatus as error:
            return error.response.status_code

    sarvam = "/text-to-speech/ws?model=bulbul:v2"
    try:
        both = [("api-subscription-key", "wrong"), ("api-subscription-key", KEY)]
        assert asyncio.run(handshake(sarvam, both)) == 401
        assert asyncio.run(handshake(sarvam, [("api-subscription-key", KEY)])) == 101
        assert asyncio.run(handshake(sarvam, [("api-subscription-key", "wrong")])) == 401
    finally:
        stop(process)


@pytest.mark.parametrize("required, supplied, matches", [
    (None, [], True), (None, ["anything"], True),
    ("k3y-value", ["k3y-value"], True), ("k3y-value", [], False), ("k3y-value", ["wrong"], False),
    ("k3y-value", ["wrong", "k3y-value"], False), ("k3y-value", ["k3y-value", "k3y-value"], False),
    ("k3y-value", ["k3y-valuE"], False), ("k3y-value", ["k3y-value "], False),
])
def test_the_one_key_rule(required, supplied, matches):
    assert key_matches(required, supplied) is matches
