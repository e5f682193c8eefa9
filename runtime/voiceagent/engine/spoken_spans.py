"""Spans of text to mask: numbers and dates as people say them, for the :class:`~.redaction.Redactor`.

Runs of numbers come from :mod:`.spoken_runs` ("seven seven eight eight", "double seven",
"saat saat", "सात सात", ``4111 1111``), dates from :mod:`.spoken_dates` ("twelfth of April
nineteen eighty five", "बारह अप्रैल 1985", ``12/04/1985``). :class:`SpokenScanner` returns the
character spans to mask: runs and dates that contain a registered value (any text), and with
``digit_runs`` / ``any_date`` every run of that many digits and every date (the caller's words,
when the values are not known yet).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from voiceagent.engine.spoken_dates import DateParts, month_dates, numeric_dates, run_dates
from voiceagent.engine.spoken_runs import Group, Scan, scan

__all__ = ["SpokenScanner"]


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    digits: str = ""  # a run's digit string
    spoken_digits: int = 0  # digits of its non-cardinal groups (for digit_runs)
    dates: tuple[DateParts, ...] = ()


class SpokenScanner:
    """Spans of ``text`` to mask.

    Args:
        digit_values: registered values as digit strings (3+ digits); a run whose digit string
            contains one is masked.
        dates: registered dates; a date in the text that agrees with one on every part it says
            (day and month, month and year, or all three) is masked.
    """

    def __init__(self, digit_values: Iterable[str] = (), dates: Iterable[date] = ()) -> None:
        values = sorted({v for v in digit_values if v.isdigit()}, key=len, reverse=True)
        self._values = re.compile("|".join(values)) if values else None
        self._dates = frozenset(dates)

    @property
    def active(self) -> bool:
        """True when there is a registered value to look for."""
        return self._values is not None or bool(self._dates)

    def spans(self, text: str, *, digit_runs: int = 0, any_date: bool = False) -> list[tuple[int, int]]:
        """Merged ``(start, end)`` character spans to mask, in order.

        Args:
            text: any text.
            digit_runs: also mask every run of at least this many digits (0: off).
            any_date: also mask every date.
        """
        result = scan(text)
        if result is None:
            return []
        out: list[tuple[int, int]] = []
        for f in self._found(result, dates=any_date or bool(self._dates)):
            if (
                (digit_runs and f.spoken_digits >= digit_runs)
                or (any_date and f.dates)
                or (self._values is not None and f.digits and self._values.search(f.digits))
                or any(self._date_matches(p) for p in f.dates)
            ):
                out.append((f.start, f.end))
        return _merge(text, out)

    # -- what the text holds ------------------------------------------------------------------

    def _found(self, result: Scan, *, dates: bool) -> Iterable[_Found]:
        toks = result.toks
        for run in result.runs:
            start, end = toks[run[0].first].start, toks[run[-1].last].end  # type: ignore[union-attr]
            digits = "".join(g.digits for g in run)
            yield _Found(start, end, digits, _spoken_digits(run), run_dates(run) if dates else ())
        if not dates:
            return
        for start, end, parts in (*month_dates(result), *numeric_dates(result.text)):
            yield _Found(start, end, dates=parts)

    def _date_matches(self, parts: DateParts) -> bool:
        d, m, y = parts
        if m is None or (d is None and y is None):
            return False
        for reg in self._dates:
            if m != reg.month or (d is not None and d != reg.day):
                continue
            if y is None or y == reg.year or (y < 100 and y == reg.year % 100):
                return True
        return False


def _spoken_digits(run: list[Group]) -> int:
    """The longest stretch of digits said as digits (cardinals such as "two thousand" are amounts)."""
    best = cur = 0
    for g in run:
        cur = 0 if g.mag else cur + len(g.digits)
        best = max(best, cur)
    return best


def _merge(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort, and merge spans that overlap or are separated only by spaces and punctuation."""
    if not spans:
        return spans
    spans.sort()
    out = [spans[0]]
    for s, e in spans[1:]:
        ps, pe = out[-1]
        if s <= pe or not text[pe:s].strip(" ,-\u2013"):
            out[-1] = (ps, max(pe, e))
        else:
            out.append((s, e))
    return out
