"""The embedded LLM's server process: llama-cpp-python's OpenAI-compatible server, prepared.

``python -m voiceagent.providers.local.llama_child <llama_cpp.server arguments>`` (launched by
:class:`~voiceagent.providers.local.llama_server.LlamaServer`) installs, before the server
builds its model:

- :func:`voiceagent.providers.local.lazy_grammar.install`: a grammar is checked against the
  sampled token first, not against the whole vocabulary at every step;
- with ``VOICEAGENT_LLM_BURST_THREADS`` set, :func:`voiceagent.providers.local.burst_threads.install`:
  a completion's first sentence is decoded with that many threads;
- with ``VOICEAGENT_PROMPT_CACHE_DIR`` set (and ``--cache true --cache_type disk``),
  :func:`voiceagent.providers.local.prompt_cache.install`: evaluated prompts kept on disk.

then runs ``llama_cpp.server``'s own entry point with the same arguments. Server options:
https://llama-cpp-python.readthedocs.io/en/latest/server/
"""

from __future__ import annotations

import os
from collections.abc import Callable

from voiceagent.providers.local import burst_threads, lazy_grammar, prompt_cache

__all__ = ["main"]


def main() -> None:  # pragma: no cover - runs as the server process
    """Install the sampling and cache changes, then serve (``sys.argv`` are the server's)."""
    lazy_grammar.install()
    burst = os.environ.get(burst_threads.BURST_ENV, "")
    if burst.isdigit():
        burst_threads.install(int(burst))
    directory = os.environ.get(prompt_cache.CACHE_DIR_ENV)
    if directory:
        prompt_cache.install(directory)
    from llama_cpp.server.__main__ import main as untyped_main

    serve: Callable[[], object] = untyped_main  # the server's entry point is not annotated
    serve()


if __name__ == "__main__":  # pragma: no cover
    main()
