"""How many characters an ElevenLabs subscription has left, before a job
starts: GET /v1/user/subscription on the REST side of the WebSocket
endpoint (`narrator serve` answers it too, from its quota fault).

Blocking, standard library only. Every failure is a ServiceError with a
kind and one line that never holds the key.
"""

from __future__ import annotations

import datetime
import http.client
import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TypeGuard
from urllib.parse import urlsplit, urlunsplit

from narrator.errors import ErrorKind, ServiceError
from narrator.keys import REDACTED
from narrator.problems import is_number
from narrator.protocol.elevenlabs import DEFAULT_ENDPOINT
from narrator.protocol.frames import check_endpoint, preview

SUBSCRIPTION_PATH = "/v1/user/subscription"
HTTP_SCHEMES = {"ws": "http", "wss": "https"}
MAX_BODY = 1 << 20  # the answer is a few hundred bytes; never read an endless one
WHAT = "ElevenLabs subscription check"


@dataclass(frozen=True)
class Remaining:
    used: int  # characters (credits) used this period
    limit: int  # characters (credits) the period allows
    tier: str
    resets_unix: int | None = None  # when the count starts again, if the service said

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)


def subscription_url(endpoint: str) -> str:
    """The REST URL beside a WebSocket endpoint: wss://host -> https://host/v1/user/subscription.
    A ConfigError for an endpoint that is not ws:// or wss://."""
    parts = urlsplit(check_endpoint(endpoint, DEFAULT_ENDPOINT))
    return urlunsplit((HTTP_SCHEMES[parts.scheme], parts.netloc, parts.path + SUBSCRIPTION_PATH, "", ""))


def remaining_characters(endpoint: str, key: str, timeout: float = 10.0) -> Remaining:
    """The subscription's count and limit, asked with `key`."""
    url = subscription_url(endpoint)
    if not (key.isascii() and key.isprintable()):
        # http.client would refuse it with an error that quotes the header, key and all.
        raise ServiceError(ErrorKind.AUTH, f"{WHAT}: ELEVENLABS_API_KEY holds a character that is not "
                                           "printable ASCII (a line break?)")
    request = urllib.request.Request(url, headers={"xi-api-key": key, "Accept": "application/json"})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = response.read(MAX_BODY)
    except urllib.error.HTTPError as exc:
        raise _http_error(exc, key) from None
    except urllib.error.URLError as exc:
        raise _connection_error(url, exc.reason, key) from None
    except (OSError, http.client.HTTPException) as exc:  # a timeout or reset while reading
        raise _connection_error(url, exc, key) from None
    return _parse(body)


def fits(remaining: Remaining, billed: int) -> str | None:
    """A one-line warning when `billed` characters exceed what is left, else None."""
    if billed <= remaining.remaining:
        return None
    line = f"the job needs {billed:,} characters but the subscription has {remaining.remaining:,} left"
    if remaining.resets_unix is not None:
        resets = datetime.datetime.fromtimestamp(remaining.resets_unix, datetime.timezone.utc)
        line += f" (resets {resets:%Y-%m-%d %H:%M} UTC)"
    return line


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """urllib would follow a redirect with the key still in its headers, to
    whatever host it names: a redirect is an HTTP error here instead."""

    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _http_error(exc: urllib.error.HTTPError, key: str) -> ServiceError:
    status = exc.code
    said = _detail(exc, key)
    line = f"{WHAT} failed: HTTP {status}{': ' + said if said else ''}"
    if status in (401, 403):
        return ServiceError(ErrorKind.AUTH, f"{line}; check ELEVENLABS_API_KEY and the endpoint")
    if status == 429:
        return ServiceError(ErrorKind.RATE_LIMIT, line)
    if status >= 500:
        return ServiceError(ErrorKind.TRANSIENT, line)
    # A redirect, a 404: this endpoint does not serve the check as ElevenLabs does.
    return ServiceError(ErrorKind.PROTOCOL, f"{line}; does the endpoint serve {SUBSCRIPTION_PATH}?")


def _detail(exc: urllib.error.HTTPError, key: str) -> str:
    """The service's own words, from {"detail": {"status", "message"}} or {"detail": "..."}."""
    try:
        detail = json.loads(exc.read(MAX_BODY)).get("detail")
    except (OSError, http.client.HTTPException, ValueError, UnicodeDecodeError, AttributeError):
        return ""
    if isinstance(detail, dict):
        said = ": ".join(str(detail[k]) for k in ("status", "message") if detail.get(k))
    else:
        said = detail if isinstance(detail, str) else ""
    return _one_line(said, key)


def _connection_error(url: str, reason, key: str) -> ServiceError:
    # An untrusted certificate does not heal by waiting; refused, reset, timed out may.
    kind = ErrorKind.PROTOCOL if isinstance(reason, ssl.SSLCertVerificationError) else ErrorKind.TRANSIENT
    text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return ServiceError(kind, f"{WHAT} failed: cannot reach {url} ({_one_line(text, key)})")


def _parse(body: bytes) -> Remaining:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise ServiceError(ErrorKind.PROTOCOL, f"{WHAT}: the answer is not a JSON object: {preview(body)}")
    used, limit = data.get("character_count"), data.get("character_limit")
    if not (_count(used) and _count(limit)):
        raise ServiceError(ErrorKind.PROTOCOL,
                           f"{WHAT}: the answer has no character_count and character_limit: {preview(body)}")
    resets = data.get("next_character_count_reset_unix")
    tier = data.get("tier")
    return Remaining(used=used, limit=limit, tier=tier if isinstance(tier, str) else "unknown",
                     resets_unix=resets if _count(resets) else None)


def _count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and is_number(value, whole=True) and value >= 0


def _one_line(text: str, key: str) -> str:
    # Nothing the service says goes out with the key in it, however it got there.
    if key:
        text = text.replace(key, REDACTED)
    return " ".join(text.split())[:200]
