"""HTTP tools (``tools[].http`` in docs/agent-reference.md) on ``httpx.AsyncClient``.

``method``, ``url``, ``headers``, ``query``, ``json`` (string values, recursively) and ``body``
are sandboxed Jinja2 templates (:mod:`voiceagent.templating`) rendered with
:meth:`ToolContext.template_context` (``args``, ``caller``, ``session``, ``variables`` and each
variable by name, ``now``). A ``json`` or ``query`` string that is exactly one ``{{ expression }}``
keeps the expression's JSON type (``"{{ args.amount }}"`` sends a number, not ``"12.5"``);
undefined values there become ``null`` (JSON) or are left out (query).

What a tool may reach and send (docs/security.md, "HTTP tools"):

* The url's scheme, host and port are fixed text; values templated into its path and query are
  percent-encoded whole (:mod:`voiceagent.engine.http_request`); ``allowed_hosts`` limits the
  hosts further. Header values from templates may not hold line breaks.
* Redirects are not followed unless ``follow_redirects: true``; then only to the same origin,
  or to a host ``allowed_hosts`` lists, and there without ``Authorization``, ``Cookie`` or any
  header the tool sets, and never resending a body.
* ``timeout_ms`` is one deadline for the whole exchange (connect, redirects, the last byte).
* At most ``max_response_bytes`` of the answer are read (streamed, decompressed with bounds) and
  at most ``max_result_chars`` characters reach the LLM and the event log, with a note when cut
  (:mod:`voiceagent.engine.http_response`).
* Every value substituted from the environment into the tool (``${VAR}``), the url's password
  and literal credentials in auth headers are secrets: registered with the call's
  :class:`~voiceagent.engine.redaction.Redactor` and masked in results and errors.

A non-2xx answer is a tool failure ``HTTP <status>: <excerpt>``; a JSON answer (by
Content-Type, or text that parses) is returned parsed, anything else as text. The request URL
is never put in error messages (it may hold tokens).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

import httpx

from voiceagent.config.http_url import host_allowed
from voiceagent.config.models import HttpTool
from voiceagent.config.secrets import sensitive_name
from voiceagent.engine.http_request import check_header_value, fixed_origin, render_url
from voiceagent.engine.http_response import Body, cap_result, parse_payload, read_body
from voiceagent.engine.redaction import MASK, Redactor
from voiceagent.engine.tool_schema import ToolFailure
from voiceagent.templating import TemplateError, evaluate, render

__all__ = ["MAX_ERROR_EXCERPT", "MAX_REDIRECTS", "MAX_TEXT_CHARS", "HttpToolCaller", "render_value", "tool_secrets"]

MAX_TEXT_CHARS = 4000
"""Default of ``max_result_chars``: what of an answer reaches the LLM and the event log."""
MAX_ERROR_EXCERPT = 200
MAX_REDIRECTS = 5
_WHOLE_EXPR = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}\s*$", re.DOTALL)
_JSON_SCALARS = (str, int, float, bool, type(None))
_AUTH_SCHEME = re.compile(r"(?i)^\s*(?:bearer|basic|token|digest|apikey|key)\s+")
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Headers that route or frame the request: written out, never from a template.
_FRAMING_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "te", "upgrade"})


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


def tool_secrets(spec: HttpTool) -> frozenset[str]:
    """The secrets of one HTTP tool, each with the spellings an answer may echo it in.

    Secrets: every value substituted from the environment into the tool when it was loaded,
    the password in the url (``https://user:PASSWORD@host``, also as the Basic credentials
    httpx sends for it), and the literal (untemplated)
    values of headers and query keys whose name says credential (``Authorization``,
    ``X-Api-Key``, ``api_key``, ...; ``Bearer``/``Basic`` prefixes split off). Spellings: as
    is, percent-encoded (``quote``, ``quote_plus``) and JSON-escaped.
    """
    found: set[str] = set(spec._env_values)
    literal = [(k, v) for k, v in spec.headers.items()]
    literal += [(str(k), v) for k, v in (spec.query or {}).items() if isinstance(v, str)]
    for name, value in literal:
        if "{{" not in value and "{%" not in value and sensitive_name(name):
            found.add(value.strip())
    try:
        origin = httpx.URL(fixed_origin(spec.url).text)
    except (TemplateError, httpx.InvalidURL):
        origin = None
    if origin is not None and origin.password:
        found.add(origin.password)  # httpx sends user:password as Basic auth: its base64 too
        found.add(base64.b64encode(f"{origin.username}:{origin.password}".encode()).decode())
    out: set[str] = set()
    for value in found:
        parts = [value]
        m = _AUTH_SCHEME.match(value)
        if m:
            parts.append(value[m.end() :])
        for part in parts:
            if len(part) < 3:
                continue
            out.update({part, quote(part, safe=""), quote_plus(part), json.dumps(part)[1:-1]})
    return frozenset(out)


class _Scrubber:
    """Masks one tool's secrets in an answer (strings, keys, numbers; JSON data nested at most
    ``MAX_JSON_DEPTH`` deep, as :func:`parse_payload` guarantees).
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = frozenset(secrets)
        self._redactor = Redactor(env={})
        self._redactor.add_all(self.secrets)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._redactor.scrub_text(value)
        if isinstance(value, dict):
            return {self(str(k)): self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, (int, float)) and not isinstance(value, bool) and str(value) in self.secrets:
            return MASK
        return value


