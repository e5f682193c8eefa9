"""A streaming chat LLM on any OpenAI-compatible endpoint (OpenAI, Smallest Electron, llama.cpp).

Wire format: OpenAI chat completions with ``stream=True`` and ``stream_options.include_usage``
(https://platform.openai.com/docs/api-reference/chat/streaming); Electron's variant (filler
``content`` before ``tool_calls`` deltas, ``X-Request-Id`` header, error envelope, 429/502/503
retry guidance) is in Smallest's Electron API reference:
https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/openapi/electron-openapi.yaml
"""

from __future__ import annotations

import copy
import email.utils
import random
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from voiceagent.providers.base import (
    ChatRequest,
    LLMCapabilities,
    LLMEvent,
    ProviderError,
    TextDelta,
    ToolCallRequest,
    Usage,
)
from voiceagent.providers.toolcall_text import TextToolCallFilter

__all__ = ["DEFAULT_OPENAI_BASE_URL", "RETRY_STATUSES", "OpenAICompatLLM"]

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"

_RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"
"""Request header with which the SDK's ``post()`` returns the raw response (what
``with_raw_response`` sets; ``openai._constants.RAW_RESPONSE_HEADER``, not imported: private)."""

RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""HTTP statuses worth another try (rate/concurrency limit, upstream unavailable, overloaded)."""


_WARM_CHUNK: dict[str, Any] = {
    "id": "warm-up",
    "object": "chat.completion.chunk",
    "created": 0,
    "model": "warm-up",
    "choices": [
        {
            "index": 0,
            "finish_reason": None,
            "delta": {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"index": 0, "id": "call_w", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
        }
    ],
    "usage": {
        "prompt_tokens": 1,
        "completion_tokens": 1,
        "total_tokens": 2,
        "prompt_tokens_details": {"cached_tokens": 0},
    },
}
"""A streamed chunk with every part :meth:`OpenAICompatLLM.stream` reads (text, a tool call,
usage), built once by :meth:`OpenAICompatLLM.warm_up` so the SDK's model classes are ready."""


@dataclass
class _PartialCall:
    id: str | None = None
    name: str = ""
    arguments: str = ""


def _retry_after_s(exc: BaseException) -> float | None:
    """Seconds from ``Retry-After`` / ``retry-after-ms`` on an HTTP error, if the server sent one
    (RFC 9110 §10.2.3: delay-seconds or an HTTP date).
    """
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUSES
    return isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError))


