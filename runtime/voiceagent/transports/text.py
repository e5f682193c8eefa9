r"""A text conversation in the terminal, or scripted through a pipe.

Each line of input is one caller utterance (blank lines are skipped); end of input (EOF, Ctrl-D)
ends the call. Agent lines are printed as ``agent: ...``. Optionally the agent's replies are also
synthesized and written to a WAV file (PCM16 mono), so a text conversation can still be listened to.

Usage::

    printf 'hi\nmy account is 1234\n' | voiceagent run agents/bank.yaml --text
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal, TextIO

from voiceagent.audio import AudioFrame

_EOF = object()


class TextTransport:
    """One call over text: caller lines in, agent lines out (and optionally agent audio to a WAV).

    Args:
        input: where caller lines come from (default ``sys.stdin``). Read on a daemon thread, so a
            blocked terminal read never keeps the process alive after the call ends.
        output: where lines are printed (default ``sys.stdout``).
        audio_path: when given, every frame passed to :meth:`play` is appended to a PCM16 mono WAV
            file there (at ``audio_rate`` Hz, or at the rate of the first frame when None);
            :attr:`plays_audio` is then True so the session synthesizes speech.
        caller: transport metadata for templates (``phone``, ``id``, ``metadata``).
        echo_caller: print caller lines back as ``caller: ...`` (default: only when the input is
            not a terminal, so piped transcripts read as a dialogue).

        pace: hand over the next line only after the agent finished replying to the previous one
            (the session calls :meth:`wait_played` at the end of each spoken turn), so scripted
            input does not barge in on speech. Default: on when speech goes to ``audio_path`` and
            the input is not a terminal. Without speech the session itself reads one line per turn.
        greeting: with ``pace``, the agent speaks first: the first line waits for that reply too.
        pace_timeout_s: the longest wait for one reply (s) before the next line is handed over.

    Audio written to the file counts as played at once: :meth:`played_ms` is the total written,
    :meth:`clear` has nothing left to drop, :meth:`wait_played` returns at once.
    """

    kind: Literal["text"] = "text"

    def __init__(
        self,
        input: TextIO | None = None,
        output: TextIO | None = None,
        *,
        audio_path: str | Path | None = None,
        audio_rate: int | None = None,
        caller: dict[str, Any] | None = None,
        echo_caller: bool | None = None,
        pace: bool | None = None,
        greeting: bool = False,
        pace_timeout_s: float = 60.0,
    ) -> None:
        self._input = input if input is not None else sys.stdin
        self._output = output if output is not None else sys.stdout
        self.caller: dict[str, Any] = dict(caller or {"phone": None, "id": None, "metadata": {}})
        self.audio_path = Path(audio_path) if audio_path is not None else None
        self.plays_audio = self.audio_path is not None
        self._audio_rate = audio_rate
        self._wav: wave.Wave_write | None = None
        self._played_samples = 0
        try:
            interactive = bool(self._input.isatty())
        except (AttributeError, ValueError):
            interactive = False
        self._echo_caller = not interactive if echo_caller is None else echo_caller
        self._pace = (self.plays_audio and not interactive) if pace is None else pace
        self._greeting = greeting
        self.pace_timeout_s = pace_timeout_s
        self._replies = 0
        self._reply_event = asyncio.Event()
        self._closed = False
        self._queue: asyncio.Queue[object] | None = None

    # ------------------------------------------------------------------ input

    def caller_audio(self) -> AsyncIterator[AudioFrame]:
        """Not available: a text transport has no caller audio.

        Raises:
            RuntimeError: always.
        """
        raise RuntimeError("TextTransport carries text; use caller_text()")

    async def caller_text(self) -> AsyncIterator[str]:
        """Caller utterances, one per non-blank input line, stripped; ends at EOF or :meth:`aclose`."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        self._queue = queue

        def reader() -> None:
            try:
                for line in self._input:
                    loop.call_soon_threadsafe(queue.put_nowait, line)
            except (OSError, ValueError, RuntimeError):  # closed input, or the call is over
                pass
            finally:
                with contextlib.suppress(RuntimeError):  # loop already closed: the call is over
                    loop.call_soon_threadsafe(queue.put_nowait, _EOF)

        threading.Thread(target=reader, name="voiceagent-stdin", daemon=True).start()
        handed = 0
        while not self._closed:
            item = await queue.get()
            if item is _EOF:
                return
            text = str(item).strip()
            if not text:
                continue
            if self._pace:
                await self._wait_for_replies(handed + (1 if self._greeting else 0))
                if self._closed:
                    return
            handed += 1
            if self._echo_caller:
                self._print(f"caller: {text}")
            yield text

    async def _wait_for_replies(self, count: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.pace_timeout_s
        while self._replies < count and not self._closed:
            self._reply_event.clear()
            try:  # asyncio.timeout, not wait_for: on 3.11 wait_for may swallow a cancellation
                async with asyncio.timeout(max(0.0, deadline - loop.time())):
                    await self._reply_event.wait()
            except TimeoutError:
                return

    # ------------------------------------------------------------------ output

    async def show(self, role: Literal["agent", "caller", "system"], text: str) -> None:
        """Print ``agent: TEXT`` / ``system: TEXT``; caller lines are printed only when echoing
        (the caller's own terminal already shows what they typed).
        """
        if role == "caller":
            return  # echoed (or typed) when read; never twice
        self._print(f"{role}: {text}")

    async def play(self, frame: AudioFrame) -> None:
        """Append agent audio to the WAV file (resampled to the file's rate); no-op without a file."""
        if self.audio_path is None or not frame.pcm or self._closed:
            return
        if self._wav is None:
            rate = self._audio_rate or frame.sample_rate
            self.audio_path.parent.mkdir(parents=True, exist_ok=True)
            self._wav = _open_wav(self.audio_path, rate)
        out = frame.resampled(self._wav.getframerate())
        self._wav.writeframes(out.pcm)
        self._played_samples += out.samples

    async def clear(self) -> None:
        """Nothing to drop: audio is written to the file as soon as it is played."""

    async def wait_played(self) -> None:
        """Returns at once (written audio counts as played); marks the end of a reply for ``pace``."""
        self._replies += 1
        self._reply_event.set()

    def played_ms(self) -> float:
        """Milliseconds of agent audio written to the WAV file so far (0 without a file)."""
        if self._wav is None:
            return 0.0
        return 1000.0 * self._played_samples / self._wav.getframerate()

    async def aclose(self) -> None:
        """Hang up: end :meth:`caller_text` (also while it waits for a line) and finish the WAV file
        (an empty, valid WAV when nothing was said). Idempotent.
        """
        if self._closed:
            return
        self._closed = True
        self._reply_event.set()
        if self._queue is not None:
            self._queue.put_nowait(_EOF)  # a pending caller_text() ends now (hang-up)
        if self.audio_path is not None and self._wav is None:
            self.audio_path.parent.mkdir(parents=True, exist_ok=True)
            self._wav = _open_wav(self.audio_path, self._audio_rate or 24000)
        if self._wav is not None:
            self._wav.close()
        with contextlib.suppress(OSError, ValueError):
            self._output.flush()

    def _print(self, line: str) -> None:
        print(line, file=self._output, flush=True)


def _open_wav(path: Path, rate: int) -> wave.Wave_write:
    """A PCM16 mono WAV writer at ``rate`` Hz."""
    w = wave.open(str(path), "wb")  # noqa: SIM115 - the transport closes it in aclose()
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(rate)
    return w
