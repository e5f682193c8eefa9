"""Spotting inline secrets in agent files, and masking them for ``voiceagent show``.

Agent files live in git; keys belong in the environment (``${NAME}``). A literal that looks
like a credential is a validation *warning* and is masked when the agent is printed.
Heuristics: well-known key prefixes (``sk-``/``sk_``, ``ghp_``, ``xoxb-``, ``AKIA``, ``AIza``,
JWTs), ``Bearer <literal>``, and long high-entropy tokens (>= 32 characters, letters and
digits mixed, Shannon entropy >= 3.5 bits per character). When printed, passwords in URLs
(``https://user:PASSWORD@host``), credential-named query values (``?api_key=...``,
``&token=...``) and the defaults of credential-named references (``${ACME_TOKEN:-...}``) are
masked too.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

_REF = re.compile(r"\$\{[^}]*\}|\{\{.*?\}\}|\{%.*?%\}", re.S)
_PREFIXED = re.compile(
    r"\b(?:sk|pk|rk)[-_](?:live[-_]|test[-_]|proj[-_])?[A-Za-z0-9_\-]{16,}"
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"
    r"|\bAKIA[0-9A-Z]{16}\b"
    r"|\bAIza[0-9A-Za-z_\-]{30,}"
    r"|\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{5,}"
)
_BEARER = re.compile(r"\b(Bearer|Basic|Token)\s+([A-Za-z0-9._~+/=\-]{8,})", re.I)
_TOKEN = re.compile(r"[A-Za-z0-9_\-+=]{32,}")
SENSITIVE_KEY = re.compile(r"(?i)(authorization|api[-_]?key|token|secret|password|passwd|credential|cookie)")
_SENSITIVE_WORD = re.compile(r"(?i)(?:^|[-_])(?:key|pin|pass|pwd|auth|sig|signature|sk)(?:[-_]|$)")
MASK = "****"


_URL_PASSWORD = re.compile(r"(?i)(\b[a-z][a-z0-9+.\-]*://[^/?#@\s:]*:)([^/?#@\s]+)(?=@)")
_QUERY_SECRET = re.compile(
    r"(?i)([?&;][a-z0-9_.\-]*(?:key|token|secret|password|passwd|pwd|auth|sig|signature|credential)[a-z0-9_.\-]*=)"
    r"([^&#\s]+)"
)
_DEFAULT = re.compile(r"(\$\{([A-Za-z_][A-Za-z0-9_]*):-)([^}]*)(\})")


def _literal(value: str) -> bool:
    return "${" not in value and "{{" not in value and "{%" not in value


def _mask_url_parts(text: str) -> str:
    """URL passwords and credential-named query values written out in ``text`` -> ``****``."""
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m[1] + MASK if _literal(m[2]) else m[0], text)
    if "=" in text:
        text = _QUERY_SECRET.sub(lambda m: m[1] + MASK if _literal(m[2]) else m[0], text)
    return text


def _mask_default(m: re.Match[str]) -> str:
    name, default = m[2], m[3]
    if default and (sensitive_name(name) or looks_like_secret(default)):
        return m[1] + MASK + m[4]
    return m[1] + _mask_url_parts(default) + m[4]


def _entropy(s: str) -> float:
    counts = Counter(s)
    return -sum(c / len(s) * math.log2(c / len(s)) for c in counts.values())


def _high_entropy(token: str) -> bool:
    has_alpha = any(c.isalpha() for c in token)
    has_digit = any(c.isdigit() for c in token)
    return has_alpha and has_digit and _entropy(token) >= 3.5


def _secret_spans(text: str) -> list[tuple[int, int]]:
    if len(text) < 12:  # shorter than any pattern below
        return []
    # References and templates are blanked out (same length) so they never match.
    blank = _REF.sub(lambda m: " " * len(m.group(0)), text)
    spans = [m.span() for m in _PREFIXED.finditer(blank)]
    spans += [
        m.span(2) for m in _BEARER.finditer(blank) if len(m.group(2)) >= 20 or any(c.isdigit() for c in m.group(2))
    ]
    spans += [m.span() for m in _TOKEN.finditer(blank) if _high_entropy(m.group(0))]
    return sorted(set(spans))


def looks_like_secret(text: str) -> bool:
    """True when ``text`` holds something that looks like a literal credential.

    ``${ACME_TOKEN}``, ``Bearer ${ACME_TOKEN}`` and ``{{ ... }}`` templates are not secrets.
    """
    return bool(_secret_spans(text))


def sensitive_name(name: str) -> bool:
    """Whether a variable or key name says it holds a credential: ``ACME_API_KEY``,
    ``ACME_TOKEN``, ``DB_PASSWORD``, ``Authorization``, ``X-Api-Key``, ``ACME_KEY``, ``PIN``,
    ``sig``, ``STRIPE_SK``...
    """
    return bool(SENSITIVE_KEY.search(name) or _SENSITIVE_WORD.search(name))


def hide_values(text: str, values: set[str]) -> str:
    """``text`` with every occurrence of each of ``values`` replaced by ``****`` (longest first,
    so a value containing another is hidden whole).
    """
    for value in sorted(values, key=len, reverse=True):
        if value and value in text:
            text = text.replace(value, MASK)
    return text


def mask_text(text: str) -> str:
    """``text`` with every secret-looking part replaced by ``****``: credential shapes, URL
    passwords, credential-named query values, secret defaults of ``${NAME:-default}``.
    """
    if "${" in text:
        text = _DEFAULT.sub(_mask_default, text)
    text = _mask_url_parts(text)
    spans = _secret_spans(text)
    if not spans:
        return text
    out, last = [], 0
    for start, end in spans:
        if start < last:
            continue
        out.append(text[last:start] + MASK)
        last = end
    return "".join(out) + text[last:]


def mask_value(value: Any, key: str | None = None, *, in_http: bool = False) -> Any:
    """Mask secrets in nested data (for ``voiceagent show``).

    A string under a sensitive key (``Authorization``, ``api_key``, ``token``, ...) is masked
    whole unless it only uses ``${VAR}`` references; any other string has its secret-looking
    parts masked (:func:`mask_text`). ``${VAR}`` references are kept as written; inside an
    ``http`` block (``in_http``, set for everything under a key ``http``) the default of every
    reference is masked too (``${ACME_URL:-****}``): every value the environment puts into an
    HTTP tool is treated as a secret.
    """
    if isinstance(value, dict):
        return {k: mask_value(v, str(k), in_http=in_http or k == "http") for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value(v, key, in_http=in_http) for v in value]
    if isinstance(value, str) and in_http and "${" in value:
        value = _DEFAULT.sub(lambda m: m[1] + MASK + m[4] if m[3] else m[0], value)
    if isinstance(value, str):
        if key and sensitive_name(key) and key != "api_key_env" and value:
            literal = _REF.sub("", value).strip()
            scheme = re.fullmatch(r"(?i)(bearer|basic|token)", literal)
            if literal and not scheme:
                m = re.match(r"(?i)(bearer|basic|token)\s+", value)
                return (m.group(0) if m else "") + MASK if "${" not in value else mask_text(value)
        return mask_text(value)
    return value
