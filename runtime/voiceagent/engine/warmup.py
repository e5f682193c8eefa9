"""Prompt-cache warm-up: while the greeting plays, an LLM that supports it pre-fills its cache.

An LLM that declares ``capabilities.warm_up`` (``async warm_up(request) -> seconds``, e.g. the
local llama.cpp one; see :class:`voiceagent.providers.base.LLMCapabilities`) gets the first
request's prefix (system prompt, tools, greeting) so the first caller turn starts faster. Only an
optimisation: failures are ``error`` events (``where="llm.warm_up"``), never raised.

On a cold machine the local warm-up takes 4-10 s, longer than the greeting and than
``behaviour.utterance_timeout_ms``. A caller turn that starts while the warm-up still runs (piped
``--text`` input arrives at once) therefore first waits for it (:meth:`WarmUp.wait`, at most
:data:`WAIT_CAP_S` after the warm-up began) and only then starts its utterance timeout: the LLM
could not answer earlier anyway, and the caller should hear the answer rather than the fallback.
The wait is reported as ``warmup_wait_ms`` in ``turn.metrics``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from voiceagent.engine.events import EventLog
from voiceagent.providers.base import LLM, ChatRequest, warm_up_of

WAIT_CAP_S = 60.0
"""Longest a caller turn waits for the warm-up, in seconds counted from the warm-up's start."""


def start_warm_up(llm: LLM, request: ChatRequest, events: EventLog) -> asyncio.Task[None] | None:
    """Start warming ``llm`` up with ``request``, or None when it does not declare
    ``capabilities.warm_up``. Emits ``llm.warm_up`` (``ms``: the time the LLM reported) when done,
    or an ``error`` event (``where="llm.warm_up"``) when it fails.
    """
    warmable = warm_up_of(llm)
    if warmable is None:
        return None

    async def run() -> None:
        try:
            seconds = await warmable.warm_up(request)
            events.emit("llm.warm_up", ms=round(float(seconds or 0) * 1000.0, 1))
        except Exception as exc:  # noqa: BLE001 - only an optimisation
            events.emit("error", where="llm.warm_up", message=f"{type(exc).__name__}: {exc}")

    return asyncio.create_task(run(), name="llm-warm-up")


class WarmUp:
    """The warm-up of one call: started once, awaited by caller turns, cancelled at shutdown.

    Args:
        llm: the call's LLM (nothing runs unless it declares ``capabilities.warm_up``).
        events: the call's event log.
        request: builds the first request (prompt, tools, greeting so far) when the warm-up starts.
        cap_s: longest wait (s) for the warm-up, counted from its start (:data:`WAIT_CAP_S`).
    """

    def __init__(
        self, llm: LLM, events: EventLog, request: Callable[[], ChatRequest], *, cap_s: float = WAIT_CAP_S
    ) -> None:
        self.llm = llm
        self.events = events
        self.request = request
        self.cap_s = cap_s
        self.task: asyncio.Task[None] | None = None
        self.started_at: float | None = None
        """Loop time (s) the warm-up began, None before :meth:`start`."""

    def start(self) -> None:
        """Start the warm-up (once per call; later calls do nothing). Without the LLM capability
        nothing runs.
        """
        if self.started_at is not None:
            return
        self.started_at = asyncio.get_running_loop().time()
        if self.llm.capabilities.warm_up:
            self.task = start_warm_up(self.llm, self.request(), self.events)

    async def wait(self) -> float:
        """Wait for a warm-up still in progress, until it ends or ``cap_s`` after its start.

        Returns the time waited in ms (0.0 when none is running). Cancelling the caller (barge-in,
        the session's shutdown) ends the wait at once and leaves the warm-up running; a capped
        wait leaves it running too (the LLM is then as slow as it is).
        """
        task = self.task
        if task is None or task.done() or self.started_at is None:
            return 0.0
        loop = asyncio.get_running_loop()
        begun = loop.time()
        remaining = self.started_at + self.cap_s - begun
        if remaining > 0:
            await asyncio.wait({task}, timeout=remaining)  # never cancels the warm-up itself
        return round((loop.time() - begun) * 1000.0, 1)

    async def aclose(self) -> None:
        """Cancel a warm-up still running and wait for it to end."""
        task = self.task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
