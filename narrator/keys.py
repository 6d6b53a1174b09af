"""API keys from the environment or a `.env` file. They are passed to the
service and nowhere else: never logged, printed or written.

Every key read here is remembered, so that `redact` can take it out of any
text on its way to a person or a file: a service's error message that
echoes a request, an exception's text, a log line.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 8  # real keys are far longer; a short one would redact ordinary words and paths
_secrets: set[str] = set()


def api_key(name: str, dotenv: Path = Path(".env")) -> str | None:
    key = os.environ.get(name) or _from_dotenv(name, dotenv)
    if key:
        remember(key)
    return key


def remember(secret: str) -> None:
    if len(secret) >= MIN_SECRET_LENGTH:
        _secrets.add(secret)


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message with every known key removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def _from_dotenv(name: str, dotenv: Path) -> str | None:
    try:
        lines = dotenv.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and key.strip() == name:
            return value.strip().strip("'\"") or None
    return None
