"""Progress over characters: a tqdm bar on a terminal, log lines elsewhere."""

from __future__ import annotations

import logging
import sys
import time

from tqdm import tqdm

log = logging.getLogger("narrator")
LOG_EVERY_SECONDS = 10.0


class Progress:
    def __init__(self, name: str, total_chars: int, *, enabled: bool = True):
        self._name, self._total = name, total_chars
        self._done, self._audio = 0, 0.0
        self._bar = None
        self._last_log = time.monotonic()
        if enabled and sys.stderr.isatty():
            self._bar = tqdm(total=total_chars, unit="char", unit_scale=True, desc=name, file=sys.stderr)

    def advance(self, chars: int, audio_seconds: float) -> None:
        self._done += chars
        self._audio += audio_seconds
        if self._bar is not None:
            self._bar.update(chars)
            self._bar.set_postfix_str(f"{self._audio / 60:.1f} min audio", refresh=False)
        elif time.monotonic() - self._last_log >= LOG_EVERY_SECONDS or self._done >= self._total:
            self._last_log = time.monotonic()
            log.info("%s: %d%% (%d of %d characters, %.1f min of audio)", self._name,
                     100 * self._done // max(self._total, 1), self._done, self._total, self._audio / 60)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
