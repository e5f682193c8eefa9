"""Experiments the benchmarks can switch on, and the one process-wide step the CLI takes.

The profile's fixes (docs/performance.md, "Profile") are now in the runtime itself: the LLM
client posts its body without the SDK's transform and has ``warm_up``, ``voiceagent run`` runs
``gc.collect(); gc.freeze()`` before the session, ``PulseSTT`` has ``min_chunk_ms`` and a 15 s
resend buffer. What is left here only measures alternatives:

* ``pulse-40ms``: ``PulseSTT(min_chunk_ms=40)``: 40 ms binary frames instead of 20 ms: half the
  WebSocket messages and ``send`` syscalls for the caller's audio, the largest per-call CPU cost;
  the price is up to 20 ms (10 ms on average) more before Pulse has the audio that completes its
  end-of-utterance silence, and the same for ``speech_started`` (barge-in). A real constructor
  option now; the patch only sets it on the benchmark's streams.

* ``no-gc-freeze``: skip the ``gc.collect(); gc.freeze()`` that ``voiceagent run`` does just
  before the call (:func:`freeze_like_the_cli`), to measure what it is worth.

uvloop is the ``--uvloop`` flag of turn_latency.py / concurrency.py (not a project dependency).

Use: ``--patch pulse-40ms`` on turn_latency.py / concurrency.py / hot_paths.py.
"""

from __future__ import annotations

import gc
from typing import Any

PATCHES = ("pulse-40ms", "no-gc-freeze")


def freeze_like_the_cli(names: list[str] | None) -> list[str]:
    """Do what ``voiceagent run`` does once start-up is over (``gc.collect(); gc.freeze()``,
    runtime/voiceagent/cli/run.py), unless ``no-gc-freeze`` is among ``names``.

    Returns ``["gc-freeze"]`` when it froze, else ``[]``.
    """
    if "no-gc-freeze" in (names or []):
        return []
    gc.collect()
    gc.freeze()
    return ["gc-freeze"]


def apply(names: list[str] | None, *, stt: Any = None) -> list[str]:
    """Apply the named per-object experiments (``pulse-40ms`` to a ``PulseSTT``, before
    ``open``); returns the names applied.

    Raises:
        ValueError: an unknown name.
    """
    applied = []
    for name in names or []:
        if name not in PATCHES:
            raise ValueError(f"unknown patch {name!r}; known: {', '.join(PATCHES)}")
        if name == "pulse-40ms" and stt is not None:
            stt.min_chunk_ms = 40  # read by each PulseStream it opens
            applied.append(name)
    return applied
