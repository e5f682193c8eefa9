"""HTTP tool addresses: the scheme, host and port are fixed when the agent loads.

A tool's ``url`` is split into its *origin* (``scheme://[userinfo@]host[:port]``), which must be
plain text (``${VAR}`` references are fine: they are replaced once, at load), and the rest
(path, query, fragment), where ``{{ ... }}`` templates may appear and every value they produce
is percent-encoded (see :mod:`voiceagent.engine.http_request`). So no argument, variable or
caller fact can move a request to another host (``https://api.example{{ args.x }}/v1`` with
``x = "@127.0.0.1:8080"`` is refused when the agent is validated and when it runs).

``allowed_hosts`` (optional, per tool) lists the hosts the tool may reach: ``api.acme.example``,
``*.acme.example`` (any subdomain), ``api.acme.example:8443`` (that port only), ``[::1]``.

URL syntax: RFC 3986 (https://www.rfc-editor.org/rfc/rfc3986#section-3).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from voiceagent.config.diagnostics import Diagnostic, format_path
from voiceagent.config.yamlnodes import Node

__all__ = [
    "ALLOWED_HOST_PATTERN",
    "FixedOrigin",
    "UrlTemplateError",
    "host_allowed",
    "http_url_checks",
    "split_url_template",
]

ALLOWED_HOST_PATTERN = r"^(?:(?:\*\.)?[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$"
"""One ``allowed_hosts`` entry: a host name (optionally ``*.`` for its subdomains) or a bracketed
IPv6 address, optionally with ``:port``."""

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_TAG = re.compile(r"\{\{|\{%|\{#")
_REF = re.compile(r"\$\{[^}]*\}")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class UrlTemplateError(ValueError):
    """A tool ``url`` whose scheme, host or port is not fixed text (or not http/https)."""


@dataclass(frozen=True)
class FixedOrigin:
    """The fixed part of a tool URL.

    Attributes:
        text: ``scheme://[userinfo@]host[:port]`` exactly as written.
        scheme: ``http`` or ``https``.
        host: lower-case host name or IP address (IPv6 without brackets).
        port: the port in use (the scheme's default when none is written).
        rest: the path, query and fragment template that follows (may be empty).
    """

    text: str
    scheme: str
    host: str
    port: int
    rest: str


def split_url_template(url: str) -> FixedOrigin:
    """Split a tool ``url`` (after ``${VAR}`` substitution) into its fixed origin and the rest.

    Raises:
        UrlTemplateError: no ``http://``/``https://`` scheme, a ``{{ }}``/``{% %}`` template
            before the path starts (in scheme, userinfo, host or port), or an unparsable host.
    """
    url = url.strip()
    tag = _TAG.search(url)
    m = _SCHEME.match(url)
    if m is None or (tag is not None and tag.start() < m.end()):
        if tag is not None and (m is None or tag.start() < m.end()):
            raise UrlTemplateError(
                "the url's scheme and host must be written out (https://host/...); templates "
                "({{ ... }}) may only appear in the path and the query"
            )
        raise UrlTemplateError("the url must start with http:// or https://")
    scheme = m.group(1).lower()
    if scheme not in _DEFAULT_PORTS:
        raise UrlTemplateError(f"the url's scheme must be http or https, not '{scheme}'")
    end = len(url)
    for ch in "/?#":
        i = url.find(ch, m.end())
        if i != -1:
            end = min(end, i)
    if tag is not None and tag.start() < end:
        raise UrlTemplateError(
            "a template ({{ ... }}) in the url's host or port could send the request elsewhere; "
            "write the host out (or use ${VAR}) and put templates only in the path and the query"
        )
    text = url[:end]
    try:
        parsed = httpx.URL(text)
    except (httpx.InvalidURL, ValueError) as exc:
        raise UrlTemplateError(f"the url's host is not valid ({exc})") from None
    if not parsed.host:
        raise UrlTemplateError("the url has no host")
    port = parsed.port or _DEFAULT_PORTS[scheme]
    return FixedOrigin(text, scheme, parsed.host.lower(), port, url[end:])


def _parse_entry(entry: str) -> tuple[str, int | None]:
    entry = entry.strip().lower()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return host, int(port)
    return entry, None


def host_allowed(host: str, port: int, allowed: Iterable[str] | None) -> bool:
    """Whether ``host`` (lower-case, IPv6 without brackets) on ``port`` matches ``allowed``.

    ``None`` allows every host. An entry ``*.acme.example`` matches every subdomain of
    ``acme.example`` (not ``acme.example`` itself); an entry without a port matches any port.
    """
    if allowed is None:
        return True
    host = host.lower().rstrip(".")
    for entry in allowed:
        want, want_port = _parse_entry(entry)
        if want_port is not None and want_port != port:
            continue
        if want.startswith("*."):
            if host.endswith(want[1:]) and len(host) > len(want) - 1:
                return True
        elif host == want:
            return True
    return False


def http_url_checks(root: Node) -> list[Diagnostic]:
    """``validate``'s check of every HTTP tool ``url``, positioned at the url value.

    Errors: a template in the scheme, host or port; a scheme other than http/https; a
    written-out host that ``allowed_hosts`` does not list. Warning: ``| urlencode`` in the url
    (values there are percent-encoded already, so it would encode twice). ``${VAR}``
    references (not yet replaced when validating) count as fixed text.
    """
    out: list[Diagnostic] = []
    tools = root.get("tools") if root.is_map else None
    if tools is None or not tools.is_seq:
        return out
    for i, tool in enumerate(tools.value):
        http = tool.get("http") if tool.is_map else None
        url = http.get("url") if http is not None and http.is_map else None
        if http is None or url is None or not isinstance(url.value, str):
            continue
        path: tuple[str | int, ...] = ("tools", i, "http", "url")
        raw: str = url.value
        lead_ref = raw.lstrip().startswith("${")
        text = _REF.sub("env", raw)  # a reference is fixed at load: a placeholder stands in
        if lead_ref:
            text = "http://" + text.lstrip()
        try:
            origin = split_url_template(text)
        except UrlTemplateError as exc:
            if not lead_ref or "template" in str(exc):
                out.append(_diag(url, "error", f"{format_path(path)}: {exc}", path))
            continue
        authority = re.split(r"[/?#]", raw.split("://", 1)[-1], maxsplit=1)[0]
        allowed = _allowed_hosts(http)
        fixed = not lead_ref and "${" not in authority
        if allowed is not None and fixed and not host_allowed(origin.host, origin.port, allowed):
            host = "its host" if url.written is not None else f"host '{origin.host}'"  # env values are secrets
            message = f"{format_path(path)}: {host} is not in this tool's allowed_hosts; add it there"
            out.append(_diag(url, "error", message, path))
        if "urlencode" in origin.rest:
            out.append(
                _diag(
                    url,
                    "warning",
                    f"{format_path(path)}: values in the url are percent-encoded already; drop '| urlencode'",
                    path,
                )
            )
    return out


def _allowed_hosts(http: Node) -> list[str] | None:
    node = http.get("allowed_hosts")
    if node is None or not node.is_seq:
        return None
    entries = [n.value for n in node.value]
    if not all(isinstance(e, str) and re.match(ALLOWED_HOST_PATTERN, e) for e in entries):
        return None  # the schema reports the bad entry
    return [str(e) for e in entries]


def _diag(node: Node, severity: str, message: str, path: tuple[str | int, ...]) -> Diagnostic:
    return Diagnostic(node.file, node.line, node.col, severity, message, format_path(path))  # type: ignore[arg-type]
