"""The session event log: one JSON object a line (JSON Lines, https://jsonlines.org/), each with
``type`` and ``t_ms``.

``t_ms`` is
milliseconds since the session started, on the monotonic clock, and never decreases. Every
event passes through the redactor (``redactor.scrub(obj) -> obj``) before it is kept or
written, so values named in ``guardrails.redact`` never reach the log.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TextIO


class Scrubber(Protocol):
    """What the log needs from ``engine.redaction.Redactor``."""

    def scrub(self, obj: Any) -> Any:
        """A copy of ``obj`` with registered values and secrets masked."""
        ...

    def scrub_caller_text(self, text: str) -> str:
        """``text`` the caller said, masked (registered values, secrets, spoken dates and digit runs)."""
        ...

    @property
    def values_count(self) -> int:
        """How many values are registered (grows when a looked-up record is registered)."""
        ...


class EventLog:
    """Collects session events in memory (``.events``) and optionally appends them to a JSONL file.

    Args:
        path: a file to write (created / truncated), or None for memory only.
        redactor: an object with ``.scrub(obj)``; None keeps events as they are.
        clock: seconds, monotonic (``time.monotonic``); injectable for tests.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        redactor: Scrubber | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.redactor = redactor
        self.events: list[dict[str, Any]] = []
        self._clock = clock
        self._t0 = clock()
        self._last_ms = 0.0
        self._file: TextIO | None = None
        self._scrubbed_with = self._registered()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("w", encoding="utf-8")

    def now_ms(self) -> float:
        """Milliseconds since the log (= the session) started."""
        return (self._clock() - self._t0) * 1000.0

    def restart_clock(self) -> None:
        """Make ``t_ms`` 0 now (the session calls this as it starts)."""
        self._t0 = self._clock()
        self._last_ms = 0.0

    def emit(self, type: str, **fields: Any) -> dict[str, Any]:
        """Record event ``type`` with ``fields``; returns the (scrubbed) event as stored."""
        t_ms = max(self._last_ms, round(self.now_ms(), 1))
        self._last_ms = t_ms
        if self._registered() != self._scrubbed_with:
            self._rescrub()  # values registered since (e.g. a looked-up record): mask them in the past too
        event = self._scrub({"type": type, "t_ms": t_ms, **fields})
        self.events.append(event)
        if self._file is not None:
            self._file.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
            self._file.flush()
        return event

    def _registered(self) -> int | None:
        return self.redactor.values_count if self.redactor is not None else None

    def _scrub(self, event: dict[str, Any]) -> dict[str, Any]:
        # Field by field: the event's own keys (``name``, ``text``...) are not data keys, so a
        # redacted field called ``name`` masks a tool argument ``name`` but not the tool's name.
        if self.redactor is None:
            return event
        keys = [k for k in event if k not in ("type", "t_ms")]
        # The caller's words get Redactor.scrub_caller_text (also dates and digit runs not yet known).
        caller = event["type"] == "user.transcript" and isinstance(event.get("text"), str)
        values = self.redactor.scrub([None if caller and k == "text" else event[k] for k in keys])
        out = {"type": event["type"], "t_ms": event["t_ms"], **dict(zip(keys, values, strict=True))}
        if caller:
            out["text"] = self.redactor.scrub_caller_text(event["text"])
        return out

    def _rescrub(self) -> None:
        """Apply the redactor again to every stored event and rewrite the file."""
        self._scrubbed_with = self._registered()
        self.events[:] = [self._scrub(e) for e in self.events]
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            for e in self.events:
                self._file.write(json.dumps(e, ensure_ascii=False, default=str) + "\n")
            self._file.flush()

    def of_type(self, type: str) -> list[dict[str, Any]]:
        """The events of one type, in order (handy in tests)."""
        return [e for e in self.events if e["type"] == type]

    def close(self) -> None:
        """Close the file (idempotent); the in-memory list stays. Values registered with the
        redactor after an event was written are masked in it before closing.
        """
        if self._registered() != self._scrubbed_with:
            self._rescrub()
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
