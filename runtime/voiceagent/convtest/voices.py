"""Caller voices for ``voiceagent test --caller-voice``: every ``user:`` turn spoken, then heard.

A scenario's ``user:`` text normally reaches the agent as a final transcript. With a caller
voice it is synthesised by another speech engine than the agent's own TTS and goes through the
agent's STT, as a recorded caller would: the recognizer's mishearings ("my count number") and
the VAD's end of utterance are then part of the test. Voices:

- ``piper``: the offline Piper voice (the agent's own TTS voice without a key, as ``say:``);
- ``espeak-ng`` or ``espeak-ng:VOICE`` (default ``en-us``): the formant synthesizer, Debian
  ``espeak-ng`` (https://github.com/espeak-ng/espeak-ng/blob/master/src/espeak-ng.1.ronn);
- ``flite`` or ``flite:VOICE`` (default ``slt``, a US English female voice; also ``rms``,
  ``awb``, ``kal``): CMU Flite, Debian ``flite`` (https://github.com/festvox/flite).

Each returns PCM16 mono at the engine's own rate (espeak-ng 22050 Hz, flite 16000 Hz).

The text is first read as a caller reads it (:func:`as_spoken`): espeak-ng says the dashes of
"account 2-4-6-8-0" ("two dash four dash ..."), which no caller does.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import wave
from pathlib import Path

from voiceagent.audio import AudioFrame

__all__ = ["CALLER_VOICES", "VoiceUnavailable", "as_spoken", "caller_audio", "check_voice"]

CALLER_VOICES = ("piper", "espeak-ng", "flite")
"""The engines ``--caller-voice`` accepts (each optionally ``ENGINE:VOICE``)."""

_DEFAULT = {"espeak-ng": "en-us", "flite": "slt"}


class VoiceUnavailable(RuntimeError):
    """The caller voice's engine is not installed (the message says which package to install)."""


def _split(voice: str) -> tuple[str, str | None]:
    engine, _, name = voice.partition(":")
    return engine.strip().lower(), (name.strip() or None)


def check_voice(voice: str) -> str | None:
    """A usage error for ``voice`` (unknown engine, missing program), or None when it can speak."""
    engine, _ = _split(voice)
    if engine not in CALLER_VOICES:
        return f"unknown caller voice {voice!r}: use one of {', '.join(CALLER_VOICES)} (optionally ENGINE:VOICE)"
    if engine in ("espeak-ng", "flite") and shutil.which(engine) is None:
        return f"caller voice {voice!r} needs the {engine} program (Debian: apt-get install {engine})"
    return None


def _wav(path: Path) -> AudioFrame:
    """A PCM16 mono WAV file as a frame."""
    with wave.open(str(path)) as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise VoiceUnavailable("the caller voice did not produce PCM16 mono audio")
        return AudioFrame(w.readframes(w.getnframes()), w.getframerate())


async def _run(*argv: str) -> bytes:
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise VoiceUnavailable(f"{argv[0]} failed: {err.decode(errors='replace').strip()[:200]}")
    return out


def as_spoken(text: str) -> str:
    """``text`` as a caller says it: a dash between two digits is a pause, not a word
    ("2-4-6-8-0" -> "2, 4, 6, 8, 0"); a date such as "2026-03-01" is left alone.
    """
    return re.sub(r"\b\d(?:-\d)+\b", lambda m: m.group(0).replace("-", ", "), text)


async def caller_audio(text: str, voice: str, language: str = "en") -> AudioFrame:
    """``text`` spoken in the caller ``voice`` (see the module docstring).

    Raises:
        VoiceUnavailable: the engine is unknown or not installed, or produced no audio.
    """
    problem = check_voice(voice)
    if problem:
        raise VoiceUnavailable(problem)
    engine, name = _split(voice)
    text = as_spoken(text)
    if engine == "piper":
        from voiceagent.convtest.plumbing import spoken_audio

        return await spoken_audio(text, language)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "caller.wav"
        if engine == "espeak-ng":
            await _run("espeak-ng", "-v", name or _DEFAULT[engine], "-w", str(out), text)
        else:
            await _run("flite", "-voice", name or _DEFAULT[engine], "-t", text, "-o", str(out))
        frame = _wav(out)
    if not frame.pcm:
        raise VoiceUnavailable(f"caller voice {voice!r} produced no audio for {text!r}")
    return frame
