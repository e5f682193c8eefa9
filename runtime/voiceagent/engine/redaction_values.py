"""Registered sensitive values, compiled for the :class:`~.redaction.Redactor`.

:func:`variants` lists the spellings of a value to match as written (``1990-05-17`` also as
``17/05/1990``, ``17 May 1990``, ``19900517`` ...), :class:`CompiledValues` holds one regex of
all of them (digits also across single separators: ``1234`` masks ``1 2 3 4`` and ``12-34``)
plus the :class:`~.spoken_spans.SpokenScanner` for their spoken forms.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from voiceagent.engine.guardrails_normalise import parse_date
from voiceagent.engine.spoken_spans import SpokenScanner

__all__ = ["MASK", "MIN_VALUE_LEN", "CompiledValues", "dates_of", "mask_spans", "variants"]

MASK = "[redacted]"

# Shortest value registered: shorter ones ("a", "12") would mask ordinary words and numbers.
MIN_VALUE_LEN = 3

_DIGIT_SEP = r"[\s.\-/]?"

# Strings up to this length are cached per compiled pattern (keys and short values repeat).
_CACHE_LEN = 64
_CACHE_SIZE = 2048


_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def variants(value: Any) -> Iterable[str]:
    """Spellings of ``value`` to match as written: the text, whitespace-collapsed, its digits
    (when mostly digits) and, for dates, common spellings (nested lists / dicts walked).
    """
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, Mapping):
        for v in value.values():
            yield from variants(v)
        return
    if isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from variants(v)
        return
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        yield from _date_variants(value)
        return
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if len(text) < MIN_VALUE_LEN:
        return
    yield text
    collapsed = " ".join(text.split())
    yield collapsed
    digits = re.sub(r"\D", "", text)
    if len(digits) >= MIN_VALUE_LEN and len(digits) >= len(re.sub(r"[\W_]", "", text)) * 0.6:
        yield digits
    # dates given as text: also register their other spellings
    parsed = parse_date(text)
    if parsed is not None:
        yield from _date_variants(parsed)


def dates_of(value: Any) -> Iterable[date]:
    """The dates among ``value`` (nested like :func:`variants`)."""
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from dates_of(v)
        return
    if isinstance(value, datetime):
        yield value.date()
    elif isinstance(value, date):
        yield value
    elif isinstance(value, str) and len(value) <= 40:
        parsed = parse_date(value)
        if parsed is not None:
            yield parsed


def mask_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each ``(start, end)`` span (sorted, not overlapping) replaced by :data:`MASK`."""
    if not spans:
        return text
    out: list[str] = []
    pos = 0
    for start, end in spans:
        out.append(text[pos:start])
        out.append(MASK)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _date_variants(d: date) -> Iterable[str]:
    month = _MONTHS[d.month - 1]
    yield d.isoformat()
    yield f"{d.day:02d}/{d.month:02d}/{d.year}"
    yield f"{d.day}/{d.month}/{d.year}"
    yield f"{d.month:02d}/{d.day:02d}/{d.year}"
    yield f"{d.day} {month} {d.year}"
    yield f"{d.day} {month[:3]} {d.year}"
    yield f"{month} {d.day} {d.year}"
    yield f"{month} {d.day}, {d.year}"
    yield f"{d.year}{d.month:02d}{d.day:02d}"
    yield f"{d.day:02d}{d.month:02d}{d.year}"


class CompiledValues:
    """Everything registered, compiled once per change: the spoken-form scanner, then the
    literal :class:`_Matcher`. Short strings' results are cached (they repeat: keys, enums).

    Args:
        values: every registered spelling, longest first.
        digit_values: the all-digit ones (for spoken runs).
        dates: the registered dates (for dates in any spelling).
    """

    def __init__(self, values: list[str], digit_values: Iterable[str], dates: Iterable[date]) -> None:
        self.literal = _Matcher(values)
        self.scanner = SpokenScanner(digit_values, dates)
        self._cache: dict[str, str] = {}

    def sub(self, text: str) -> str:
        """Spoken forms, then literal values (secrets are the caller's next step)."""
        if len(text) <= _CACHE_LEN:
            hit = self._cache.get(text)
            if hit is not None:
                return hit
        out = text
        if self.scanner.active:
            out = mask_spans(out, self.scanner.spans(out))
        out = self.literal.sub(out)
        if len(text) <= _CACHE_LEN:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[text] = out
        return out

    def fullmatch(self, text: str) -> bool:
        """Whether all of ``text`` is one registered value as written (numbers, dates)."""
        return self.literal.fullmatch(text)


class _Matcher:
    """Registered values as one regex. Matching runs on ``text.lower()`` without re.IGNORECASE
    and every alternative starts with a literal character, which lets ``re`` skip ahead by
    first character (about 10x faster than an IGNORECASE alternation of look-behinds). Text
    whose lower-case form changes length (rare Unicode) uses the IGNORECASE pattern instead.
    """

    def __init__(self, values: list[str]) -> None:
        self.fast = re.compile("|".join(_value_pattern(v.lower()) for v in values))
        self.slow = re.compile("|".join(_value_pattern(v) for v in values), re.IGNORECASE)

    def sub(self, text: str) -> str:
        low = text.lower()
        if len(low) != len(text):
            return self.slow.sub(MASK, text)
        out: list[str] = []
        pos = 0
        for m in self.fast.finditer(low):
            out.append(text[pos : m.start()])
            out.append(MASK)
            pos = m.end()
        if not out:
            return text
        out.append(text[pos:])
        return "".join(out)

    def fullmatch(self, text: str) -> bool:
        return self.fast.fullmatch(text.lower()) is not None


def _value_pattern(value: str) -> str:
    r"""Regex for one value: digits may be split by single separators; text matches across
    whitespace runs, as whole words. The first character is matched before the word-boundary
    look-behind ``(?<!\w.)`` so every alternative begins with a literal.
    """
    if value.isdigit():
        # Inside a longer number it is masked (a card's last four within the full number), but
        # not inside a word: a request id such as ``req_f34471ed`` is no spoken form of 4471.
        body = _DIGIT_SEP.join(value)
        letter = r"[^\W\d_]"
        return f"{body[0]}(?<!{letter}.){body[1:]}(?!{letter})"
    body = r"\s+".join(re.escape(p) for p in value.split())
    first = re.escape(value[0])
    left = r"(?<!\w.)" if value[0].isalnum() or value[0] == "_" else ""
    right = r"(?!\w)" if value[-1].isalnum() or value[-1] == "_" else ""
    return f"{first}{left}{body[len(first) :]}{right}"