class HttpToolCaller:
    """Performs HTTP tool requests; owns its client only when none was given.

    Args:
        client: a shared ``httpx.AsyncClient`` (not closed here); None creates one on first use.
        redactor: the call's redactor; every tool secret (:func:`tool_secrets`) of ``tools`` is
            registered with it at once, so the event log and error messages never show them.
        tools: the agent's tools (those with ``http`` are registered).
    """

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        redactor: Redactor | None = None,
        tools: Iterable[Any] = (),
    ) -> None:
        self._client = client
        self._owned = client is None
        self._redactor = redactor
        self._scrubbers: dict[int, _Scrubber] = {}
        for tool in tools:
            if getattr(tool, "http", None) is not None:
                self._scrubber(tool.http)

    def _scrubber(self, spec: HttpTool) -> _Scrubber:
        scrubber = self._scrubbers.get(id(spec))
        if scrubber is None:
            scrubber = self._scrubbers[id(spec)] = _Scrubber(tool_secrets(spec))
            if self._redactor is not None:
                self._redactor.add_all(scrubber.secrets)
        return scrubber

    def _get_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False)
        return self._client

    def build_request(self, spec: HttpTool, args: Mapping[str, Any], ctx: Any) -> httpx.Request:
        """The rendered request (no I/O).

        Raises:
            TemplateError: a broken template or a url whose host is templated.
            ToolFailure: an argument that would change the url's shape or a header's lines.
        """
        tctx = ctx.template_context(args)
        method = render(spec.method, tctx).strip().upper() or "POST"
        url = render_url(spec.url, tctx, spec.allowed_hosts)
        headers: dict[str, str | bytes] = {}
        for name, value in spec.headers.items():
            if name.lower() in _FRAMING_HEADERS and ("{{" in value or "{%" in value):
                raise TemplateError(f"header {name} may not use a template (it decides where the request goes)")
            headers[name] = check_header_value(name, render(value, tctx))
        if spec.query:
            params: dict[str, Any] = {}
            for k, v in render_value(spec.query, tctx).items():
                if v is None:
                    continue
                params[k] = json.dumps(v) if isinstance(v, dict) else v
                if isinstance(v, bool):
                    params[k] = "true" if v else "false"
            url = url.copy_merge_params(params)
        kwargs: dict[str, Any] = {"headers": headers}
        if spec.json_body is not None:
            kwargs["json"] = render_value(spec.json_body, tctx)
        elif spec.body is not None:
            kwargs["content"] = render(spec.body, tctx).encode("utf-8")
        return self._get_client().build_request(method, url, **kwargs)

    async def call(self, spec: HttpTool, args: Mapping[str, Any], ctx: Any) -> Any:
        """Send the request and return the answer (parsed JSON or text, secrets masked, capped).

        Raises:
            ToolFailure: non-2xx status, a redirect not followed, the deadline
                (``spec.timeout_ms``, total), a transport error, or a refused argument.
            TemplateError: a template fails to render, or the url is misconfigured.
        """
        scrub = self._scrubber(spec)
        request = self.build_request(spec, args, ctx)
        try:
            async with asyncio.timeout(spec.timeout_ms / 1000.0):
                response, body = await self._exchange(spec, request)
        except (TimeoutError, httpx.TimeoutException):
            raise ToolFailure(f"HTTP request timed out after {spec.timeout_ms} ms") from None
        except httpx.InvalidURL:
            raise ToolFailure("HTTP request failed: invalid address") from None
        except httpx.HTTPError as exc:
            raise ToolFailure(f"HTTP request failed: {type(exc).__name__}") from None
        payload = parse_payload(body, response.headers.get("content-type", ""), response.charset_encoding)
        payload = scrub(payload)
        if not response.is_success:
            excerpt = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
            excerpt = " ".join(excerpt.split())
            if len(excerpt) > MAX_ERROR_EXCERPT:
                excerpt = excerpt[: MAX_ERROR_EXCERPT - 3] + "..."
            raise ToolFailure(f"{_status(response)}: {excerpt}" if excerpt else _status(response))
        return cap_result(payload, spec.max_result_chars, cut_at_bytes=spec.max_response_bytes if body.cut else None)

    async def _exchange(self, spec: HttpTool, request: httpx.Request) -> tuple[httpx.Response, Body]:
        """Send ``request`` (following redirects as allowed) and read the body within bounds."""
        request.extensions["timeout"] = httpx.Timeout(spec.timeout_ms / 1000.0).as_dict()
        client = self._get_client()
        for hop in range(MAX_REDIRECTS + 1):
            response = await client.send(request, stream=True)
            try:
                location = response.headers.get("location")
                if response.status_code not in _REDIRECTS or not location:
                    return response, await read_body(response, spec.max_response_bytes)
            finally:
                await response.aclose()
            if not spec.follow_redirects:
                raise ToolFailure(
                    f"{_status(response)}: the server redirected; HTTP tools do not follow redirects "
                    "(follow_redirects: true follows them on the same host)"
                )
            if hop == MAX_REDIRECTS:
                raise ToolFailure(f"{_status(response)}: more than {MAX_REDIRECTS} redirects")
            request = self._redirect(spec, request, response.status_code, location)
        raise AssertionError("unreachable")  # pragma: no cover

    def _redirect(self, spec: HttpTool, request: httpx.Request, status: int, location: str) -> httpx.Request:
        """The request a redirect asks for, per RFC 9110 section 15.4
        (https://www.rfc-editor.org/rfc/rfc9110#section-15.4), without credentials across origins.

        Raises:
            ToolFailure: the target is another origin that ``allowed_hosts`` does not list, is
                not http(s), or would receive the body again on another origin.
        """
        try:
            target = request.url.join(location.strip())
        except httpx.InvalidURL:
            raise ToolFailure(f"HTTP {status}: the server redirected to an invalid address") from None
        if target.scheme not in ("http", "https") or not target.host:
            raise ToolFailure(f"HTTP {status}: the server redirected to a non-HTTP address; not followed")
        method = request.method
        content: bytes | None = request.content
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            method, content = "GET", None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        if content is None:
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        if _origin(target) != _origin(request.url):
            port = target.port or (443 if target.scheme == "https" else 80)
            if spec.allowed_hosts is None or not host_allowed(target.host.lower(), port, spec.allowed_hosts):
                raise ToolFailure(
                    f"HTTP {status}: the server redirected to another host; not followed "
                    "(list it in allowed_hosts to follow, without credentials)"
                )
            if content:
                raise ToolFailure(
                    f"HTTP {status}: the server redirected a request with a body to another host; refused"
                )
            secrets = self._scrubber(spec).secrets
            own = {k.lower() for k in spec.headers}
            headers = {
                k: v
                for k, v in headers.items()
                if k.lower() not in _CREDENTIAL_HEADERS
                and k.lower() not in own
                and not sensitive_name(k)
                and not any(s in v for s in secrets)
            }
        new = self._get_client().build_request(method, target, headers=headers, content=content or None)
        new.extensions["timeout"] = request.extensions.get("timeout", {})
        return new

    async def aclose(self) -> None:
        """Close the client if this caller created it."""
        if self._owned and self._client is not None:
            await self._client.aclose()
            self._client = None


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    scheme = url.scheme.lower()
    return scheme, (url.host or "").lower(), url.port or (443 if scheme == "https" else 80)


def _status(response: httpx.Response) -> str:
    reason = response.reason_phrase or ""
    return f"HTTP {response.status_code}{(' ' + reason) if reason else ''}"
