"""espeak-ng through ctypes (the library that espeakng-loader ships).

espeak-ng keeps its synthesiser in process-wide statics, some of them
never reset (the pitch flutter's phase, the gain control), so the same
text spoken twice comes out a few samples different. Each synthesis
therefore loads the library afresh and unloads it after (about 4 ms): the
same text, voice and rate always give the same audio, like a service asked
with a `seed`, and a resumed book can be compared byte for byte with an
uninterrupted one. One lock serialises the calls; ctypes releases the GIL
while the C code runs, so the asyncio loop that hands work to a thread
stays responsive.
"""

from __future__ import annotations

import _ctypes
import contextlib
import ctypes
import os
import threading
from dataclasses import dataclass

import espeakng_loader

_AUDIO_OUTPUT_RETRIEVAL = 1
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_PARAM_RATE = 1


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class Speech:
    """16-bit mono PCM and the word events espeak-ng reported while making it."""

    pcm: bytes
    sample_rate: int
    word_starts: tuple[tuple[int, int], ...]  # (0-based character index, ms)

    @property
    def duration_ms(self) -> int:
        return len(self.pcm) // 2 * 1000 // self.sample_rate


class Espeak:
    """The process's espeak-ng: one call at a time, each on a fresh library."""

    _lock = threading.Lock()
    _instance: Espeak | None = None

    def __init__(self) -> None:
        self._path = espeakng_loader.get_library_path()
        self._data_parent = os.path.dirname(espeakng_loader.get_data_path()).encode()
        self._pcm: list[bytes] = []
        self._words: list[tuple[int, int]] = []
        # Keep a reference: ctypes callbacks are freed with their Python object.
        self._callback = _Callback(self._on_audio)
        self._voices: dict[str, bool] = {}
        with self._library():  # shared() holds the lock
            self.sample_rate = self._rate

    @classmethod
    def shared(cls) -> Espeak:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    @contextlib.contextmanager
    def _library(self):
        """A freshly loaded, initialised espeak-ng, unloaded on leaving: its
        statics start from zero every time. Call with the lock held."""
        lib = ctypes.CDLL(self._path)
        try:
            lib.espeak_Synth.argtypes = [
                ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
            ]
            self._rate = lib.espeak_Initialize(_AUDIO_OUTPUT_RETRIEVAL, 0, self._data_parent, 0)
            if self._rate <= 0:
                raise RuntimeError("espeak-ng failed to initialise")
            lib.espeak_SetSynthCallback(self._callback)
            try:
                yield lib
            finally:
                lib.espeak_Terminate()
        finally:
            _ctypes.dlclose(lib._handle)

    def _on_audio(self, wav, count, events) -> int:
        if count > 0:
            self._pcm.append(ctypes.string_at(wav, count * 2))
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            event = events[i]
            if event.type == _EVENT_WORD:
                self._words.append((event.text_position - 1, event.audio_position))
            i += 1
        return 0

    def synthesize(self, text: str, *, voice: str = "en-us", words_per_minute: int = 175) -> Speech:
        data = text.encode("utf-8")
        with self._lock, self._library() as lib:
            if lib.espeak_SetVoiceByName(_named(voice)) != 0:
                # An unknown voice id (a cloud service's voice, say) speaks in the default.
                lib.espeak_SetVoiceByName(b"en-us")
            lib.espeak_SetParameter(_PARAM_RATE, words_per_minute, 0)
            self._pcm, self._words = [], []
            lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            lib.espeak_Synchronize()
            pcm, words = b"".join(self._pcm), tuple(self._words)
        return Speech(pcm, self.sample_rate, words)

    def has_voice(self, voice: str) -> bool:
        with self._lock:
            if voice not in self._voices:
                with self._library() as lib:
                    self._voices[voice] = lib.espeak_SetVoiceByName(_named(voice)) == 0
            return self._voices[voice]


# Language tags people write for espeak-ng voices that have other names: its British English is "en".
_ALIASES = {"en-gb": "en", "en-uk": "en"}


def _named(voice: str) -> bytes:
    return _ALIASES.get(voice.lower(), voice).encode()
