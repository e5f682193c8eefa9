"""The calls in progress of one server: admission against ``--max-calls``, draining on shutdown.

A call is admitted at once or refused at once (never queued): the caller hears a busy message
(Twilio) or the WebSocket closes with 1013. While draining nothing is admitted.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ActiveCall", "CallRegistry"]

log = logging.getLogger("voiceagent.serve")


@dataclass(eq=False)
class ActiveCall:
    """One admitted call.

    Attributes:
        id: the call id (the provider's call id when it has one, else a uuid), also the event
            log's file name.
        agent: the agent's name. kind: ``twilio``, ``exotel`` or ``browser``.
        started: monotonic s at admission.
        done: set when the call finished (its event log closed).
        end_now: set by the server to end the call (drain timeout): the runner makes the agent say
            goodbye and hangs up.
        hangup: the runner's coroutine that ends the call with words (set once the call runs).
    """

    id: str
    agent: str
    kind: str
    started: float = field(default_factory=time.monotonic)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    end_now: asyncio.Event = field(default_factory=asyncio.Event)
    info: dict[str, Any] = field(default_factory=dict)
    hangup: Callable[[], Awaitable[None]] | None = None


class CallRegistry:
    """Admission, the calls in progress and the drain.

    Args:
        max_calls: concurrent calls admitted (None: no limit).
    """

    def __init__(self, max_calls: int | None = None) -> None:
        self.max_calls = max_calls
        self.active: dict[str, ActiveCall] = {}
        self.draining = False
        self._seq = itertools.count(1)
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self.active)

    def full(self) -> bool:
        """Whether a new call would be refused for capacity."""
        return self.max_calls is not None and len(self.active) >= self.max_calls

    def refusal(self) -> str | None:
        """Why a new call would be refused now (``draining``, ``capacity``) or None."""
        if self.draining:
            return "draining"
        if self.full():
            return "capacity"
        return None

    def admit(self, agent: str, kind: str, call_id: str | None = None) -> ActiveCall | None:
        """Admit a call, or None when draining or at capacity. A duplicate provider call id gets
        a suffix, so two event logs never share a file.
        """
        if self.refusal() is not None:
            return None
        cid = _safe_id(call_id) or uuid.uuid4().hex
        if cid in self.active:
            cid = f"{cid}-{next(self._seq)}"
        call = ActiveCall(id=cid, agent=agent, kind=kind)
        self.active[cid] = call
        self._changed.set()
        return call

    def release(self, call: ActiveCall) -> None:
        """The call ended (idempotent)."""
        self.active.pop(call.id, None)
        call.done.set()
        self._changed.set()

    async def wait_empty(self, timeout: float) -> bool:
        """Wait until no call is in progress, at most ``timeout`` s. Returns whether it is empty."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.active:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                return not self.active
        return True

    async def drain(self, timeout: float, *, goodbye_timeout: float = 15.0) -> None:
        """Stop admitting; let calls finish for ``timeout`` s; then end the rest with words
        (each call's ``end_now``), waiting at most ``goodbye_timeout`` s for them to finish.
        """
        self.draining = True
        if self.active:
            log.info("draining: %d call(s) in progress, waiting up to %.0f s", len(self.active), timeout)
        if await self.wait_empty(timeout):
            return
        log.info("drain timeout: ending %d call(s) with a goodbye", len(self.active))
        for call in list(self.active.values()):
            call.end_now.set()
        if not await self.wait_empty(goodbye_timeout):
            log.warning("%d call(s) did not end in time", len(self.active))


def _safe_id(value: str | None) -> str | None:
    """A provider id usable as a file name (letters, digits, ``-``, ``_``), or None."""
    if not value:
        return None
    cleaned = "".join(c for c in value if c.isalnum() or c in "-_")[:64]
    return cleaned or None
