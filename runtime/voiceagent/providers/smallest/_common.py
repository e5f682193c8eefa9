"""Shared plumbing for the Smallest AI clients: base URL, API key, auth header, error bodies.

The API key is never logged and never put into an error message.

Sources (Smallest's API documentation):

- hosts and ``Authorization: Bearer``: https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/api-references/authentication.mdx
- error-body shapes: https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/openapi/stt-openapi.yaml
  and https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/openapi/tts-openapi.yaml
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from voiceagent.providers.base import ProviderError

DEFAULT_BASE_URL = "https://api.smallest.ai/waves/v1"
BASE_URL_ENV = "SMALLEST_BASE_URL"
API_KEY_ENV = "SMALLEST_API_KEY"
MAX_TTS_CHARS = 250
"""Longest text sent in one Lightning request (Lightning WebSocket limit: max chunk 250 chars)."""


def resolve_base_url(base_url: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The REST base URL: ``base_url``, else ``$SMALLEST_BASE_URL``, else
    ``https://api.smallest.ai/waves/v1``; without a trailing slash.
    """
    env = os.environ if env is None else env
    url = base_url or env.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    return url.rstrip("/")


def ws_url(base_url: str) -> str:
    """The WebSocket form of an HTTP(S) base URL: ``https://`` -> ``wss://``, ``http://`` -> ``ws://``.

    Raises:
        ValueError: when the URL is neither http(s) nor ws(s).
    """
    if base_url.startswith("https://"):
        return "wss://" + base_url[len("https://") :]
    if base_url.startswith("http://"):
        return "ws://" + base_url[len("http://") :]
    if base_url.startswith(("ws://", "wss://")):
        return base_url
    raise ValueError(f"base URL must start with http:// or https://, got {base_url!r}")


def resolve_api_key(api_key: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """``api_key`` or ``$SMALLEST_API_KEY``.

    Raises:
        ProviderError: when neither is set (the message names the variable, never a value).
    """
    env = os.environ if env is None else env
    key = api_key or env.get(API_KEY_ENV)
    if not key:
        raise ProviderError(f"no Smallest AI API key: set {API_KEY_ENV}", status=401)
    return key


def auth_headers(api_key: str) -> dict[str, str]:
    """``{"Authorization": "Bearer <key>"}``."""
    return {"Authorization": f"Bearer {api_key}"}


def scrub(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` (the API key in use) and anything shaped like a Smallest key
    (``sk_...``) masked: for every server or library message that goes into an error.
    """
    if secret and secret in text:
        text = text.replace(secret, "***")
    # Belt and braces: never echo anything that looks like a Smallest key (they start with sk_).
    return re.sub(r"sk_[A-Za-z0-9_\-]{6,}", "sk_***", text)


_scrub = scrub


def error_text(payload: Any) -> str:
    """A readable message from any documented Smallest error shape.

    Handles ``{"error": "InvalidRequest", "message": "..."}`` (Lightning spec),
    ``{"error": [{"path": [...], "message": "..."}]}`` (zod issues),
    ``{"status": "error", "error": {"message", "code"}}`` (WS spec), ``{"message": "..."}``
    (timeout frame, 401 bodies), ``{"errors": "...", "message": "..."}`` (legacy Pulse),
    ``{"error_code": ..., "message": ...}`` (region error) and plain strings.
    """
    if isinstance(payload, (bytes, bytearray)):
        payload = payload.decode("utf-8", "replace")
    if isinstance(payload, str):
        text = payload
        try:
            payload = json.loads(text)
        except ValueError:
            return text.strip()[:500]
    if not isinstance(payload, dict):
        return str(payload)[:500]
    err = payload.get("error")
    parts: list[str] = []
    if isinstance(err, list):
        for issue in err:
            if isinstance(issue, dict):
                path = ".".join(str(p) for p in issue.get("path") or [])
                msg = str(issue.get("message") or issue.get("code") or issue)
                parts.append(f"{path}: {msg}" if path else msg)
            else:
                parts.append(str(issue))
    elif isinstance(err, dict):
        msg = err.get("message") or err.get("type") or ""
        code = err.get("code")
        parts.append(f"{msg} ({code})" if code and msg else str(msg or code or err))
    else:
        message = payload.get("message")
        label = err or payload.get("errors")
        if message and label and str(label) != str(message):
            parts.append(f"{label}: {message}")
        elif message or label:
            parts.append(str(message or label))
        if payload.get("error_code"):
            parts.append(f"[{payload['error_code']}]")
    return "; ".join(p for p in parts if p) or json.dumps(payload)[:500]


def http_error(
    service: str, status: int, body: Any, api_key: str | None = None, *, retry_after: str | None = None
) -> ProviderError:
    """A :class:`ProviderError` for an HTTP error answer (also a WS handshake refused with
    ``status``), with the server's own message and a hint for 401/403/429.
    """
    detail = scrub(error_text(body) if body else "", api_key)
    if status == 401:
        msg = f"{service}: Smallest AI rejected the API key (HTTP 401); check {API_KEY_ENV}"
    elif status == 403:
        msg = f"{service}: this Smallest AI plan has no access (HTTP 403)"
    elif status == 429:
        msg = f"{service}: rate or concurrency limit reached (HTTP 429)"
        if retry_after:
            msg += f", retry after {retry_after} s"
    else:
        msg = f"{service}: HTTP {status}"
    if detail:
        msg += f": {detail}"
    return ProviderError(msg, retryable=status in (408, 429) or status >= 500, status=status)


def split_text(text: str, limit: int = MAX_TTS_CHARS) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` characters, preferring sentence ends, then
    spaces. Whitespace-only text gives ``[]`` (Lightning sends no ``complete`` for it).
    """
    text = text.strip()
    pieces: list[str] = []
    while text:
        if len(text) <= limit:
            pieces.append(text)
            break
        window = text[:limit]
        cut = max(window.rfind(". "), window.rfind("? "), window.rfind("! "), window.rfind("। "))
        if cut <= 0:
            cut = window.rfind(" ")
        cut = limit if cut <= 0 else cut + 1
        pieces.append(text[:cut].strip())
        text = text[cut:].strip()
    return [p for p in pieces if p]


async def ws_connect(url: str, api_key: str, service: str, **kwargs: Any) -> Any:
    """Open a WebSocket (``websockets`` asyncio client) with the Bearer header.

    Returns a ``websockets.asyncio.client.ClientConnection``. ``kwargs`` go to ``connect``.

    Raises:
        ProviderError: HTTP status refusals before the upgrade (401 names ``SMALLEST_API_KEY``;
            400 carries the server's message), unreachable host (``retryable=True``).
    """
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidHandshake, InvalidStatus

    kwargs.setdefault("open_timeout", 10)
    try:
        return await connect(url, additional_headers=auth_headers(api_key), **kwargs)
    except InvalidStatus as exc:
        resp = exc.response
        raise http_error(
            service, resp.status_code, bytes(resp.body or b""), api_key, retry_after=resp.headers.get("Retry-After")
        ) from None
    except (TimeoutError, OSError, InvalidHandshake) as exc:
        where = url.split("?", 1)[0]
        raise ProviderError(
            f"{service}: cannot connect to {where}: {scrub(str(exc), api_key)}", retryable=True
        ) from None
