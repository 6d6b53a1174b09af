"""API keys from the environment or a `.env` file. They are passed to the
service and nowhere else: never logged, printed or written."""

from __future__ import annotations

import os
from pathlib import Path


def api_key(name: str, dotenv: Path = Path(".env")) -> str | None:
    if os.environ.get(name):
        return os.environ[name]
    try:
        lines = dotenv.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and key.strip() == name:
            return value.strip().strip("'\"") or None
    return None
