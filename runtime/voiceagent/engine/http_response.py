"""Reading an HTTP tool's answer within bounds, and shaping what the model and the log see.

* The body is read as a stream and decompressed here (``gzip``, ``deflate``; RFC 9110 section
  8.4, https://www.rfc-editor.org/rfc/rfc9110#section-8.4) with a bounded output per step, so
  neither a 100 MB body nor a gzip bomb is ever held whole: reading stops after
  ``max_response_bytes`` decoded bytes.
* A JSON answer is parsed unless it was cut, is nested deeper than :data:`MAX_JSON_DEPTH`
  levels or does not parse; then it is text.
* :func:`cap_result` keeps what reaches the LLM and the event log to ``max_result_chars``
  characters, with a note saying it was cut.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

import httpx

from voiceagent.engine.tool_schema import ToolFailure

__all__ = ["MAX_JSON_DEPTH", "Body", "cap_result", "parse_payload", "read_body"]

MAX_JSON_DEPTH = 32
"""Deeper JSON answers are given to the model as (capped) text."""


@dataclass(frozen=True)
class Body:
    """A decoded response body: ``data`` (at most the limit), ``cut`` when more was sent."""

    data: bytes
    cut: bool


class _Inflater:
    """Bounded decompression: each :meth:`feed` returns at most ``room`` bytes (keeping the
    rest of the input for the next call).
    """

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        wbits = 16 + zlib.MAX_WBITS if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._z = zlib.decompressobj(wbits)
        self._raw_deflate_tried = encoding != "deflate"
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        try:
            out = self._z.decompress(data, room)
        except zlib.error:
            if self._raw_deflate_tried or self._started:
                raise
            # "deflate" answers are sometimes raw deflate without the zlib wrapper (RFC 9110 8.4.1.2)
            self._raw_deflate_tried = True
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._z.decompress(data, room)
        self._started = True
        return out

    @property
    def pending(self) -> bytes:
        return self._z.unconsumed_tail


async def read_body(response: httpx.Response, limit: int) -> Body:
    """Read and decode the body of a streamed ``response``, at most ``limit`` bytes.

    Raises:
        ToolFailure: an unsupported or broken ``Content-Encoding``.
    """
    try:
        content = response.content  # an in-memory answer (httpx.MockTransport) is read already
    except httpx.ResponseNotRead:
        pass
    else:
        return Body(content[:limit], len(content) > limit)
    encoding = response.headers.get("content-encoding", "").strip().lower()
    inflater: _Inflater | None = None
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = _Inflater(encoding)
    elif encoding not in ("", "identity"):
        raise ToolFailure(f"the answer uses an unsupported Content-Encoding ({encoding[:40]})")
    out = bytearray()
    try:
        async for raw in response.aiter_raw():
            if inflater is None:
                out += raw[: limit + 1 - len(out)]
            else:
                out += inflater.feed(raw, limit + 1 - len(out))
                while inflater.pending and len(out) <= limit:
                    out += inflater.feed(inflater.pending, limit + 1 - len(out))
            if len(out) > limit:
                return Body(bytes(out[:limit]), True)
    except zlib.error:
        raise ToolFailure(f"the answer could not be decoded ({encoding})") from None
    return Body(bytes(out), False)


def _depth_within(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


def parse_payload(body: Body, content_type: str, charset: str | None) -> Any:
    """The answer as JSON data when it is JSON (by ``content_type``, or text starting with
    ``{``/``[``) and complete, parsable and at most :data:`MAX_JSON_DEPTH` deep; else text
    (decoded with ``charset``, UTF-8 by default, undecodable bytes replaced).
    """
    try:
        text = body.data.decode(charset or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name
        text = body.data.decode("utf-8", errors="replace")
    if not body.cut and ("json" in content_type.lower() or text.lstrip()[:1] in ("{", "[")):
        if not text.strip():
            return None
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):  # also numbers over Python's digit limit
            return text
        if _depth_within(value, MAX_JSON_DEPTH):
            return value
    return text


def cap_result(value: Any, max_chars: int, *, cut_at_bytes: int | None = None) -> Any:
    """``value`` when its JSON text has at most ``max_chars`` characters; otherwise the first
    ``max_chars`` characters of its text with a note saying it was cut. ``cut_at_bytes``: the
    body was cut at that many bytes while reading (the note says so).
    """
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) <= max_chars and cut_at_bytes is None:
        return value
    if cut_at_bytes is not None:
        note = f" [truncated: the answer was larger than {cut_at_bytes} bytes"
    else:
        note = f" [truncated: the answer had {len(text)} characters"
    return text[:max_chars] + note + f"; the first {min(len(text), max_chars)} are shown]"
