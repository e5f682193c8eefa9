"""Grammar-constrained sampling that checks the grammar only when it must (the embedded LLM).

llama-cpp-python applies a GBNF grammar as one sampler of its chain: before every token the
grammar is matched against all 151,936 candidates of Qwen2.5's vocabulary. Measured on this
2-core machine with the structured rounds' decision grammar: 46-71 ms per decoded token with the
grammar against 26-33 ms without it, so the grammar cost more than the model.

:class:`LazyGrammarSampler` does what llama.cpp's own ``common_sampler_sample`` does
(https://github.com/ggml-org/llama.cpp/blob/master/common/sampling.cpp): sample with the
ordinary chain (logit biases, penalties, top-k ... or greedy), then ask the grammar about that
one token; only when the grammar rejects it are all candidates matched and the token sampled
again from the allowed ones. Inside a ``say`` string nearly every token is allowed, so nearly
every step costs one check. With greedy decoding (temperature 0, the structured rounds' default)
the result is the same token the full grammar gives: the best token is allowed, or the best
allowed token is chosen. With temperature > 0 an allowed token is drawn from the unconstrained
distribution first, as llama.cpp's server does.

:func:`install` makes every ``llama_cpp.Llama`` of the process sample this way; the server
process (:mod:`voiceagent.providers.local.llama_child`) calls it before the model is built.
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

import numpy as np

__all__ = ["LazyGrammarSampler", "install"]


class LazyGrammarSampler:
    """A grammar sampler in front of an ordinary llama-cpp-python sampler chain.

    Has the one method ``Llama.sample`` calls on its sampler, :meth:`sample`.

    Args:
        chain: the chain without the grammar (``llama_cpp._internals.LlamaSampler``; kept alive
            here, freed with it).
        grammar_sampler: ``llama_sampler_init_grammar``'s result (not null); freed with this object.
        n_vocab: the model's vocabulary size (candidates per step).
    """

    def __init__(self, chain: Any, grammar_sampler: Any, n_vocab: int) -> None:
        import llama_cpp

        self._llama = llama_cpp
        self.chain = chain
        self.grammar = grammar_sampler
        self.n_vocab = n_vocab
        self._data = (llama_cpp.llama_token_data * n_vocab)()
        self._view = np.ctypeslib.as_array(self._data)
        self._ids = np.arange(n_vocab, dtype=np.int32)
        self._one: Any = (llama_cpp.llama_token_data * 1)()
        self.checked = 0
        """Tokens the grammar allowed at the first check (one candidate matched)."""
        self.resampled = 0
        """Tokens sampled again after matching every candidate against the grammar."""

    def _candidates(self, ctx: Any, idx: int) -> Any:
        logits = np.ctypeslib.as_array(self._llama.llama_get_logits_ith(ctx.ctx, idx), shape=(self.n_vocab,))
        self._view["id"] = self._ids
        self._view["logit"] = logits
        self._view["p"] = 0.0
        return self._llama.llama_token_data_array(data=self._data, size=self.n_vocab, selected=-1, sorted=False)

    def _allowed(self, token: int) -> bool:
        self._one[0].id = token
        self._one[0].logit = 0.0
        self._one[0].p = 0.0
        one = self._llama.llama_token_data_array(data=self._one, size=1, selected=-1, sorted=False)
        self._llama.llama_sampler_apply(self.grammar, ctypes.byref(one))
        return not math.isinf(self._one[0].logit)

    def sample(self, ctx: Any, idx: int = -1) -> int:
        """The next token for the logits at ``idx`` of ``ctx`` (a ``LlamaContext``); both the
        chain and the grammar accept it.
        """
        llama = self._llama
        cur = self._candidates(ctx, idx)
        llama.llama_sampler_apply(self.chain.sampler, ctypes.byref(cur))
        token = int(cur.data[cur.selected].id)
        if self._allowed(token):
            self.checked += 1
        else:
            self.resampled += 1
            cur = self._candidates(ctx, idx)
            llama.llama_sampler_apply(self.grammar, ctypes.byref(cur))
            llama.llama_sampler_apply(self.chain.sampler, ctypes.byref(cur))
            token = int(cur.data[cur.selected].id)
        llama.llama_sampler_accept(self.grammar, token)
        llama.llama_sampler_accept(self.chain.sampler, token)
        return token

    def close(self) -> None:
        """Free the grammar sampler (the chain frees itself). Idempotent."""
        if self.grammar is not None:
            self._llama.llama_sampler_free(self.grammar)
            self.grammar = None

    def __del__(self) -> None:
        self.close()


def install() -> None:
    """Make ``llama_cpp.Llama`` build a :class:`LazyGrammarSampler` whenever a completion has a
    grammar (``Llama._init_sampler``, called once per completion). A grammar llama.cpp cannot
    parse falls back to the library's own sampler. Idempotent.
    """
    import llama_cpp

    original = llama_cpp.Llama._init_sampler
    if getattr(original, "lazy_grammar", False):
        return

    def _init_sampler(self: Any, **kwargs: Any) -> Any:  # the library passes keywords only
        grammar = kwargs.pop("grammar", None)
        if grammar is None:
            return original(self, **kwargs)
        grammar_sampler = llama_cpp.llama_sampler_init_grammar(
            self._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
        )
        if not grammar_sampler:
            return original(self, grammar=grammar, **kwargs)
        return LazyGrammarSampler(original(self, **kwargs), grammar_sampler, self._n_vocab)

    _init_sampler.lazy_grammar = True  # type: ignore[attr-defined]
    setattr(llama_cpp.Llama, "_init_sampler", _init_sampler)  # noqa: B010
