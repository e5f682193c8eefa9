"""Running agent code (python tools) so that it cannot end, silence or hijack the call.

A python tool is code the runtime did not write. Whatever it does, the call goes on and the
LLM hears a tool error instead:

* ``sys.exit(3)``, ``raise SystemExit`` or ``raise KeyboardInterrupt`` inside a tool become
  :class:`ToolAborted` (an ordinary exception) instead of stopping the event loop and the process.
* An async tool that raises ``asyncio.CancelledError`` by itself is a tool error
  (:class:`ToolAborted`); only a cancellation of the calling task (a barge-in, the tool's
  timeout) propagates as cancellation. The two are told apart with ``Task.cancelling()``
  (https://docs.python.org/3/library/asyncio-task.html#asyncio.Task.cancelling).
* Sync functions run on a **daemon thread of their own**, not the event loop's default executor.
  Python cannot stop a thread: a sync tool that hangs past its ``timeout_ms`` keeps running in
  the background, its result is discarded when it finally returns, and the process still exits
  when the call is over (daemon threads are not joined at exit; the default executor would be:
  ``asyncio.run`` waits for it, https://docs.python.org/3/library/asyncio-runner.html).
* What a tool prints (``print``, ``sys.stdout.write``, ``sys.stderr.write``, also through their
  ``.buffer``) is captured while it runs (:func:`capture_output`) and goes to the event log with
  its result (``tool.result`` ``output``), never to the terminal: in a text call stdout *is* the
  conversation, and a tool printing ``caller: transfer me`` must not look like the caller.
  Limits: writes below Python's ``sys.stdout`` (``os.write(1, ...)``, child processes, C
  extensions) and writes from threads the tool starts itself are not captured.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import io
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TextIO

__all__ = ["OUTPUT_LIMIT", "OutputCapture", "ToolAborted", "call_function", "capture_output"]

OUTPUT_LIMIT = 2000
"""Characters of a tool's printed output kept for the event log (the rest is counted, not kept)."""


class ToolAborted(Exception):
    """A tool tried to end the process or cancel itself; ``str()`` says how, for the LLM and the log."""


def describe_abort(exc: BaseException) -> str:
    """What a ``SystemExit`` / ``KeyboardInterrupt`` / ``CancelledError`` raised by a tool means,
    in words: ``called sys.exit(3)``, ``raised KeyboardInterrupt``, ``cancelled itself``.
    """
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})" if exc.code is not None else "called sys.exit()"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled itself (raised CancelledError)"
    return f"raised {type(exc).__name__}"


# --------------------------------------------------------------------------- output capture


class OutputCapture:
    """What one tool call printed: the first ``limit`` characters, and how many were dropped."""

    def __init__(self, limit: int = OUTPUT_LIMIT) -> None:
        self.limit = limit
        self._parts: list[str] = []
        self._kept = 0
        self.dropped = 0
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        """Keep ``text`` up to the limit (thread-safe)."""
        with self._lock:
            room = self.limit - self._kept
            if room > 0:
                piece = text[:room]
                self._parts.append(piece)
                self._kept += len(piece)
            self.dropped += max(0, len(text) - max(room, 0))

    def text(self) -> str | None:
        """The captured output (``… [N more characters]`` when cut), or None when nothing was printed."""
        out = "".join(self._parts)
        if self.dropped:
            out += f"… [{self.dropped} more characters]"
        return out if out.strip() else None


_CAPTURE: contextvars.ContextVar[OutputCapture | None] = contextvars.ContextVar("voiceagent_tool_output", default=None)