class OpenAICompatLLM:
    """:class:`voiceagent.providers.base.LLM` over the ``openai`` package's ``AsyncOpenAI``.

    base_url: the API root (None: ``https://api.openai.com/v1``), e.g. ``https://api.openai.com/v1``, ``https://api.smallest.ai/waves/v1``
        or ``http://127.0.0.1:PORT/v1`` (a llama.cpp server).
    api_key: sent as ``Authorization: Bearer``; never logged nor put in an error message.
    model: the ``model`` field of each request.
    timeout_s: per-attempt HTTP timeout (s): connecting, and waiting for each streamed chunk.
    max_retries: extra attempts after a 429/502/503/504, timeout or connection failure.
    deadline_s: total budget (s) for getting a response started, retries and their backoff
        included; a ``Retry-After`` longer than what is left ends the retries at once.
    text_tool_calls: also read tool calls that the model wrote into its text
        (:mod:`voiceagent.providers.toolcall_text`; for small local models); that JSON is never
        yielded as text.
    salvage_text_calls: with ``text_tool_calls``, keep calls whose JSON is broken but that
        clearly name an offered tool (arguments recovered or ``{}``; check them yourself).
    extra_body: fields merged into every request body (e.g. llama.cpp sampling options).

    ``stream()`` yields :class:`TextDelta` as content arrives, then every
    :class:`ToolCallRequest` (index order, native calls first), then one :class:`Usage` carrying the
    ``X-Request-Id`` response header. Raises :class:`ProviderError` (``status``, ``retryable``).
    """

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        model: str,
        name: str = "openai",
        timeout_s: float = 20.0,
        max_retries: int = 2,
        deadline_s: float = 30.0,
        default_headers: Mapping[str, str] | None = None,
        text_tool_calls: bool = False,
        salvage_text_calls: bool = False,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self.capabilities = LLMCapabilities(warm_up=True)
        self.base_url = (base_url or DEFAULT_OPENAI_BASE_URL).rstrip("/")
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.deadline_s = deadline_s
        self.text_tool_calls = text_tool_calls
        self.salvage_text_calls = salvage_text_calls
        self.extra_body = dict(extra_body or {})
        self._secret = api_key or ""
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=api_key or "no-key",
            max_retries=0,
            timeout=timeout_s,
            default_headers=dict(default_headers or {}),
        )

    def with_extra_body(self, extra: Mapping[str, Any]) -> OpenAICompatLLM:
        """A shallow copy sharing this client's connection pool, with ``extra`` merged into
        ``extra_body`` (this client is unchanged).
        """
        clone = copy.copy(self)
        clone.extra_body = {**self.extra_body, **extra}
        return clone

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAICompatLLM(name={self.name!r}, model={self.model!r}, base_url={self.base_url!r})"

    # ------------------------------------------------------------------ request
    def _body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        if request.tools:  # Electron: "Don't send tools: []"
            body["tools"] = request.tools
            body["tool_choice"] = request.tool_choice
        return body

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def _error(self, exc: BaseException, *, attempts: int) -> ProviderError:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if isinstance(exc, openai.APIStatusError):
            body = exc.body if isinstance(exc.body, dict) else {}
            if isinstance(body.get("error"), dict):
                body = body["error"]
            message = body.get("message") or exc.message
            kind = body.get("type")
            rid = exc.response.headers.get("x-request-id") or body.get("request_id")
            text = (
                f"{self.name} LLM request failed{tries}: HTTP {exc.status_code}"
                f"{f' {kind}' if kind else ''}: {message}"
                f"{f' (request id {rid})' if rid else ''}"
            )
            return ProviderError(self._scrub(text), retryable=exc.status_code in RETRY_STATUSES, status=exc.status_code)
        if isinstance(exc, openai.APITimeoutError):
            return ProviderError(
                f"{self.name} LLM request timed out{tries} "
                f"(per-attempt timeout {self.timeout_s:g} s) at {self.base_url}",
                retryable=True,
            )
        if isinstance(exc, openai.APIConnectionError):
            return ProviderError(
                self._scrub(f"{self.name} LLM: cannot connect to {self.base_url}{tries}: {exc.__cause__ or exc}"),
                retryable=True,
            )
        return ProviderError(self._scrub(f"{self.name} LLM failed: {type(exc).__name__}: {exc}"), retryable=False)

    async def _post(self, body: dict[str, Any], *, timeout: float) -> Any:
        """POST ``body`` (plain JSON) to ``/chat/completions`` as one attempt; the raw response.

        Goes through the client's public low-level ``post()`` rather than
        ``chat.completions.create(**body)``: ``create()`` runs the SDK's recursive TypedDict
        transform over every message and tool on every request, 5-17 ms of event-loop CPU growing
        with the conversation (docs/performance.md, Profile §1), and our body is already plain
        JSON. What ``create()`` adds is reproduced here: bearer auth, ``extra_body`` merged last
        (``extra_json``), the per-attempt timeout, and the raw-response header that makes
        ``post()`` return the response (headers + ``parse()`` into an ``AsyncStream`` of
        ``ChatCompletionChunk``). The JSON on the wire is the same (tests/llm/test_openai_compat_wire.py).
        """
        options: openai.RequestOptions = {
            "headers": {_RAW_RESPONSE_HEADER: "true"},
            "timeout": timeout,
            "security": {"bearer_auth": True},
        }
        if self.extra_body:
            options["extra_json"] = self.extra_body
        return await self._client.post(
            "/chat/completions",
            body=body,
            cast_to=ChatCompletion,
            stream=True,
            stream_cls=openai.AsyncStream[ChatCompletionChunk],
            options=options,
        )

    async def _open(self, body: dict[str, Any], deadline_s: float) -> Any:
        """Start the streamed request, retrying within the deadline. Returns the raw response."""
        start = time.monotonic()
        end = start + deadline_s

        def wait(rs: RetryCallState) -> float:
            exc = rs.outcome.exception() if rs.outcome else None
            hinted = _retry_after_s(exc) if exc else None
            if hinted is not None:
                return hinted
            return min(4.0, 0.25 * 2.0 ** (rs.attempt_number - 1)) * (0.5 + random.random() / 2)

        def stop(rs: RetryCallState) -> bool:
            return rs.attempt_number > self.max_retries or time.monotonic() + rs.upcoming_sleep >= end

        attempts = 0
        try:
            async for attempt in AsyncRetrying(
                stop=stop, wait=wait, reraise=True, retry=retry_if_exception(_is_retryable)
            ):
                with attempt:
                    attempts += 1
                    left = end - time.monotonic()
                    if left <= 0:
                        raise openai.APITimeoutError(request=None)  # type: ignore[arg-type]
                    return await self._post(body, timeout=min(self.timeout_s, left))
        except openai.OpenAIError as exc:
            if isinstance(exc, openai.APITimeoutError) and time.monotonic() >= end - 0.05:
                raise ProviderError(
                    f"{self.name} LLM gave no response within the {deadline_s:g} s deadline"
                    f"{f' ({attempts} attempts)' if attempts > 1 else ''}",
                    retryable=True,
                ) from None
            raise self._error(exc, attempts=attempts) from None
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ stream
    async def stream(self, request: ChatRequest, *, deadline_s: float | None = None) -> AsyncIterator[LLMEvent]:
        """Stream one completion (see the class docstring for the event order).

        deadline_s: overrides the instance's total budget for getting the response started.
        Cancelling the consuming task closes the HTTP response.
        """
        raw = await self._open(self._body(request), self.deadline_s if deadline_s is None else deadline_s)
        request_id = raw.headers.get("x-request-id")
        tool_names = [t.get("function", {}).get("name") for t in request.tools]
        text_filter = (
            TextToolCallFilter([n for n in tool_names if n], salvage=self.salvage_text_calls)
            if self.text_tool_calls
            else None
        )
        partial: dict[int, _PartialCall] = {}
        usage: Usage | None = None
        stream = raw.parse()
        try:
            async for chunk in stream:
                if chunk.usage is not None:
                    details = chunk.usage.prompt_tokens_details
                    usage = Usage(
                        prompt_tokens=chunk.usage.prompt_tokens or 0,
                        completion_tokens=chunk.usage.completion_tokens or 0,
                        cached_tokens=(details.cached_tokens or 0) if details else 0,
                        request_id=request_id,
                    )
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta is None:
                        continue
                    if delta.content:
                        text = text_filter.feed(delta.content) if text_filter else delta.content
                        if text:
                            yield TextDelta(text)
                    for tc in delta.tool_calls or []:
                        slot = partial.setdefault(tc.index if tc.index is not None else len(partial), _PartialCall())
                        slot.id = tc.id or slot.id
                        if tc.function is not None:
                            name = tc.function.name or ""
                            # llama.cpp's server repeats the whole name in every delta
                            if name and name != slot.name:
                                slot.name += name
                            slot.arguments += tc.function.arguments or ""
        except openai.OpenAIError as exc:
            raise self._error(exc, attempts=1) from None
        except (ConnectionError, OSError) as exc:  # pragma: no cover - transport specific
            raise ProviderError(f"{self.name} LLM stream broke: {type(exc).__name__}", retryable=True) from None
        except Exception as exc:  # httpx/httpx2 read errors mid-stream
            if type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "h11"):
                raise ProviderError(
                    f"{self.name} LLM stream broke: {type(exc).__name__}: {self._scrub(str(exc))}", retryable=True
                ) from None
            raise
        finally:
            await stream.close()

        if text_filter is not None:
            tail = text_filter.finish()
            if tail:
                yield TextDelta(tail)
        for index in sorted(partial):
            call = partial[index]
            if not call.name:
                continue
            yield ToolCallRequest(
                id=call.id or f"call_{uuid.uuid4().hex[:16]}", name=call.name, arguments=call.arguments or "{}"
            )
        if text_filter is not None:
            for text_call in text_filter.calls:
                yield text_call
        yield usage or Usage(request_id=request_id)

    async def warm_up(self, request: ChatRequest | None = None) -> float:
        """Do now the one-off client-side work of the first request; sends nothing.

        ``engine.warmup`` calls this (positionally, with the session's first request, which is
        not needed here) while the greeting plays. Measured first request of a process: ~36 ms
        of event-loop CPU against ~3 ms for later ones (docs/performance.md, Profile §4), mostly
        anyio's lazily imported asyncio backend (~17 ms, pulled in by the HTTP connection pool's
        first lock) and building the SDK's streamed-chunk models (~10 ms). Both are done here
        through public APIs. Opening the HTTP connection early is left out: not every
        OpenAI-compatible server has a cheap endpoint for it.

        Returns the seconds it took. Raises nothing beyond an unexpected import failure.
        """
        started = time.monotonic()
        import anyio

        anyio.Event()  # first anyio primitive in a running loop imports its asyncio backend
        ChatCompletionChunk.model_construct(**_WARM_CHUNK)
        return time.monotonic() - started

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()
