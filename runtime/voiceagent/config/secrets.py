"""Spotting inline secrets in agent files, and masking them for ``voiceagent show``.

Agent files live in git; keys belong in the environment (``${NAME}``). A literal that looks
like a credential is a validation *warning* and is masked when the agent is printed.
Heuristics: well-known key prefixes (``sk-``/``sk_``, ``ghp_``, ``xoxb-``, ``AKIA``, ``AIza``,
JWTs), ``Bearer <literal>``, and long high-entropy tokens (>= 32 characters, letters and
digits mixed, Shannon entropy >= 3.5 bits per character).
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
_SENSITIVE_WORD = re.compile(r"(?i)(?:^|[-_])(?:key|pin|pass|pwd|auth)(?:[-_]|$)")
MASK = "****"


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
    ``ACME_TOKEN``, ``DB_PASSWORD``, ``Authorization``, ``X-Api-Key``, ``ACME_KEY``, ``PIN``...
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
    """``text`` with every secret-looking part replaced by ``****``."""
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


def mask_value(value: Any, key: str | None = None) -> Any:
    """Mask secrets in nested data (for ``voiceagent show``).

    A string under a sensitive key (``Authorization``, ``api_key``, ``token``, ...) is masked
    whole unless it only uses ``${VAR}`` references; any other string has its secret-looking
    parts masked. ``${VAR}`` references are always kept as written.
    """
    if isinstance(value, dict):
        return {k: mask_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value(v, key) for v in value]
    if isinstance(value, str):
        if key and SENSITIVE_KEY.search(key) and key != "api_key_env" and value:
            literal = _REF.sub("", value).strip()
            scheme = re.fullmatch(r"(?i)(bearer|basic|token)", literal)
            if literal and not scheme:
                m = re.match(r"(?i)(bearer|basic|token)\s+", value)
                return (m.group(0) if m else "") + MASK if "${" not in value else mask_text(value)
        return mask_text(value)
    return value
