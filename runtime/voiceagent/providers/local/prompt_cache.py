"""Evaluated-prompt states of the local LLM kept on disk, so a second run starts warm.

Why not llama-cpp-python's own ``--cache_type disk``: its ``LlamaState`` carries the logits of
every prompt token (n_tokens x 151,936 floats: 176 MB for a 290-token prompt, measured), it is
written after every completion, entries over the size budget are dropped at once (so a 700-token
agent prompt was never kept), and a lookup removes the entry it reads.

:class:`PromptStateCache` keeps only what a restore needs: the token ids and llama.cpp's own
state (the KV cache, about 12 kB per token for Qwen2.5-0.5B). A restored state is always
followed by at least one token of prompt evaluation (``Llama._requires_eval``), so the logits are
recomputed and none need storing. Lookups read the file only when llama-cpp-python actually
restores the state; at most ``max_entries`` states are kept (least recently used go first);
every failure is a cache miss, never an error.

The server process (:mod:`voiceagent.providers.local.llama_child`, run with ``--cache true
--cache_type disk`` and ``VOICEAGENT_PROMPT_CACHE_DIR`` naming the directory) calls
:func:`install`, which replaces ``llama_cpp.LlamaDiskCache`` before the server builds its model,
and ``Llama.save_state`` with one that skips the logits copy.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from voiceagent.providers.local.joined import write_atomic

__all__ = ["CACHE_DIR_ENV", "PromptStateCache", "install"]

CACHE_DIR_ENV = "VOICEAGENT_PROMPT_CACHE_DIR"
_SUFFIX = ".state"
MIN_GAIN_TOKENS = 256
"""A stored state is restored only when it saves evaluating at least this many prompt tokens:
restoring one (~10 MB read and copied into llama.cpp) took ~1.2 s where evaluating the 15 new
tokens of a turn takes ~0.1 s (a caller's "Hi there, how are you today?" said a second time
waited 1.48 s for its first token instead of 0.25 s)."""
_ROOM = 1 << 15
"""Free token slots after a restored prompt (at least any context size used here)."""


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class _LazyState:
    """A ``llama_cpp.LlamaState`` look-alike whose KV bytes are read from disk on first use."""

    def __init__(self, path: Path, input_ids: np.ndarray, n_vocab: int) -> None:
        self._path = path
        # Llama writes later tokens into input_ids in place: leave room for a whole context
        self.input_ids = np.concatenate([input_ids, np.zeros(_ROOM, dtype=np.intc)])
        self.n_tokens = len(input_ids)
        self._n_vocab = n_vocab
        self._blob: dict[str, Any] | None = None

    @property
    def scores(self) -> np.ndarray:
        """One row of zero logits (broadcast by ``Llama.load_state``; recomputed after a restore).

        ``Llama.load_state`` reads this first: the file is read here, so an unreadable state
        raises KeyError (a miss) before the model's state is touched.
        """
        self._load()
        return np.zeros((1, self._n_vocab), dtype=np.single)

    def _load(self) -> dict[str, Any]:
        """The stored blob; any failure is a miss (KeyError, which llama-cpp-python catches)."""
        if self._blob is None:
            try:
                with open(self._path, "rb") as f:
                    blob = pickle.load(f)
                if not isinstance(blob.get("llama_state"), bytes):
                    raise ValueError("not a prompt state")
                os.utime(self._path)  # least-recently-used order
            except Exception as exc:  # noqa: BLE001
                raise KeyError(f"unreadable prompt state: {exc}") from None
            self._blob = blob
        return self._blob

    @property
    def llama_state(self) -> bytes:
        state: bytes = self._load()["llama_state"]
        return state

    @property
    def llama_state_size(self) -> int:
        return len(self.llama_state)

    @property
    def seed(self) -> int:
        seed: int = self._load()["seed"]
        return seed


class PromptStateCache:
    """A ``llama_cpp.BaseLlamaCache`` keeping lean prompt states in ``directory``.

    directory: where ``<sha256 of the tokens>.state`` files live (created).
    capacity_bytes: disk budget; max_entries: how many states to keep (oldest use dropped).
    n_vocab: the model's vocabulary size (for the placeholder logits row).
    """

    def __init__(
        self, directory: Path | str, *, capacity_bytes: int = 256 << 20, max_entries: int = 6, n_vocab: int = 151_936
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.capacity_bytes = capacity_bytes
        self.max_entries = max_entries
        self.n_vocab = n_vocab
        self.owner: Any = None
        """The ``llama_cpp.Llama`` using this cache (set by :meth:`attach`): a state is restored
        only when it holds at least :attr:`min_gain_tokens` more of the prompt than the model's
        own context already does."""
        self.min_gain_tokens = MIN_GAIN_TOKENS
        self._index: dict[Path, np.ndarray] = {}
        for path in self.directory.glob(f"*{_SUFFIX}"):
            try:
                with open(path.with_suffix(".ids"), "rb") as f:
                    self._index[path] = np.frombuffer(f.read(), dtype=np.intc)
            except OSError:
                continue

    def attach(self, llama: Any) -> None:
        """Remember the model this cache serves (its ``_input_ids``: the tokens in its context)."""
        self.owner = llama

    @property
    def cache_size(self) -> int:
        """Bytes on disk."""
        return sum(p.stat().st_size for p in self._index if p.exists())

    def _longest(self, key: Sequence[int]) -> tuple[Path | None, int]:
        best, best_len = None, 0
        for path, ids in self._index.items():
            n = _common_prefix(ids.tolist(), key)
            if n > best_len:
                best, best_len = path, n
        return best, best_len

    def __getitem__(self, key: Sequence[int]) -> Any:
        tokens = list(key)
        path, n = self._longest(tokens)
        if path is None or n == 0 or not path.exists():
            raise KeyError("no cached prompt state")
        if self.owner is not None:
            held = getattr(self.owner, "_input_ids", None)
            kept = _common_prefix(list(held) if held is not None else [], tokens)
            if n - kept < self.min_gain_tokens:
                raise KeyError("the model already holds nearly as much of this prompt")
        return _LazyState(path, self._index[path], self.n_vocab)

    def __contains__(self, key: Sequence[int]) -> bool:
        return self._longest(list(key))[0] is not None

    def __setitem__(self, key: Sequence[int], value: Any) -> None:
        try:
            ids = np.asarray(list(key), dtype=np.intc)
            name = hashlib.sha256(ids.tobytes()).hexdigest()[:32]
            path = self.directory / f"{name}{_SUFFIX}"
            if path in self._index:
                os.utime(path)
                return
            blob = {"llama_state": bytes(value.llama_state), "seed": int(value.seed)}
            write_atomic(path.with_suffix(".ids"), ids.tobytes())
            write_atomic(path, pickle.dumps(blob, protocol=pickle.HIGHEST_PROTOCOL))
            self._index[path] = ids
            self._trim()
        except Exception as exc:  # noqa: BLE001 - a cache failure only costs speed
            print(f"voiceagent prompt cache: not saved: {exc}", file=sys.stderr)

    def _trim(self) -> None:
        def used(p: Path) -> float:
            try:
                return p.stat().st_mtime
            except OSError:
                return 0.0

        paths = sorted(self._index, key=used)
        while paths and (len(paths) > self.max_entries or self.cache_size > self.capacity_bytes):
            old = paths.pop(0)
            self._index.pop(old, None)
            old.unlink(missing_ok=True)
            old.with_suffix(".ids").unlink(missing_ok=True)


def _lean_save_state(self: Any) -> Any:  # pragma: no cover - runs in the server process
    """``Llama.save_state`` without the copy of every prompt token's logits (``n_tokens x
    151,936`` floats: ~300 MB copied after each completion for a 500-token prompt), which
    :class:`PromptStateCache` never stores; the server calls it only to fill the cache.
    """
    import ctypes

    import llama_cpp

    size = int(llama_cpp.llama_state_get_size(self._ctx.ctx))
    buf = (ctypes.c_uint8 * size)()
    n = int(llama_cpp.llama_state_get_data(self._ctx.ctx, buf, size))
    if n > size:
        raise RuntimeError("Failed to copy llama state data")
    return llama_cpp.LlamaState(
        scores=np.zeros((1, self.n_vocab()), dtype=np.single),
        input_ids=self.input_ids.copy(),
        n_tokens=self.n_tokens,
        llama_state=ctypes.string_at(buf, n),
        llama_state_size=n,
        seed=self._seed,
    )


def install(directory: str) -> None:  # pragma: no cover - runs in the server process
    """Make llama_cpp.server's ``--cache_type disk`` a :class:`PromptStateCache` in ``directory``,
    and ``Llama.save_state`` skip the logits copy; call it before the server builds its model.
    """
    import llama_cpp

    class _ServerCache(PromptStateCache):
        def __init__(self, capacity_bytes: int = 256 << 20, **_: Any) -> None:
            super().__init__(directory, capacity_bytes=capacity_bytes)

    # llama_cpp.server looks the cache class up on the package (``llama_cpp.LlamaDiskCache``),
    # which the package's types do not declare.
    setattr(llama_cpp, "LlamaDiskCache", _ServerCache)  # noqa: B010
    setattr(llama_cpp.Llama, "save_state", _lean_save_state)  # noqa: B010
    set_cache = llama_cpp.Llama.set_cache

    def _set_cache(self: Any, cache: Any) -> None:  # the cache learns whose context it fills
        set_cache(self, cache)
        if isinstance(cache, PromptStateCache):
            cache.attach(self)

    setattr(llama_cpp.Llama, "set_cache", _set_cache)  # noqa: B010
