"""PromptStateCache: lean prompt states on disk (what llama-cpp-python's cache hooks call)."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import numpy as np
import pytest

from voiceagent.providers.local.prompt_cache import PromptStateCache


def state(blob: bytes, seed: int = 7) -> SimpleNamespace:
    """What ``Llama.save_state()`` hands the cache (only the fields the cache keeps)."""
    return SimpleNamespace(llama_state=blob, seed=seed, scores=np.ones((3, 5), np.single))


def test_longest_prefix_is_found_and_survives_a_new_process(tmp_path):
    cache = PromptStateCache(tmp_path, n_vocab=5)
    cache[[1, 2, 3, 4]] = state(b"A" * 10)
    cache[[1, 2, 9]] = state(b"B" * 10)
    again = PromptStateCache(tmp_path, n_vocab=5)  # a second run reads the same directory
    hit = again[[1, 2, 3, 4, 5, 6]]
    assert hit.n_tokens == 4 and hit.input_ids[:4].tolist() == [1, 2, 3, 4]
    assert len(hit.input_ids) > 4096  # room for the tokens Llama writes after the prefix
    assert hit.llama_state == b"A" * 10 and hit.llama_state_size == 10 and hit.seed == 7
    assert hit.scores.shape == (1, 5)  # logits are recomputed after a restore: not stored
    assert [1, 2, 9, 9] in again and [7] not in again
    with pytest.raises(KeyError):
        again[[8, 8]]


def test_only_a_few_states_are_kept_least_recently_used_first(tmp_path):
    cache = PromptStateCache(tmp_path, max_entries=2, n_vocab=5)
    for i, first in enumerate((10, 20, 30)):
        cache[[first, 1]] = state(bytes([i]) * 4)
        past = time.time() - 100 + i
        for p in tmp_path.glob("*.state"):
            if p.stat().st_mtime > past:
                os.utime(p, (past, past))
    assert [10, 1] not in cache and [20, 1] in cache and [30, 1] in cache
    assert len(list(tmp_path.glob("*.state"))) == 2 and len(list(tmp_path.glob("*.ids"))) == 2


def test_a_corrupt_state_is_a_miss_not_an_error(tmp_path):
    cache = PromptStateCache(tmp_path, n_vocab=5)
    cache[[1, 2]] = state(b"ok")
    next(tmp_path.glob("*.state")).write_bytes(b"garbage")
    hit = cache[[1, 2, 3]]  # found by its token ids; the bytes are read only when restored
    with pytest.raises(KeyError):
        hit.llama_state


def test_a_state_that_cannot_be_saved_is_skipped(tmp_path, capsys):
    cache = PromptStateCache(tmp_path, n_vocab=5)
    cache[[1]] = SimpleNamespace(llama_state=None, seed=0)  # bytes(None) fails
    assert [1] not in cache and "not saved" in capsys.readouterr().err
