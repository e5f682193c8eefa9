"""HTTP tools (agent-format.md "tools", ``http:``) on ``httpx.AsyncClient``.

``method``, ``url``, ``headers``, ``query``, ``json`` (string values, recursively) and ``body``
are sandboxed Jinja2 templates (:mod:`voiceagent.templating`) rendered with
:meth:`ToolContext.template_context` (``args``, ``caller``, ``session``, ``variables`` and each
variable by name, ``now``). A ``json`` or ``query`` string that is exactly one ``{{ expression }}``
keeps the expression's JSON type (``"{{ args.amount }}"`` sends a number, not ``"12.5"``);
undefined values there become ``null`` (JSON) or are left out (query).

A non-2xx answer is a tool failure ``HTTP <status>: <excerpt>``; a JSON answer (by
Content-Type, or text that parses) is returned parsed, anything else as text, at most
``MAX_TEXT_CHARS`` characters. The request URL is never put in error messages (it may hold
tokens).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import httpx

from voiceagent.config.models import HttpTool
from voiceagent.engine.tool_schema import ToolFailure
from voiceagent.templating import evaluate, render

__all__ = ["MAX_ERROR_EXCERPT", "MAX_TEXT_CHARS", "HttpToolCaller", "render_value"]

MAX_TEXT_CHARS = 8000
MAX_ERROR_EXCERPT = 200
_WHOLE_EXPR = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}\s*$", re.DOTALL)
_JSON_SCALARS = (str, int, float, bool, type(None))


def render_value(value: Any, context: Mapping[str, Any], *, keep_types: bool = True) -> Any:
    """Render every string inside ``value`` (dicts, lists) as a template.

    With ``keep_types``, a string that is exactly one ``{{ expression }}`` evaluates to the
    expression's value when it is JSON data (str, number, bool, None, list, dict).
    """
    if isinstance(value, str):
        if keep_types:
            m = _WHOLE_EXPR.match(value)
            if m:
                result = evaluate(m["expr"].strip(), context)
                if isinstance(result, _JSON_SCALARS) or _is_json_data(result):
                    return result
                return str(result)
        return render(value, context)
    if isinstance(value, Mapping):
        return {str(k): render_value(v, context, keep_types=keep_types) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [render_value(v, context, keep_types=keep_types) for v in value]
    return value


def _is_json_data(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return isinstance(value, (list, dict))


class HttpToolCaller:
    """Performs HTTP tool requests; owns its client only when none was given."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client
        self._owned = client is None

    def _get_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=True)
        return self._client

    def build_request(self, spec: HttpTool, args: Mapping[str, Any], ctx: Any) -> httpx.Request:
        """The rendered request (no I/O). Raises TemplateError for broken templates."""
        tctx = ctx.template_context(args)
        method = render(spec.method, tctx).strip().upper() or "POST"
        url = render(spec.url, tctx).strip()
        headers = {k: render(v, tctx) for k, v in spec.headers.items()}
        params = None
        if spec.query:
            params = {}
            for k, v in render_value(spec.query, tctx).items():
                if v is None:
                    continue
                params[k] = json.dumps(v) if isinstance(v, dict) else v
                if isinstance(v, bool):
                    params[k] = "true" if v else "false"
        kwargs: dict[str, Any] = {"headers": headers, "params": params}
        if spec.json_body is not None:
            kwargs["json"] = render_value(spec.json_body, tctx)
        elif spec.body is not None:
            kwargs["content"] = render(spec.body, tctx).encode("utf-8")
        return self._get_client().build_request(method, url, **kwargs)

    async def call(self, spec: HttpTool, args: Mapping[str, Any], ctx: Any) -> Any:
        """Send the request and return the parsed answer.

        Raises:
            ToolFailure: non-2xx status, timeout (``spec.timeout_ms``) or transport error.
            TemplateError: a template fails to render.
        """
        request = self.build_request(spec, args, ctx)
        timeout = spec.timeout_ms / 1000.0
        request.extensions["timeout"] = httpx.Timeout(timeout).as_dict()
        try:
            response = await self._get_client().send(request)
        except httpx.TimeoutException:
            raise ToolFailure(f"HTTP request timed out after {spec.timeout_ms} ms") from None
        except httpx.HTTPError as exc:
            raise ToolFailure(f"HTTP request failed: {type(exc).__name__}") from None
        try:
            payload = _payload(response)
        finally:
            await response.aclose()
        if not response.is_success:
            excerpt = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
            excerpt = " ".join(excerpt.split())
            if len(excerpt) > MAX_ERROR_EXCERPT:
                excerpt = excerpt[: MAX_ERROR_EXCERPT - 3] + "..."
            reason = response.reason_phrase or ""
            msg = f"HTTP {response.status_code}{(' ' + reason) if reason else ''}"
            raise ToolFailure(f"{msg}: {excerpt}" if excerpt else msg)
        return payload

    async def aclose(self) -> None:
        """Close the client if this caller created it."""
        if self._owned and self._client is not None:
            await self._client.aclose()
            self._client = None


def _payload(response: httpx.Response) -> Any:
    text = response.text
    ctype = response.headers.get("content-type", "").lower()
    if "json" in ctype or text[:1] in ("{", "["):
        try:
            return json.loads(text) if text.strip() else None
        except json.JSONDecodeError:
            pass
    if len(text) > MAX_TEXT_CHARS:
        return text[:MAX_TEXT_CHARS] + " [truncated]"
    return text
