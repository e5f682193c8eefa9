"""Proposed runtime optimisations, applied from outside so the benchmarks can measure before/after
without editing other engineers' modules. Each one is described (with the diff to make in the
real module) in docs/performance.md, "Profile".

* ``llm-raw-body``: send the chat-completions body as a plain dict through the ``openai``
  client's public ``post()`` instead of ``chat.completions.create(**body)``, which runs the SDK's
  recursive TypedDict ``async_transform`` over every message and tool on every request
  (2.5 ms for 5 messages, 13 ms for 41 on this machine: CPU that blocks the event loop for
  every call in the process). The wire body is the same JSON.

* ``pulse-40ms``: ``PulseStream`` sends 40 ms binary frames instead of 20 ms (``_min_chunk``):
  half the WebSocket messages and ``send`` syscalls for the caller's audio, the largest per-call
  CPU cost; the price is up to 20 ms (10 ms on average) more before Pulse has the audio that
  completes its end-of-utterance silence, and the same for ``speech_started`` (barge-in).

* ``llm-warm-up``: give ``OpenAICompatLLM`` the optional ``warm_up(request)`` that
  ``engine.warmup`` already calls while the greeting plays: import the SDK's lazily loaded chat
  resource and build the pydantic models of a streamed chunk, which otherwise happens inside the
  first caller turn (about 100 ms on this machine: ~70 ms import, ~35 ms model building).

* ``gc-freeze``: after start-up (agent loaded, providers imported, first call warmed), run
  ``gc.collect(); gc.freeze()`` so the collector's full (generation 2) passes no longer walk the
  hundreds of thousands of long-lived objects of the imported libraries (openai's pydantic types
  above all): one such pass stalled the event loop of 100 calls for ~100 ms.

Use: ``--patch llm-raw-body`` on turn_latency.py / concurrency.py / hot_paths.py.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

PATCHES = ("llm-raw-body", "pulse-40ms", "llm-warm-up", "gc-freeze")


class _RawBodyClient:
    """Wraps an ``openai.AsyncOpenAI``: ``chat.completions.with_raw_response.create(**body)``
    posts ``body`` as is (what OpenAICompatLLM._open calls); everything else is delegated."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.chat = SimpleNamespace(completions=SimpleNamespace(
            with_raw_response=SimpleNamespace(create=self._create)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def _create(self, *, timeout: Any = None, extra_body: Any = None, **body: Any) -> Any:
        from openai import AsyncStream
        from openai._base_client import make_request_options
        from openai.types.chat import ChatCompletion, ChatCompletionChunk

        if extra_body:
            body.update(extra_body)
        return await self._client.post(
            "/chat/completions", body=body, cast_to=ChatCompletion, stream=True,
            stream_cls=AsyncStream[ChatCompletionChunk],
            options=make_request_options(extra_headers={"X-Stainless-Raw-Response": "true"},
                                         timeout=timeout, security={"bearer_auth": True}))


def apply_llm_raw_body(llm: Any) -> Any:
    """Make an ``OpenAICompatLLM`` skip the SDK's request transform (see the module docstring)."""
    if not isinstance(llm._client, _RawBodyClient):
        llm._client = _RawBodyClient(llm._client)
    return llm


def apply_llm_warm_up(llm: Any) -> Any:
    """Add ``warm_up(request) -> seconds`` to an ``OpenAICompatLLM`` instance (no request is sent)."""
    import time

    async def warm_up(request: Any = None) -> float:
        t = time.monotonic()
        from openai.types.chat import ChatCompletionChunk

        client = llm._client._client if isinstance(llm._client, _RawBodyClient) else llm._client
        client.chat.completions  # noqa: B018 - the SDK imports this resource lazily
        ChatCompletionChunk.model_validate({
            "id": "warm", "object": "chat.completion.chunk", "created": 0, "model": llm.model,
            "choices": [{"index": 0, "finish_reason": None, "delta": {
                "role": "assistant", "content": "", "tool_calls": [{"index": 0, "id": "c", "type": "function",
                                                                    "function": {"name": "f", "arguments": "{}"}}]}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2,
                      "prompt_tokens_details": {"cached_tokens": 0}}})
        return time.monotonic() - t

    llm.warm_up = warm_up
    return llm


def apply_pulse_chunk(stt: Any, chunk_ms: int = 40) -> Any:
    """Make streams opened by a ``PulseSTT`` send ``chunk_ms`` binary frames (at least)."""
    opener = stt.open

    async def open_(**kwargs: Any) -> Any:
        stream = await opener(**kwargs)
        stream._min_chunk = stream.rate * chunk_ms // 1000 * 2
        return stream

    stt.open = open_
    return stt


def apply_process(names: list[str] | None) -> list[str]:
    """Process-wide patches (``gc-freeze``), to call once start-up is over; returns those applied."""
    import gc

    if "gc-freeze" in (names or []):
        gc.collect()
        gc.freeze()
        return ["gc-freeze"]
    return []


def apply(names: list[str] | None, *, llm: Any = None, stt: Any = None) -> list[str]:
    """Apply the named patches to the given objects; returns the names applied.

    Raises:
        ValueError: an unknown patch name.
    """
    applied = []
    for name in names or []:
        if name not in PATCHES:
            raise ValueError(f"unknown patch {name!r}; known: {', '.join(PATCHES)}")
        if name == "llm-raw-body" and llm is not None:
            apply_llm_raw_body(llm)
            applied.append(name)
        if name == "llm-warm-up" and llm is not None:
            apply_llm_warm_up(llm)
            applied.append(name)
        if name == "pulse-40ms" and stt is not None:
            apply_pulse_chunk(stt)
            applied.append(name)
    return applied
