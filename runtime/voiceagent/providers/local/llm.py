"""The embedded LLM: Qwen2.5-Coder-0.5B-Instruct (GGUF, from PyPI) served by llama.cpp.

Design: :class:`LocalLLM` starts llama-cpp-python's OpenAI-compatible server
(``python -m llama_cpp.server``, https://llama-cpp-python.readthedocs.io/en/latest/server/) as a
child process on 127.0.0.1 and talks to it with the same :class:`OpenAICompatLLM` that serves
Electron and OpenAI endpoints. The server renders the model's own chat template (GGUF
``tokenizer.chat_template``), which lists the offered tools inside ``<tools></tools>`` in the
system message and asks for ``<tool_call>{"name": ..., "arguments": ...}</tool_call>``; those
calls come back as text and :mod:`voiceagent.providers.toolcall_text` turns them into
:class:`ToolCallRequest`. When the runtime forces a tool (``tool_choice`` naming a function) the
server constrains the output with a grammar built from that tool's JSON schema; for
``"required"`` a grammar allowing exactly one call to any offered tool is sent (both written in
:mod:`voiceagent.providers.local.chat_format`).

llama.cpp keeps the KV cache of the previous prompt and reuses its longest common prefix, so a
system prompt (and tool list) that stays identical across turns is evaluated once:
:meth:`LocalLLM.warm_up` pre-fills it before the caller speaks, and the server keeps that state
on disk for the next run (:mod:`voiceagent.providers.local.llama_server`). The 0.5B model is weak
at deciding and answering around tools: by default (``structured=True``) every round with
functions is one grammar-constrained decision (:mod:`voiceagent.providers.structured`), and
:mod:`voiceagent.providers.local.guidance` holds the deterministic help (measurements there).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from voiceagent.providers.base import (
    ChatRequest,
    LLMCapabilities,
    LLMEvent,
    TextDelta,
    ToolCallRequest,
    Usage,
)
from voiceagent.providers.local.call_repair import repaired_call
from voiceagent.providers.local.chat_format import render_history, required_call_grammar
from voiceagent.providers.local.guidance import (
    ToolNameGate,
    answer_request_parts,
    answered_tools,
    direct_call,
    grounded,
    without_replies,
)
from voiceagent.providers.local.llama_server import LlamaServer, single_token_id
from voiceagent.providers.openai_compat import OpenAICompatLLM
from voiceagent.providers.structured.gates import SentenceGate
from voiceagent.providers.structured.prompt import SecondPerson
from voiceagent.providers.structured.rounds import StructuredRounds, last_call_kind

__all__ = ["LOCAL_MODEL_NAME", "LocalLLM", "render_history", "required_call_grammar"]

LOCAL_MODEL_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m"
_DEFAULT_SYSTEM = "You are a helpful voice assistant. Answer briefly."


class LocalLLM:
    """:class:`voiceagent.providers.base.LLM` on the embedded Qwen2.5-0.5B model.

    base_url: an already running OpenAI-compatible server (e.g. ``http://127.0.0.1:8080/v1``);
        when None (default) a llama.cpp server is started (:meth:`prestart`, or on first use)
        and stopped by :meth:`aclose` (and at interpreter exit).
    model_path: the GGUF (default: :func:`voiceagent.providers.local.gguf.ensure_gguf`).
    n_ctx: context window (tokens).
    n_threads: decoding threads; default half the cores (1 on a 2-core machine): llama.cpp's
        threads spin-wait, so when STT/TTS or other processes compete for the cores, 2 threads
        on 2 cores fell to 2-7 tokens/s while 1 thread held 19-26 tokens/s (measured here).
    n_threads_batch: prompt-evaluation threads (default: all cores, at most 4).
    burst_threads: decoding threads for each completion's first sentence, while STT and TTS
        are idle (default: ``n_threads_batch``; at or below ``n_threads``: off), only for a
        server started here (:mod:`voiceagent.providers.local.burst_threads`).
    prompt_cache: keep evaluated prompt states on disk across runs
        (:mod:`voiceagent.providers.local.llama_server`); only for a server started here.
    structured: each round is one grammar-constrained decision
        (:mod:`voiceagent.providers.structured`: ``{"say"}``, ``{"call"}``, ``{"goto"}`` or
        ``{"verify"}`` from the state's own tools and transitions, prompt built for small models);
        default on. Off: the model's own ``<tool_call>`` format with the guidance below. The
        answer after an ordinary tool's result always takes the guided words-only path.
    guided: small-model help from :mod:`voiceagent.providers.local.guidance` (default on): a
        tool call fully determined by the caller's words is made without asking the model, and
        after tool results (or with ``tool_choice="none"``) the model must answer in words
        (after tool results with greedy decoding: at 0.3 the same facts gave a refusal one run
        in four here, and without the agent's earlier replies, which it copied instead of
        answering: :func:`~voiceagent.providers.local.guidance.without_replies`); sentences
        naming a tool are never spoken (asked once more, at 0.7, when nothing else was said).
    startup_timeout_s: how long to wait for the server to answer ``GET /v1/models``.
    timeout_s / deadline_s: as for :class:`OpenAICompatLLM` (generous: a cold CPU prompt takes
        seconds).

    Raises :class:`ProviderError` when llama-cpp-python or the model packages are missing, or the
    server does not start (with the tail of its log).
    """

    name = "local"
    capabilities = LLMCapabilities(warm_up=True, prestart=True, prefill=True)

    def __init__(
        self,
        *,
        base_url: str | None = None,
        model_path: str | Path | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_threads_batch: int | None = None,
        burst_threads: int | None = None,
        prompt_cache: bool = True,
        guided: bool = True,
        structured: bool = True,
        startup_timeout_s: float = 120.0,
        timeout_s: float = 60.0,
        deadline_s: float = 90.0,
    ) -> None:
        self.model = LOCAL_MODEL_NAME
        self.base_url = base_url.rstrip("/") if base_url else None
        cores = os.cpu_count() or 1
        self.n_threads = n_threads or max(1, min(4, cores // 2))
        self.n_threads_batch = n_threads_batch or max(1, min(4, cores))
        self.burst_threads = self.n_threads_batch if burst_threads is None else burst_threads
        self.guided = guided
        self.structured = structured
        self.rounds = StructuredRounds(self._send, constraint="grammar", guided=guided)
        """The structured rounds (their counters: ``repeats``, ``dropped_calls``, ``invalid``)."""
        self.timeout_s = timeout_s
        self.deadline_s = deadline_s
        self.server: LlamaServer | None = (
            None
            if self.base_url
            else LlamaServer(
                model_path=Path(model_path) if model_path else None,
                n_ctx=n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads_batch,
                burst_threads=self.burst_threads,
                prompt_cache=prompt_cache,
                startup_timeout_s=startup_timeout_s,
            )
        )
        self.direct_calls = 0
        """How many tool calls :mod:`~voiceagent.providers.local.guidance` made without the model."""
        self.dropped_calls = 0
        """How many model-written calls were dropped for arguments the caller never said."""
        self.dropped_sentences = 0
        """How many replies were asked again because every sentence named a tool."""
        self._client: OpenAICompatLLM | None = None
        self._call_token: int | None = None
        self._start_lock = asyncio.Lock()
        self._rewarm: asyncio.Task[float] | None = None

    @property
    def _proc(self) -> Any:
        """The server process this object started (None when not running or not ours)."""
        return self.server.proc if self.server else None

    # ------------------------------------------------------------------ lifecycle
    def prestart(self) -> None:
        """Launch the server process now without waiting for it to load the model (call it right
        after construction, from the thread that runs the call, so model loading overlaps STT/TTS
        loading and the greeting). Idempotent. Never raises: a server that cannot start is
        reported by the first :meth:`start` / :meth:`stream`.
        """
        if self.server is not None:
            with contextlib.suppress(Exception):  # reported again by start()
                self.server.launch()

    async def start(self) -> None:
        """Start (or connect to) the server and wait until it answers. Idempotent."""
        async with self._start_lock:
            if self._client is not None:
                return
            url = self.base_url or await self.server.url()  # type: ignore[union-attr]
            self._client = OpenAICompatLLM(
                base_url=url,
                api_key="local",
                model=self.model,
                name=self.name,
                timeout_s=self.timeout_s,
                max_retries=1,
                deadline_s=self.deadline_s,
                text_tool_calls=True,
                salvage_text_calls=True,
            )
            if self.guided and self.server is not None:  # our llama.cpp server: ask its tokenizer
                self._call_token = await single_token_id(url, "<tool_call>")

    async def aclose(self) -> None:
        """Close the client and stop the server this object started. Idempotent."""
        if self._rewarm is not None:
            self._rewarm.cancel()
            with contextlib.suppress(BaseException):
                await self._rewarm
            self._rewarm = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self.server is not None:
            await self.server.aclose()

    # ------------------------------------------------------------------ LLM
    def _prepare(self, request: ChatRequest, *, first_try: bool = True) -> tuple[ChatRequest, dict[str, Any] | None]:
        req = copy.copy(request)
        after_tools = bool(request.messages) and request.messages[-1].get("role") == "tool"
        history = without_replies(request.messages) if self.guided and after_tools else request.messages
        req.messages = render_history(history, call_text=not self.guided)
        extra = None
        if request.tools and request.tool_choice == "required":
            req.tool_choice = "auto"  # the grammar below does the forcing
            extra = {"grammar": required_call_grammar(request.tools)}
        elif self.guided and request.tools and request.tool_choice in ("auto", "none"):
            parts = answer_request_parts(req.messages, request.tool_choice, call_token=self._call_token)
            if parts is not None:
                req.messages, extra = parts
                req.tool_choice = "none"  # words only: calls written anyway are dropped
                if after_tools:
                    req.tools = answered_tools(request.messages, request.tools)
                    if first_try:
                        req.temperature = 0.0  # greedy: the answer from the facts is reproducible
        return req, extra

    async def stream(self, request: ChatRequest, *, deadline_s: float | None = None) -> AsyncIterator[LLMEvent]:
        """Stream a reply (see :meth:`OpenAICompatLLM.stream`); starts the server if needed.

        With ``guided`` (see the class docstring) a call the caller's words determine is yielded
        at once (then a :class:`Usage` without tokens) and the model is not asked; after tool
        results the reply is words only. With ``tool_choice="none"`` calls the model writes
        anyway are dropped (never spoken).
        """
        if self.guided and request.tools and request.tool_choice == "auto":
            call = direct_call(request.messages, request.tools)
            if call is not None:
                self.direct_calls += 1
                yield call
                yield Usage()
                return
        # The answer after an ordinary tool's result is words only either way; the guided path
        # (key: value facts, the answer hint, greedy) answered from the facts where a say-only
        # decision said "Goodbye, please have a nice day." after a look-up.
        if self.structured and request.tools and last_call_kind(request.messages) != "tool":
            async for event in self.rounds.stream(request):
                yield event
            return
        answer = ""
        async for event in self._generate(request, deadline_s=deadline_s):
            if isinstance(event, TextDelta):
                answer += event.text
            yield event
        if self.structured and request.tools and answer.strip():
            self._rewarm_after(request, answer)

    def _rewarm_after(self, request: ChatRequest, answer: str) -> None:
        """Evaluate the next structured round's prompt in the background while the caller hears
        ``answer``. The answer after a tool uses the model's own chat template, so llama.cpp's
        cached prefix then is that prompt and the next structured round re-evaluated its whole
        system prompt (about 1 s on 2 cores, measured: first decoded token 0.98 s after such an
        answer, 0.27 s otherwise). llama.cpp serves one request at a time: a turn that starts
        meanwhile waits for this (at most the same evaluation it would have done).
        """
        if self._rewarm is not None and not self._rewarm.done():
            return
        nxt = copy.copy(request)
        nxt.messages = [*request.messages, {"role": "assistant", "content": answer.strip()}]
        nxt.tool_choice = "auto"
        self._rewarm = asyncio.get_running_loop().create_task(self.prefill(nxt))
        self._rewarm.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _send(self, request: ChatRequest, extra: dict[str, Any]) -> AsyncIterator[LLMEvent]:
        """Stream ``request`` from the server with ``extra`` body fields (structured rounds)."""
        await self.start()
        assert self._client is not None
        client = self._client.with_extra_body(extra)
        client.text_tool_calls = False  # the decision JSON is text here, parsed by the rounds
        async for event in client.stream(request):
            yield event

    async def _generate(
        self, request: ChatRequest, *, deadline_s: float | None = None, retry: bool = True
    ) -> AsyncIterator[LLMEvent]:
        await self.start()
        assert self._client is not None
        req, extra = self._prepare(request, first_try=retry)
        plain = client = self._client
        if extra:
            client = client.with_extra_body(extra)
        gate = (
            ToolNameGate([t.get("function", {}).get("name") for t in request.tools])
            if self.guided and request.tools
            else None
        )
        person = SecondPerson() if self.guided else None  # "the caller's account" -> "your account"
        answer = SentenceGate.for_answer(request.messages) if self.guided else None
        calls: list[ToolCallRequest] = []
        spoke = False
        alive = False
        async for event in client.stream(req, deadline_s=deadline_s):
            if isinstance(event, ToolCallRequest):
                if req.tool_choice != "none":
                    calls.append(event)
                continue
            if isinstance(event, TextDelta):
                text = gate.feed(event.text) if gate else event.text
                text = answer.feed(text) if answer else text
                spoke = spoke or bool(text.strip())
                text = person.feed(text) if person else text
                if text or not alive:
                    # the first decoded word is yielded at once (as "" while its sentence is
                    # still checked): the session's round timeout counts until the model answers
                    alive = True
                    yield TextDelta(text)
                continue
            if isinstance(event, Usage):
                tail = gate.finish() if gate else ""
                if answer:
                    tail = answer.feed(tail) + answer.finish(keep_repeat=False, keep_refusal=not retry)
                spoke = spoke or bool(tail.strip())
                tail = person.feed(tail) + person.finish() if person else tail
                if tail:
                    yield TextDelta(tail)
                kept = 0
                for written in calls:
                    call = await repaired_call(
                        written, request, lambda forced: plain.stream(self._prepare(forced)[0], deadline_s=deadline_s)
                    )
                    if self.guided and not grounded(call, request.tools, request.messages):
                        self.dropped_calls += 1
                        continue
                    kept += 1
                    yield call
                again: ChatRequest | None = None
                only_dropped = bool(gate and gate.dropped) or bool(answer and answer.dropped_all)
                if calls and not kept and not spoke:  # only invented calls: ask for words
                    again = copy.copy(request)
                    again.tool_choice = "none"
                elif only_dropped and not spoke and not kept and retry:
                    self.dropped_sentences += 1  # it only talked about its tools, or only repeated
                    again = copy.copy(request)
                    again.temperature = max(0.7, request.temperature)
                if again is not None:
                    async for event2 in self._generate(again, deadline_s=deadline_s, retry=False):
                        yield event2
                    return
            yield event

    async def warm_up(
        self,
        request: ChatRequest | None = None,
        *,
        system_prompt: str | None = None,
        tools: list[dict[str, Any]] | None = None,
    ) -> float:
        """Start the server and pre-fill the KV cache with the system prompt (and tools), so the
        first real turn only evaluates the caller's words. Returns the seconds it took.

        request: the first request the session will send (its messages are pre-filled), or give
        ``system_prompt`` / ``tools`` (a generic prompt when neither is given).
        """
        t0 = time.monotonic()
        if request is None:
            request = ChatRequest(
                messages=[
                    {"role": "system", "content": system_prompt or _DEFAULT_SYSTEM},
                    {"role": "user", "content": "Hello."},
                ],
                tools=list(tools or []),
            )
        return await self._probe(request, 4, t0)  # a few decode steps: the first ones are slow

    async def prefill(self, request: ChatRequest) -> float:
        """Evaluate ``request``'s prompt now (one decode step, output discarded) so that a request
        starting the same way later only evaluates what differs. Returns the seconds it took.

        For a speculative transcript: called with the session's next request built from an STT
        ``interim`` while the end-of-utterance silence runs, the final request then skips the
        prompt evaluation of the caller's words (see ``benchmarks/embedded_latency.py
        --prefill-interim``). llama.cpp serves one request at a time: a real request sent
        meanwhile waits for this one (at most one decode step after the prompt).
        """
        return await self._probe(request, 1, time.monotonic())

    async def _probe(self, request: ChatRequest, max_tokens: int, t0: float) -> float:
        probe = copy.copy(request)
        probe.max_tokens = max_tokens
        probe.tool_choice = "auto" if request.tool_choice != "none" else "none"
        counters = vars(self.rounds).copy()  # a cut-off probe is not a decision: keep the counts
        events = self.rounds.stream(probe, retry=False) if self.structured and probe.tools else self._generate(probe)
        try:
            async for _ in events:
                pass
        finally:
            for key in ("repeats", "dropped_calls", "verify_calls", "invented", "invalid", "intent_calls"):
                setattr(self.rounds, key, counters[key])
        return time.monotonic() - t0