class _RoutingStream(io.TextIOBase):
    """Stands in for ``sys.stdout``/``sys.stderr``: writes made while a tool runs (in the tool's
    context, see :func:`capture_output`) go to its :class:`OutputCapture`; every other write goes
    to the real stream unchanged.
    """

    def __init__(self, real: TextIO) -> None:
        self.real = real

    def write(self, s: str) -> int:
        cap = _CAPTURE.get()
        if cap is not None:
            cap.write(str(s))
            return len(s)
        return self.real.write(s)

    def flush(self) -> None:
        if _CAPTURE.get() is None:
            self.real.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return bool(self.real.isatty())

    def fileno(self) -> int:
        return self.real.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.real, "encoding", "utf-8"))

    @property
    def buffer(self) -> _RoutingBuffer:
        """``sys.stdout.buffer`` routed the same way (``sys.stdout.buffer.write(b"...")``)."""
        return _RoutingBuffer(getattr(self.real, "buffer", None))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class _RoutingBuffer:
    """The binary side of :class:`_RoutingStream`: bytes written by a tool are captured as text."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def write(self, data: bytes) -> int:
        cap = _CAPTURE.get()
        if cap is not None or self.real is None:
            if cap is not None:
                cap.write(bytes(data).decode("utf-8", "replace"))
            return len(data)
        return int(self.real.write(data))

    def flush(self) -> None:
        if _CAPTURE.get() is None and self.real is not None:
            self.real.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _install_routing() -> None:
    """Put a :class:`_RoutingStream` in front of ``sys.stdout`` and ``sys.stderr`` (idempotent;
    re-installed when someone, e.g. a test harness, swapped the streams since).
    """
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, _RoutingStream):
            setattr(sys, name, _RoutingStream(stream))


@contextlib.contextmanager
def capture_output(limit: int = OUTPUT_LIMIT) -> Iterator[OutputCapture]:
    """Capture what the code run inside the block prints, in this context and in the tasks and
    threads :func:`call_function` starts from it. Use it around one tool call.
    """
    _install_routing()
    cap = OutputCapture(limit)
    token = _CAPTURE.set(cap)
    try:
        yield cap
    finally:
        _CAPTURE.reset(token)


# --------------------------------------------------------------------------- calling


async def call_function(func: Callable[..., Any], kwargs: dict[str, Any], *, name: str = "tool") -> Any:
    """Call a tool function with ``kwargs`` and return its value (an awaitable returned by a sync
    function is awaited too).

    Coroutine functions run in a task of their own, sync functions on a daemon thread (see the
    module docstring); both inherit the caller's context (the output capture).

    Raises:
        ToolAborted: the function raised ``SystemExit``/``KeyboardInterrupt``, or cancelled itself.
        asyncio.CancelledError: the calling task was cancelled (barge-in, timeout).
        Exception: whatever the function raised.
    """
    if inspect.iscoroutinefunction(func):
        value = await _in_task(func(**kwargs), name)
    else:
        value = await _in_daemon_thread(func, kwargs, name)
        if inspect.isawaitable(value):
            value = await _in_task(value, name)
    return value


async def _guarded(awaitable: Any) -> Any:
    try:
        return await awaitable
    except (SystemExit, KeyboardInterrupt) as exc:
        raise ToolAborted(describe_abort(exc)) from None
    except asyncio.CancelledError as exc:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # cancelled from outside: the caller's turn or the timeout
        raise ToolAborted(describe_abort(exc)) from None


async def _in_task(awaitable: Any, name: str) -> Any:
    """Await ``awaitable`` in a task of its own, so a ``CancelledError`` it raises by itself is
    told apart from the cancellation of the caller (which cancels the task too).
    """
    task = asyncio.ensure_future(_guarded(awaitable))
    try:
        return await task
    except asyncio.CancelledError:
        me = asyncio.current_task()
        if me is not None and me.cancelling():
            raise
        if task.cancelled():  # the tool's task was cancelled by something of the tool's own
            raise ToolAborted(f"tool '{name}' was cancelled") from None
        raise


async def _in_daemon_thread(func: Callable[..., Any], kwargs: dict[str, Any], name: str) -> Any:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    ctx = contextvars.copy_context()

    def settle(ok: bool, value: Any) -> None:
        if future.done():
            return  # timed out or cancelled: the late result is discarded
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def target() -> None:
        try:
            value = ctx.run(func, **kwargs)
        except (SystemExit, KeyboardInterrupt) as exc:
            outcome: tuple[bool, Any] = (False, ToolAborted(describe_abort(exc)))
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            outcome = (False, exc)
        else:
            outcome = (True, value)
        with contextlib.suppress(RuntimeError):  # the loop is closed: the call is long over
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=target, name=f"voiceagent-tool-{name}", daemon=True).start()
    return await future
