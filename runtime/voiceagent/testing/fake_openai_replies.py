"""Scripted replies and recorded requests of :class:`voiceagent.testing.fake_openai.FakeOpenAI`.

Import them from ``voiceagent.testing.fake_openai``. Shapes follow the OpenAI chat-completions API
and Smallest Electron's variant: https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/openapi/electron-openapi.yaml
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from voiceagent.testing._http import STATUS_TEXT  # noqa: F401 - re-exported for old imports

__all__ = ["ErrorReply", "RecordedRequest", "Reply", "ReplyFactory", "TextReply", "ToolCall", "ToolCallReply"]

# --------------------------------------------------------------------------- replies


@dataclass
class TextReply:
    """Stream ``text`` as content deltas.

    chunks: explicit content pieces; default: ``text`` split into words (spaces kept).
    first_token_delay_s: pause (s) after the role chunk before the first content chunk.
    chunk_delay_s: pause (s) between content chunks.
    headers_delay_s: pause (s) before the HTTP status line is sent (a slow server).
    abort_after_chunks: drop the connection after this many content chunks (a broken stream).
    usage: override the usage numbers (``prompt_tokens``, ``completion_tokens``, ``cached_tokens``).
    finish_reason: sent on the last chunk (``stop`` or ``length``).
    """

    text: str = "ok."
    chunks: list[str] | None = None
    first_token_delay_s: float = 0.0
    chunk_delay_s: float = 0.0
    headers_delay_s: float = 0.0
    abort_after_chunks: int | None = None
    usage: dict[str, int] | None = None
    finish_reason: str = "stop"

    def pieces(self) -> list[str]:
        """The content pieces to stream."""
        if self.chunks is not None:
            return list(self.chunks)
        return split_words(self.text)


@dataclass
class ToolCall:
    """One tool call: ``arguments`` is a dict (JSON-encoded on the wire) or a raw JSON string."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        """The arguments as the JSON string sent on the wire."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass
class ToolCallReply:
    """Optional filler content, then one or several (parallel) tool calls, ``finish_reason:
    "tool_calls"``. Each call's arguments stream in ``argument_pieces`` parts (Electron's order).
    """

    calls: list[ToolCall]
    filler: str | None = None
    first_token_delay_s: float = 0.0
    chunk_delay_s: float = 0.0
    headers_delay_s: float = 0.0
    argument_pieces: int = 2
    usage: dict[str, int] | None = None


@dataclass
class ErrorReply:
    """An HTTP error with the OpenAI error envelope.

    type: ``error.type``; default from the status (401 ``authentication_error``, 429
    ``rate_limit_error``, 400 ``invalid_request_error``, else ``server_error``).
    retry_after: seconds for a ``Retry-After`` header (omitted when None).
    """

    status: int
    message: str | None = None
    type: str | None = None
    retry_after: float | None = None
    headers_delay_s: float = 0.0


Reply = TextReply | ToolCallReply | ErrorReply | str
ReplyFactory = Callable[["RecordedRequest"], Reply | Awaitable[Reply]]


@dataclass
class RecordedRequest:
    """One request the server received. ``headers`` keys are lower-case; ``body`` is the parsed
    JSON (``None`` when absent or not JSON). ``disconnected`` turns True when the client went away
    before the response was complete (e.g. a cancelled stream).
    """

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw_body: bytes
    request_id: str = ""
    disconnected: bool = False
    completed: bool = False

    def __repr__(self) -> str:
        """Like the dataclass repr, with the ``authorization`` header's value masked (the fake may
        be handed a real key; assertion messages and logs print this).
        """
        headers = {k: ("***" if k == "authorization" else v) for k, v in self.headers.items()}
        return (
            f"RecordedRequest(method={self.method!r}, path={self.path!r}, headers={headers!r}, "
            f"body={self.body!r}, request_id={self.request_id!r}, "
            f"disconnected={self.disconnected!r}, completed={self.completed!r})"
        )


ERROR_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}
ERROR_MESSAGE = {
    400: "Invalid input data",
    401: "Invalid API key",
    403: "No access to this model",
    404: "Not found",
    429: "Concurrency limit reached",
    502: "Upstream unavailable",
    503: "Service overloaded",
}
CHAT_PATHS = ("/v1/chat/completions", "/waves/v1/chat/completions")


def split_words(text: str) -> list[str]:
    """``text`` cut before each space that follows a word, spaces kept: ``"a b  c"`` ->
    ``["a", " b", "  c"]``; the pieces join back to ``text``.
    """
    pieces: list[str] = []
    cur = ""
    for ch in text:
        if ch == " " and cur.strip():
            pieces.append(cur)
            cur = ""
        cur += ch
    if cur:
        pieces.append(cur)
    return pieces
