"""Rendering an HTTP tool's address and headers so that arguments cannot change their shape.

The origin (``scheme://host:port``) of a tool URL is fixed text
(:func:`voiceagent.config.http_url.split_url_template`). In the path and the query written in
the url, each ``{{ ... }}`` value is percent-encoded whole (RFC 3986 section 2.1,
https://www.rfc-editor.org/rfc/rfc3986#section-2.1): ``/``, ``?``, ``#``, ``&``, ``=``, ``%``,
``@``, spaces and every non-ASCII character are escaped, so ``../../admin`` stays one path
segment (``..%2F..%2Fadmin``) and ``1?role=admin#`` stays one value. A path segment that
comes out as exactly ``.`` or ``..`` is refused (clients and servers remove such segments).
Header values from templates may not contain line breaks or other control characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import httpx
import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from voiceagent.config.http_url import FixedOrigin, UrlTemplateError, host_allowed, split_url_template
from voiceagent.engine.tool_schema import ToolFailure
from voiceagent.templating import TemplateError

__all__ = ["check_header_value", "fixed_origin", "render_url"]

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _encode(value: Any) -> str:
    """Every ``{{ }}`` output in a url: undefined/None -> "", anything else percent-encoded."""
    if value is None or isinstance(value, jinja2.Undefined):
        return ""
    return quote(str(value), safe="")


# The same sandbox as voiceagent.templating, plus the encoding of every output.
_URL_ENV = ImmutableSandboxedEnvironment(
    undefined=jinja2.ChainableUndefined, autoescape=False, keep_trailing_newline=False, finalize=_encode
)


@lru_cache(maxsize=256)
def _url_template(source: str) -> jinja2.Template:
    try:
        return _URL_ENV.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}", lineno=exc.lineno) from None


@lru_cache(maxsize=256)
def fixed_origin(url: str) -> FixedOrigin:
    """The fixed origin of a tool ``url`` (cached per text).

    Raises:
        TemplateError: the scheme, host or port is templated, or not http/https.
    """
    try:
        return split_url_template(url)
    except UrlTemplateError as exc:
        raise TemplateError(str(exc)) from None


def render_url(url: str, context: Mapping[str, Any], allowed_hosts: list[str] | None) -> httpx.URL:
    """The request URL of a tool: the fixed origin plus the rendered, encoded path and query.

    Args:
        url: the tool's ``url`` after ``${VAR}`` substitution.
        context: the template context (``args``, ``caller``, ``session``, variables, ``now``).
        allowed_hosts: the tool's ``allowed_hosts`` (None: any host).

    Raises:
        TemplateError: a misconfigured url (templated host, bad template).
        ToolFailure: the host is not allowed, or an argument makes a ``.``/``..`` segment.
    """
    origin = fixed_origin(url)
    if not host_allowed(origin.host, origin.port, allowed_hosts):
        raise ToolFailure("the tool's host is not in its allowed_hosts")
    rest = origin.rest
    if "{" in rest:
        try:
            rest = _url_template(rest).render(**context)
        except TemplateError:
            raise
        except jinja2.TemplateError as exc:
            raise TemplateError(f"template error: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - a template must never crash a call
            raise TemplateError(f"template failed: {type(exc).__name__}: {exc}") from None
    rest = rest.split("#", 1)[0]  # a fragment is never sent
    path = rest.split("?", 1)[0]
    if any(seg in (".", "..") for seg in path.split("/")[1:]):
        raise ToolFailure("an argument would make a '.' or '..' segment in the url path; refused")
    try:
        result = httpx.URL(origin.text + rest)
    except httpx.InvalidURL:  # e.g. a control character written into the url itself
        raise ToolFailure("the tool's url is not a valid address once rendered") from None
    if (result.scheme, (result.host or "").lower(), result.port or origin.port) != (
        origin.scheme,
        origin.host,
        origin.port,
    ):  # cannot happen with the encoding above; kept as the last line of defence
        raise ToolFailure("the rendered url points at another host; refused")
    return result


def check_header_value(name: str, value: str) -> str | bytes:
    """``value`` when it holds no line break or control character (tab allowed); text that is
    not ASCII (``José``) is sent as UTF-8 bytes (RFC 9110 section 5.5 "obs-text").

    Raises:
        ToolFailure: naming the header, never quoting the value.
    """
    if _CONTROL.search(value):
        raise ToolFailure(f"header {name}: a value contains a line break or control character; refused")
    return value if value.isascii() else value.encode("utf-8")
