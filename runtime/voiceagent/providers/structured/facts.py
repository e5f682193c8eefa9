"""Identity facts the caller just said, for ``verify_caller``: copied by the model, checked here.

A 0.5B model asked to choose between speaking and ``{"verify": ...}`` mostly speaks ("Your full
name is Ravi Kumar, and your date of birth is 12 April 1985."), but asked only to copy the
verification factors out of the caller's latest words (a grammar allowing nothing else) it does
that. :func:`grounded_facts` keeps only the values whose every word or number the caller said
(month names count as their numbers, spoken digits as digits), so nothing the model invents
reaches the verification guard, which still decides whether the facts match.
"""

from __future__ import annotations

import re
from typing import Any

from voiceagent.providers.local.guidance import candidate_values

__all__ = ["grounded_facts", "tokens"]

_MONTHS = {
    m: str(i)
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}
_SPOKEN = {
    w: str(i) for i, w in enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
}
_ORDINAL = re.compile(r"^(\d+)(?:st|nd|rd|th)$")


def tokens(text: str) -> list[str]:
    """Lower-case words and numbers of ``text``: numbers without leading zeros, "12th" -> "12",
    month names -> their number (also kept as words), spoken single digits -> digits, and runs of
    single digits joined ("7 7 8 8" -> also "7788").
    """
    out: list[str] = []
    digits: list[str] = []
    for raw in re.findall(r"[a-z0-9]+", text.lower()):
        word = _SPOKEN.get(raw, raw)
        ordinal = _ORDINAL.match(word)
        if ordinal:
            word = ordinal.group(1)
        if word.isdigit():
            out.append(word.lstrip("0") or "0")
            digits.append(word)
            continue
        if len(digits) > 1 and all(len(d) == 1 for d in digits):
            out.append("".join(digits))
        digits = []
        out.append(word)
        if word in _MONTHS:
            out.append(_MONTHS[word])
    if len(digits) > 1 and all(len(d) == 1 for d in digits):
        out.append("".join(digits))
    return out


def grounded_facts(facts: dict[str, Any], said: str, schema: dict[str, Any]) -> dict[str, str]:
    """The entries of ``facts`` (factor -> value the model copied) whose every word or number
    occurs in ``said`` (the caller's latest words); values failing the factor's ``pattern`` (if
    any) are dropped too.

    Examples: ``{"full_name": "Ravi Kumar", "dob": "1985-04-12"}`` against "Ravi Kumar, born 12
    April 1985" keeps both; ``{"city": "Pune"}`` against "my name is Ravi" keeps nothing.
    """
    heard = set(tokens(said))
    props = schema.get("properties") or {}
    out: dict[str, str] = {}
    for name, value in facts.items():
        if name not in props or not isinstance(value, str) or not value.strip():
            continue
        words = tokens(value)
        if not words or not all(w in heard for w in words):
            continue
        spec = props.get(name) or {}
        if spec.get("pattern") and value not in candidate_values(said, spec):
            continue
        out[name] = value.strip()
    return out
