"""Helpers for the offline speech stack tests: sample recordings and package skips."""

from __future__ import annotations

import importlib.util
import shutil
import wave
from pathlib import Path

import pytest
from voiceagent.audio import AudioFrame

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _missing(*modules: str) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def need_modules(*modules: str) -> None:
    """Skip the calling test, naming the packages of the [local] extra that are missing."""
    missing = _missing(*modules)
    if missing:
        pytest.skip(f"offline speech packages not installed: {', '.join(missing)} (pip install -e '.[local]')")


def need_espeak() -> None:
    """Skip when the espeak-ng program is not installed (scripts/system-deps.sh installs it)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (run scripts/system-deps.sh)")


def read_wav(name: str) -> AudioFrame:
    """A recording from samples/ as one 16 kHz PCM16 frame."""
    with wave.open(str(SAMPLES / name)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        return AudioFrame(w.readframes(w.getnframes()), w.getframerate())


def chunks(frame: AudioFrame, ms: int = 20) -> list[AudioFrame]:
    """``frame`` cut into frames of ``ms`` milliseconds, as a transport would push them."""
    step = 2 * frame.sample_rate * ms // 1000
    return [AudioFrame(frame.pcm[i : i + step], frame.sample_rate) for i in range(0, len(frame.pcm), step)]
