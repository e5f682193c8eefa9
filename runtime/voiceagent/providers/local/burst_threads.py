"""More decoding threads for the start of each completion, while nothing else needs the cores.

The embedded LLM decodes with one thread on a 2-core machine: llama.cpp's threads spin-wait at
every barrier, so while Piper (TTS) or Whisper (STT) also ran, 2 threads on 2 cores fell to 2-7
tokens/s where 1 thread held 19-26 (:class:`~voiceagent.providers.local.llm.LocalLLM`). But when
a turn's first round starts, the recognizer has just finished and the TTS waits for that round's
first sentence: both cores are idle. Measured on this machine with nothing else running
(Qwen2.5-0.5B Q4, greedy): 36-44 ms per token with one thread, 25-26 ms with two.

:func:`install` makes every ``llama_cpp.Llama`` of the process decode the first tokens of each
completion with ``burst`` threads and go back to its own thread count after the first sentence
ends (a token holding ``.``, ``?`` or ``!``), when the TTS starts speaking it, or after
``max_tokens`` tokens. ``llama_set_n_threads`` (llama.cpp's ``llama.h``:
https://github.com/ggml-org/llama.cpp/blob/master/include/llama.h) changes the count between
two decodes; prompt evaluation keeps ``n_threads_batch``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BURST_ENV", "install"]

BURST_ENV = "VOICEAGENT_LLM_BURST_THREADS"
"""Environment variable the server process reads: decoding threads for a completion's start."""

_SENTENCE_END = frozenset(".?!")


def install(burst: int, *, max_tokens: int = 32) -> None:
    """Decode the start of every completion with ``burst`` threads (see the module docstring).

    Args:
        burst: threads for a completion's first tokens; at or below the model's own
            ``n_threads`` nothing changes.
        max_tokens: tokens decoded with ``burst`` threads at most (a tool call has no sentence
            end; its filler is spoken only when the call is complete).

    Wraps ``Llama._init_sampler`` (called once at the start of each completion) and
    ``Llama.eval``; idempotent.
    """
    import llama_cpp

    if getattr(llama_cpp.Llama.eval, "burst_threads", False):
        return
    start = llama_cpp.Llama._init_sampler
    evaluate = llama_cpp.Llama.eval

    def _set(llm: Any, threads: int) -> None:
        llama_cpp.llama_set_n_threads(llm._ctx.ctx, threads, llm.context_params.n_threads_batch)

    def _init_sampler(self: Any, **kwargs: Any) -> Any:
        steady = int(self.context_params.n_threads)
        if burst > steady:
            self._burst_left = max_tokens
            _set(self, burst)
        return start(self, **kwargs)

    def _eval(self: Any, tokens: Any) -> None:
        left = getattr(self, "_burst_left", 0)
        if left > 0 and len(tokens) == 1:  # a sampled token fed back (a prompt is longer)
            left -= 1
            piece = self.detokenize(list(tokens)).decode("utf-8", "ignore")
            if left <= 0 or _SENTENCE_END & set(piece):  # the TTS starts on this sentence now
                left = 0
                _set(self, int(self.context_params.n_threads))
            self._burst_left = left
        evaluate(self, tokens)

    _eval.burst_threads = True  # type: ignore[attr-defined]
    setattr(llama_cpp.Llama, "_init_sampler", _init_sampler)  # noqa: B010
    setattr(llama_cpp.Llama, "eval", _eval)  # noqa: B010
