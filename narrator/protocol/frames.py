"""What both services' codecs share: reading a JSON frame, decoding its
audio, and the close codes and handshake statuses they have in common.
Every failure here is a classified ServiceError with the frame's first
bytes, so a protocol error says what actually arrived."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from narrator.errors import ConfigError, ErrorKind, ServiceError


def check_endpoint(endpoint: str, example: str) -> str:
    """The endpoint without a trailing slash, or a ConfigError saying what a good one looks like."""
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018 - reading it is what validates it
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConfigError(f"endpoint {endpoint!r} is not a ws:// or wss:// URL with a host and port; "
                          f"give e.g. {example}")
    return endpoint.rstrip("/")

QUOTA_ADVICE = "finished work is kept; add credits or wait for the quota to reset, then run again"


def json_object(raw: str | bytes) -> dict[str, Any] | None:
    """A client's message as a JSON object, or None for anything else (the servers' judgement)."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def load(raw: str | bytes) -> dict[str, Any]:
    """A service's frame as a JSON object, or a protocol error saying which way it is not."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ServiceError(ErrorKind.PROTOCOL, f"unparsable frame from the service: {preview(raw)}") from exc
    if not isinstance(data, dict):
        raise ServiceError(ErrorKind.PROTOCOL, f"unexpected frame from the service: {preview(raw)}")
    return data


def audio(value: object, raw: str | bytes) -> bytes:
    if not isinstance(value, str) or not value:
        raise ServiceError(ErrorKind.PROTOCOL, f"audio frame without audio: {preview(raw)}")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ServiceError(ErrorKind.PROTOCOL, f"audio that is not base64: {preview(raw)}") from exc


def close_error(code: int | None, reason: str,
                classify_reason: Callable[[str], ServiceError]) -> ServiceError:
    """A connection that closed before the audio owed was complete. A 1008
    carries the service's reason, which its own words classify."""
    if code == 1008 and reason:
        return classify_reason(reason)
    if code == 1009:
        return ServiceError(ErrorKind.PROTOCOL,
                            "the service sent a message larger than the receive limit (close 1009)")
    return ServiceError(ErrorKind.TRANSIENT,
                        f"connection closed by the service (code {code}{', ' + reason if reason else ''})")


def rest_error(body: bytes | None) -> tuple[str | None, str]:
    """The code and message of an HTTP error body `{"detail": {"status": CODE,
    "message": ...}}`; (None, "") for any other body."""
    try:
        detail = json.loads(body or b"").get("detail")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None, ""
    if not isinstance(detail, dict) or not isinstance(detail.get("status"), str):
        return None, ""
    return detail["status"], str(detail.get("message") or "")


def handshake_error(status: int, *, key_name: str, settings_hint: str) -> ServiceError:
    if status in (401, 403):
        return ServiceError(ErrorKind.AUTH, f"the service refused the connection (HTTP {status}): "
                                            f"check {key_name} and the endpoint")
    if status == 429:
        return ServiceError(ErrorKind.RATE_LIMIT, "the service is busy (HTTP 429 at the handshake)")
    if status >= 500:
        return ServiceError(ErrorKind.TRANSIENT, f"the service failed (HTTP {status} at the handshake)")
    return ServiceError(ErrorKind.INPUT,
                        f"the service rejected the connection (HTTP {status}): check {settings_hint}")


Code = int | str  # a service's error code: a status number (Sarvam) or a name (ElevenLabs)
NO_CODE: frozenset[Code | None] = frozenset({None})


@dataclass(frozen=True)
class ErrorRule:
    """One row of a service's error table: the codes that mean `kind`
    whatever the words say, and the words that mean it where the code does
    not decide: by default only when no code came (`word_codes`)."""

    kind: ErrorKind
    codes: frozenset[Code] = frozenset()
    words: tuple[str, ...] = ()
    word_codes: frozenset[Code | None] = NO_CODE


@dataclass(frozen=True)
class ErrorTable:
    """How one service's errors become error kinds: its rules, tried in
    order (what none matches is transient, and retried), and the advice
    added to each kind's message. Codes decide; words only help, because a
    service's wording changes by account and release while its codes stay
    (a quota message may well name the API key)."""

    rules: tuple[ErrorRule, ...]
    advice: dict[ErrorKind, str]

    def knows(self, code: object) -> bool:
        return any(code in rule.codes or code in rule.word_codes for rule in self.rules if code is not None)

    def kind(self, code: Code | None, said: str) -> ErrorKind:
        said = said.lower()
        for rule in self.rules:
            if code is not None and code in rule.codes:
                return rule.kind
            if code in rule.word_codes and any(w in said for w in rule.words):
                return rule.kind
        return ErrorKind.TRANSIENT

    def error(self, kind: ErrorKind, said: str) -> ServiceError:
        hint = self.advice.get(kind)
        return ServiceError(kind, f"service error ({kind.value}): {said}" + (f"; {hint}" if hint else ""))


def preview(raw: str | bytes) -> str:
    text = raw if isinstance(raw, str) else raw[:60].decode("utf-8", "replace")
    return repr(text[:60])


def key_matches(required: str | None, supplied: Sequence[str]) -> bool:
    """The servers' one key check, for every path: no key required, or
    exactly one key supplied (a second value never rescues a wrong first)
    and equal to it, compared in constant time."""
    if required is None:
        return True
    return len(supplied) == 1 and hmac.compare_digest(supplied[0].encode(), required.encode())
