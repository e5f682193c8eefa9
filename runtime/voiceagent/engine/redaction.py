"""Masking of sensitive values in events, logs, transcripts and tool errors.

``guardrails.redact`` names fields whose values must never appear in the event log (what is
masked, in which forms, and what is not: docs/security.md, "Redaction"). The verification guard
registers every value a caller states and every record value of such a field. API keys and
bearer tokens are masked as well.

Three passes over every string:

1. spoken forms of registered values (:mod:`.spoken_spans`): digits said as words ("seven seven
   eight eight", "double seven", "saat saat", "सात सात"), dates said in any order and language
   ("twelfth of April nineteen eighty five", "बारह अप्रैल 1985");
2. registered values as written (one regex; digits also across separators, ``1 2 3 4``);
3. known secret shapes (bearer tokens, API keys, JWTs).

In the caller's words (:meth:`Redactor.scrub_caller_text`, used for ``user.transcript``), with
``redact`` fields configured, every date and every run of ``digit_runs`` digits is masked too,
before any value is known (:class:`CallerPatterns`).

The regex and the span scanner are rebuilt only when values are added; results for short strings
(dictionary keys, enum values) are cached per build, so :meth:`Redactor.scrub` stays cheap on the
per-event path.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from datetime import date
from functools import lru_cache
from typing import Any, Protocol

from voiceagent.engine.redaction_values import MASK, CompiledValues, dates_of, mask_spans, variants
from voiceagent.engine.spoken_spans import SpokenScanner

__all__ = ["MASK", "CallerPatterns", "PatternSettings", "RedactingFilter", "Redactor"]

# Known secret shapes (masked whether or not they were registered): (kept prefix, secret).
_SECRET_PATTERNS = [
    (r"(?i:\bbearer\s+)", r"[A-Za-z0-9._~+/=-]{8,}"),
    (r"(?i:\bbasic\s+)", r"[A-Za-z0-9+/=]{12,}"),
    ("", r"\bsk-[A-Za-z0-9_-]{16,}"),  # OpenAI-style keys
    ("", r"\b(?:xox[abpr]|ghp|gho|ghs|glpat)[-_][A-Za-z0-9_-]{16,}"),  # Slack / GitHub / GitLab
    ("", r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key ids
    ("", r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWTs
    (r"(?i:[?&](?:api_key|apikey|key|token|access_token)=)", r"[^&\s\"']{6,}"),  # query strings
]
_SECRET_RE = re.compile("|".join(f"(?P<p{i}>{pre})(?:{sec})" for i, (pre, sec) in enumerate(_SECRET_PATTERNS)))


def _mask_secret(m: re.Match[str]) -> str:
    for i in range(len(_SECRET_PATTERNS)):
        prefix = m.group(f"p{i}")
        if prefix is not None:
            return prefix + MASK
    return MASK


# Cheap pre-check (every alternative starts with a literal, so ``re`` skips ahead fast); the
# full secret regex is the slow part and runs only when a hint is present.
# (Searching lower-cased text without re.IGNORECASE keeps the literal fast path.)
_SECRET_HINT_RE = re.compile(r"bearer|basic|sk-|xox|gh[pos]|glpat|akia|eyj|key=|token=")


def _scrub_secrets(text: str) -> str:
    if _SECRET_HINT_RE.search(text.lower()) is None:
        return text
    return _SECRET_RE.sub(_mask_secret, text)


# Keys whose values are secrets wherever they appear (dicts in events, headers).
_SECRET_KEY_RE = re.compile(
    r"(?i)^(authorization|proxy-authorization|x-api-key|api[_-]?key|.*_api_key|.*token|.*secret|.*password)$"
)
# Environment variables whose values are registered as secrets.
_SECRET_ENV_RE = re.compile(r"(?i)(API_KEY|_KEY|TOKEN|SECRET|PASSWORD)$")


class PatternSettings(Protocol):
    """What :class:`Redactor` reads from ``guardrails.redact_patterns`` (``config.models.RedactPatterns``)."""

    @property
    def dates(self) -> bool: ...  # noqa: D102 - see CallerPatterns

    @property
    def digit_runs(self) -> int: ...  # noqa: D102


@dataclasses.dataclass(frozen=True)
class CallerPatterns:
    """Masking of the caller's words before their values are known (the defaults of
    ``guardrails.redact_patterns``).

    Attributes:
        dates: mask every date the caller says (numeric, month names in English / Hindi, spoken).
        digit_runs: mask every run of at least this many digits, written or spoken ("4111 1111",
            "seven seven eight eight", "double seven double eight"); 0 turns it off. Cardinals
            with hundred / thousand / lakh ("two thousand rupees") are amounts, not runs.
    """

    dates: bool = True
    digit_runs: int = 4


_DEFAULT_PATTERNS = CallerPatterns()


@lru_cache(maxsize=4096)
def _norm_key(key: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(key).strip().casefold())


@lru_cache(maxsize=4096)
def _is_secret_key(key: str) -> bool:
    return _SECRET_KEY_RE.match(key) is not None


class Redactor:
    """Masks registered sensitive values and known secret shapes with ``"[redacted]"``.

    Args:
        names: field names from ``guardrails.redact`` (e.g. ``["dob", "account_last_four"]``);
            a dict value whose key is one of them (case-insensitive, ``-``/space = ``_``) is
            masked whole.
        env: environment whose secret-looking variables (names ending in ``_KEY``, ``API_KEY``,
            ``TOKEN``, ``SECRET``, ``PASSWORD``; values of 8+ characters) are registered.
            Defaults to ``os.environ``; pass ``{}`` to register none.
        patterns: what :meth:`scrub_caller_text` masks in the caller's words without knowing
            the values (``guardrails.redact_patterns``; default :class:`CallerPatterns`: dates
            and runs of 4+ digits). Applies only when ``names`` is not empty; None turns it off.

    Thread-safe. Matching is case-insensitive; text values match across any run of whitespace,
    digit values also across single separators (``1234`` masks ``1 2 3 4`` and ``12-34``) and
    in spoken form (``seven seven eight eight`` ...); dates in every spelling of
    :mod:`~voiceagent.engine.spoken_spans`.
    """

    def __init__(
        self,
        names: Iterable[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        patterns: PatternSettings | None = _DEFAULT_PATTERNS,
    ) -> None:
        self.names = frozenset(_norm_key(n) for n in names)
        self._values: set[str] = set()
        self._digit_values: set[str] = set()
        self._dates: set[date] = set()
        self._lock = threading.Lock()
        self._regex: CompiledValues | None = None
        self._dirty = False
        on = patterns is not None and bool(self.names)
        self.caller_dates = bool(on and patterns is not None and patterns.dates)
        self.caller_digit_runs = int(patterns.digit_runs) if on and patterns is not None else 0
        self._caller_scanner = SpokenScanner()
        for key, value in (os.environ if env is None else env).items():
            if _SECRET_ENV_RE.search(key) and value and len(value) >= 8:
                self.add(value)

    # -- registration -------------------------------------------------------------------

    def add(self, value: Any) -> None:
        """Register a sensitive value (str, number, date or a list/dict of them).

        Registers the text as given plus variants: digits only (when it has 3+ digits), a
        whitespace-normalised form and, for dates, common spellings (1990-05-17, 17/05/1990,
        05/17/1990, 17 May 1990, May 17 1990). Values shorter than 3 characters are ignored.
        """
        spellings = set(variants(value))
        dates = set(dates_of(value))
        with self._lock:
            new = spellings - self._values
            if new or not dates <= self._dates:
                self._values |= new
                self._digit_values |= {v for v in new if v.isdigit() and v.isascii()}
                self._dates |= dates
                self._dirty = True

    def add_all(self, values: Iterable[Any]) -> None:
        """Register several values (see :meth:`add`)."""
        for v in values:
            self.add(v)

    @property
    def values_count(self) -> int:
        """How many value spellings are registered (for tests and diagnostics)."""
        return len(self._values)

    def _pattern(self) -> CompiledValues | None:
        if self._dirty:
            with self._lock:
                if self._dirty:
                    ordered = sorted(self._values, key=len, reverse=True)
                    self._regex = CompiledValues(ordered, self._digit_values, self._dates) if ordered else None
                    self._dirty = False
        return self._regex

    # -- scrubbing ------------------------------------------------------------------------

    def scrub_text(self, text: str) -> str:
        """``text`` with every registered value (as written or spoken) and known secret shape
        replaced by ``[redacted]``.
        """
        if not text:
            return text
        rx = self._pattern()
        if rx is not None:
            text = rx.sub(text)
        return _scrub_secrets(text)

    def scrub_caller_text(self, text: str) -> str:
        """What the caller said, scrubbed: :meth:`scrub_text`, and (see ``patterns``) every date
        and every run of ``caller_digit_runs`` digits masked whether or not its value is known.
        """
        if not text:
            return text
        rx = self._pattern()
        scanner = rx.scanner if rx is not None else self._caller_scanner
        if self.caller_dates or self.caller_digit_runs or scanner.active:  # one scan: values and patterns
            text = mask_spans(text, scanner.spans(text, digit_runs=self.caller_digit_runs, any_date=self.caller_dates))
        if rx is not None:
            text = rx.literal.sub(text)
        return _scrub_secrets(text)

    def scrub(self, obj: Any) -> Any:
        """A deep copy of ``obj`` (dict/list/tuple/set/str/scalars) with strings scrubbed.

        Dict values under a key in ``names`` or a secret-looking key (``authorization``,
        ``api_key``, ``*token``, ``*secret``, ``*password``) become ``"[redacted]"`` whole.
        Dict keys are scrubbed too. Numbers and dates that equal a registered value (e.g. an
        ``int`` account number) are masked. Dataclasses and pydantic models become scrubbed
        dicts; bytes stay as they are; any other object becomes its scrubbed ``str()`` (so that
        no value escapes through a ``default=str`` JSON encoder).
        """
        return self._scrub(obj, self._pattern())

    def _scrub(self, obj: Any, rx: CompiledValues | None) -> Any:
        if isinstance(obj, str):
            if rx is not None:
                obj = rx.sub(obj)
            return _scrub_secrets(obj) if obj else obj
        if isinstance(obj, Mapping):
            out = {}
            for k, v in obj.items():
                key = self._scrub(k, rx) if isinstance(k, str) else k
                if isinstance(k, str) and (_norm_key(k) in self.names or _is_secret_key(k)):
                    out[key] = MASK if v not in (None, "") else v
                else:
                    out[key] = self._scrub(v, rx)
            return out
        if isinstance(obj, (list, tuple, set, frozenset)):
            items = [self._scrub(v, rx) for v in obj]
            return tuple(items) if type(obj) is tuple else items
        if isinstance(obj, bool) or obj is None:
            return obj
        if isinstance(obj, (int, float, date)):
            text = obj.isoformat() if isinstance(obj, date) else str(obj)
            return MASK if rx is not None and rx.fullmatch(text) else obj
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return obj
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return self._scrub(dataclasses.asdict(obj), rx)
        dump = getattr(obj, "model_dump", None)
        if callable(dump) and not isinstance(obj, type):
            try:
                return self._scrub(dump(mode="json"), rx)
            except Exception:  # noqa: BLE001 - fall back to str()
                return self._scrub(str(obj), rx)
        return self._scrub(str(obj), rx)

    def logging_filter(self) -> RedactingFilter:
        """A :class:`logging.Filter` that scrubs records with this redactor."""
        return RedactingFilter(self)


class RedactingFilter(logging.Filter):
    """Scrubs each log record's message (args are formatted first, then cleared).

    Attach to handlers: ``handler.addFilter(redactor.logging_filter())``. Exception text is
    formatted and scrubbed too.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub ``record`` in place; always True (the record is kept)."""
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not lose the record
            message = str(record.msg)
        record.msg = self.redactor.scrub_text(message)
        record.args = None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.redactor.scrub_text(text)
            record.exc_info = None
        return True
