"""Microphone and speaker through ``sounddevice`` (PortAudio, https://python-sounddevice.readthedocs.io).

``sounddevice`` is an optional dependency (``pip install 'voiceagent-runtime[device]'``) and is
imported lazily, so importing this module never touches audio hardware. Use headphones: with
barge-in on, the agent hearing itself through the speaker interrupts itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any, Literal

from voiceagent.audio import AudioFrame, Resampler


def has_audio_devices() -> bool:
    """True when ``sounddevice`` imports and the machine has a default input and output device.

    Never raises: a missing package, a missing PortAudio library or no devices all give False.
    """
    try:
        import sounddevice as sd

        for kind in ("input", "output"):
            info = sd.query_devices(kind=kind)
            channels = info.get(f"max_{kind}_channels", 0) if isinstance(info, dict) else 0
            if not channels:
                return False
        return True
    except Exception:  # noqa: BLE001 - OSError (no PortAudio), PortAudioError (no device), ...
        return False


def _device_rate(sd: Any, kind: str) -> int | None:
    """The default sample rate (Hz) of the default ``kind`` ("input"/"output") device, or None."""
    try:
        return int(sd.query_devices(kind=kind)["default_samplerate"])
    except Exception:  # noqa: BLE001 - no device / odd backend: the caller picks a rate
        return None


class DeviceTransport:
    """Caller audio from the default microphone, agent audio to the default speaker.

    Args:
        sample_rate: rate (Hz) of the caller frames handed to the session (default 16000);
            frames are ``frame_ms`` long.
        input_rate: rate (Hz) the microphone is opened at; default: the device's default rate
            (many devices only run at 44.1/48 kHz). Resampled to ``sample_rate`` with soxr.
        output_rate: rate (Hz) the speaker is opened at; default: the device's default rate.
            Agent frames (any rate) are resampled to it.
        frame_ms: frame length (default 20 ms), also the device block size.
        caller: transport metadata for templates (``phone``, ``id``, ``metadata``).

    The microphone callback runs on PortAudio's thread and hands blocks to the event loop; the
    speaker callback pulls from a byte queue that :meth:`clear` empties at once (barge-in).

    Raises:
        RuntimeError: on first use when ``sounddevice`` is not installed.
    """

    kind: Literal["audio"] = "audio"
    plays_audio = True

    def __init__(
        self,
        *,
        sample_rate: int = 16000,
        input_rate: int | None = None,
        output_rate: int | None = None,
        frame_ms: int = 20,
        caller: dict[str, Any] | None = None,
    ) -> None:
        self.sample_rate = sample_rate
        self.input_rate = input_rate
        self.output_rate = output_rate
        self.frame_ms = frame_ms
        self.caller: dict[str, Any] = dict(caller or {"phone": None, "id": None, "metadata": {}})
        self._lock = threading.Lock()
        self._pending = bytearray()  # agent PCM16 at output_rate, not yet handed to the speaker
        self._played_samples = 0
        self._resamplers: dict[int, Resampler] = {}
        self._out_stream: Any = None
        self._in_stream: Any = None
        self._closed = False

    @staticmethod
    def _sd() -> Any:
        try:
            import sounddevice as sd

            return sd
        except Exception as exc:
            raise RuntimeError(
                "sound devices need the sounddevice package and PortAudio: "
                "pip install 'voiceagent-runtime[device]' (or run with --text)"
            ) from exc

    # ------------------------------------------------------------------ microphone

    def caller_text(self) -> AsyncIterator[str]:
        """Not available: a device transport carries audio.

        Raises:
            RuntimeError: always.
        """
        raise RuntimeError("DeviceTransport carries audio; use caller_audio()")

    async def caller_audio(self) -> AsyncIterator[AudioFrame]:
        """Microphone frames (PCM16 mono, ``sample_rate`` Hz, exactly ``frame_ms`` long) until
        :meth:`aclose`.
        """
        sd = self._sd()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes] = asyncio.Queue()

        def on_audio(indata: Any, frames: int, time_info: Any, status: Any) -> None:
            with contextlib.suppress(RuntimeError):  # loop closed
                loop.call_soon_threadsafe(queue.put_nowait, bytes(indata))

        rate = self.input_rate or _device_rate(sd, "input") or self.sample_rate
        resampler = Resampler(rate, self.sample_rate)
        frame_bytes = 2 * int(self.sample_rate * self.frame_ms / 1000)
        buf = bytearray()
        self._in_stream = sd.RawInputStream(
            samplerate=rate,
            blocksize=int(rate * self.frame_ms / 1000),
            channels=1,
            dtype="int16",
            callback=on_audio,
        )
        self._in_stream.start()
        try:
            while not self._closed:
                try:  # asyncio.timeout, not wait_for: on 3.11 wait_for may swallow a cancellation
                    async with asyncio.timeout(0.5):
                        data = await queue.get()
                except TimeoutError:
                    continue
                buf.extend(resampler.process(AudioFrame(data, rate)).pcm)
                while len(buf) >= frame_bytes:
                    yield AudioFrame(bytes(buf[:frame_bytes]), self.sample_rate)
                    del buf[:frame_bytes]
        finally:
            self._stop(self._in_stream)
            self._in_stream = None

    # ------------------------------------------------------------------ speaker

    def _ensure_output(self) -> None:
        if self._out_stream is not None:
            return
        sd = self._sd()

        def on_output(outdata: Any, frames: int, time_info: Any, status: Any) -> None:
            need = frames * 2
            with self._lock:
                chunk = bytes(self._pending[:need])
                del self._pending[:need]
                self._played_samples += len(chunk) // 2
            outdata[: len(chunk)] = chunk
            if len(chunk) < need:
                outdata[len(chunk) :] = b"\x00" * (need - len(chunk))

        if self.output_rate is None:
            self.output_rate = _device_rate(sd, "output") or 24000
        self._out_stream = sd.RawOutputStream(
            samplerate=self.output_rate,
            blocksize=int(self.output_rate * self.frame_ms / 1000),
            channels=1,
            dtype="int16",
            callback=on_output,
        )
        self._out_stream.start()

    async def play(self, frame: AudioFrame) -> None:
        """Queue agent audio for the speaker (resampled to ``output_rate``); never blocks."""
        if not frame.pcm or self._closed:
            return
        self._ensure_output()
        resampler = self._resamplers.get(frame.sample_rate)
        if resampler is None:  # streaming: no clicks at chunk edges within a sentence
            assert self.output_rate is not None  # set by _ensure_output
            resampler = self._resamplers[frame.sample_rate] = Resampler(frame.sample_rate, self.output_rate)
        pcm = resampler.process(frame).pcm
        with self._lock:
            self._pending.extend(pcm)

    async def clear(self) -> None:
        """Barge-in: drop queued agent audio not yet handed to the speaker."""
        with self._lock:
            self._pending.clear()
        self._resamplers.clear()

    async def wait_played(self) -> None:
        """Return when the speaker queue is empty (plus one block of device latency)."""
        while not self._closed:
            with self._lock:
                left = len(self._pending)
            if not left:
                await asyncio.sleep(self.frame_ms / 1000.0)
                return
            await asyncio.sleep(min(0.1, left / 2 / (self.output_rate or 24000)))

    def played_ms(self) -> float:
        """Milliseconds of agent audio handed to the speaker so far in this call."""
        with self._lock:
            return 1000.0 * self._played_samples / self.output_rate if self.output_rate else 0.0

    async def show(self, role: Literal["agent", "caller", "system"], text: str) -> None:
        """Speech is the interface; text is not shown (the event log has it)."""

    async def aclose(self) -> None:
        """Stop and close both streams. Idempotent."""
        self._closed = True
        self._stop(self._in_stream)
        self._stop(self._out_stream)
        self._in_stream = self._out_stream = None

    @staticmethod
    def _stop(stream: Any) -> None:
        if stream is None:
            return
        with contextlib.suppress(Exception):  # device already gone
            stream.stop()
            stream.close()
