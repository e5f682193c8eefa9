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


def test_a_state_is_restored_only_when_it_saves_enough_evaluation(tmp_path):
    cache = PromptStateCache(tmp_path, n_vocab=5)
    system, turn = list(range(1, 601)), [700, 701, 702]
    cache[system + turn] = state(b"S" * 10)  # a state saved after an earlier identical turn
    model = SimpleNamespace(_input_ids=np.array(system + [900], dtype=np.intc))  # holds the system prompt
    cache.attach(model)
    with pytest.raises(KeyError, match="already holds"):
        cache[system + turn + [703]]  # 3 more tokens than the context holds: evaluating is cheaper
    model._input_ids = np.array([1, 2], dtype=np.intc)  # another prompt in the context
    assert cache[system + turn + [703]].n_tokens == 603  # 600 tokens saved: worth the restore
    cache.owner = None  # not attached (tests, other tools): any longest prefix is a hit
    assert cache[system + [5]].n_tokens == 603


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
    with pytest.raises(KeyError):  # Llama.load_state reads scores first: nothing changed yet
        _ = hit.scores
    with pytest.raises(KeyError):
        _ = hit.llama_state


def test_a_state_that_cannot_be_saved_is_skipped(tmp_path, capsys):
    cache = PromptStateCache(tmp_path, n_vocab=5)
    cache[[1]] = SimpleNamespace(llama_state=None, seed=0)  # bytes(None) fails
    assert [1] not in cache and "not saved" in capsys.readouterr().err


@pytest.fixture
def seen(monkeypatch):
    """The ``cmd`` and ``env`` LlamaServer last started its child with (Popen captured, not run)."""
    import subprocess

    captured = {}

    class FakePopen:
        def __init__(self, cmd, **kw):
            captured.update(cmd=cmd, env=kw["env"])

        def poll(self):
            return 0

    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    return captured


@pytest.mark.needs_local("llama_cpp")  # launch() checks that llama_cpp.server imports
def test_the_server_runs_with_the_lean_cache_in_a_per_model_directory(tmp_path, monkeypatch, seen):
    """The argv and environment LlamaServer starts llama.cpp with (Popen captured, not run)."""
    from voiceagent.providers.local import llama_server
    from voiceagent.providers.local.prompt_cache import CACHE_DIR_ENV

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    model = tmp_path / "m.gguf"
    model.write_bytes(b"1234")
    server = llama_server.LlamaServer(model_path=model, n_ctx=2048, n_threads=1, n_threads_batch=2)
    server.launch()
    cmd, env = seen["cmd"], seen["env"]
    assert cmd[1:3] == ["-m", "voiceagent.providers.local.llama_child"]
    assert cmd[cmd.index("--cache_type") + 1] == "disk" and "--model" in cmd
    folder = env[CACHE_DIR_ENV]
    assert folder.startswith(str(tmp_path / "voiceagent" / "models" / "prompt-cache"))
    assert "m-4-ctx2048-llama" in folder
    server.log_path.unlink()
    plain = llama_server.LlamaServer(model_path=model, n_ctx=2048, n_threads=1, n_threads_batch=2, prompt_cache=False)
    plain.launch()
    assert seen["cmd"][1:3] == ["-m", "voiceagent.providers.local.llama_child"] and "--cache" not in seen["cmd"]
    assert CACHE_DIR_ENV not in seen["env"]
    plain.log_path.unlink()


@pytest.mark.needs_local("llama_cpp")
def test_the_server_gets_burst_threads_only_above_its_own_count(tmp_path, monkeypatch, seen):
    from voiceagent.providers.local import llama_server
    from voiceagent.providers.local.burst_threads import BURST_ENV
    from voiceagent.providers.local.llm import LocalLLM

    monkeypatch.setenv(BURST_ENV, "7")  # the parent's own setting never leaks into the child
    model = tmp_path / "m.gguf"
    model.write_bytes(b"1234")
    for burst, expected in ((2, "2"), (1, None), (0, None)):
        server = llama_server.LlamaServer(
            model_path=model, n_ctx=2048, n_threads=1, n_threads_batch=2, burst_threads=burst, prompt_cache=False
        )
        server.launch()
        assert seen["env"].get(BURST_ENV) == expected, burst
        server.log_path.unlink()
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    default = LocalLLM(model_path=model, prompt_cache=False)
    assert (default.n_threads, default.burst_threads) == (1, 2)  # two cores: one thread, two for a first sentence
    assert LocalLLM(model_path=model, burst_threads=0).burst_threads == 0
