"""Streaming voice activity detection with the Silero VAD v6 ONNX model that faster-whisper ships.

The model (``faster_whisper/assets/silero_vad_v6.onnx``, https://github.com/snakers4/silero-vad)
takes 16 kHz float audio in windows of 512 samples (32 ms) preceded by the last 64 samples of the
previous window (input ``input`` of shape ``(batch, 576)``), plus an LSTM state ``h``/``c`` of shape
``(1, 1, 128)`` each, and returns the speech probability of the window and the next state. This is
the same framing as ``faster_whisper.vad.SileroVADModel``, applied one window at a time.

Decisions (defaults follow Silero's ``get_speech_timestamps``):

- a window is *speech* when its probability is >= ``threshold`` (0.5) and *silence* when it is
  < ``threshold - 0.15`` (0.35); values in between keep the current state (hysteresis);
- ``start`` is reported once ``min_speech_ms`` (default 150 ms) of speech windows accumulated
  without a silence window in between; its ``sample`` is where that speech began. 250 ms (Silero's
  offline ``min_speech_duration_ms``) misses short answers such as "Hi." or "Two." (~300 ms of
  sound, a comma-like dip inside); 150 ms catches them and still ignores clicks;
- ``pause`` is reported after ``pause_ms`` (default 150 ms) of silence inside an utterance (a hint
  that the caller may have finished: the STT starts a speculative transcription then);
- ``end`` (end of utterance, EOU) is reported after ``eou_timeout_ms`` of continuous silence; its
  ``sample`` is where the silence began (the end of speech).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from voiceagent.providers.base import ProviderError
from voiceagent.providers.local.models import silero_vad_path

SAMPLE_RATE = 16000
"""The only rate (Hz) the VAD accepts."""
WINDOW = 512
"""Samples per model window at 16 kHz (32 ms)."""
CONTEXT = 64
"""Samples of the previous window prepended to each window (Silero v5/v6 framing)."""

_sessions: dict[str, Any] = {}  # onnxruntime.InferenceSession (onnxruntime has no types)
_sessions_lock = threading.Lock()


def load_silero(path: Path | None = None) -> Any:
    """The ONNX Runtime session of the Silero model, loaded once per process and shared.

    Raises:
        ProviderError: when onnxruntime or the model file is missing.
    """
    model = str(path or silero_vad_path())
    with _sessions_lock:
        session = _sessions.get(model)
        if session is None:
            try:
                import onnxruntime
            except ImportError as exc:  # faster-whisper depends on it, so rare
                raise ProviderError(f"Silero VAD needs onnxruntime: {exc}") from exc
            opts = onnxruntime.SessionOptions()
            opts.inter_op_num_threads = 1
            opts.intra_op_num_threads = 1
            opts.log_severity_level = 4
            session = onnxruntime.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
            _sessions[model] = session
        return session


@dataclass(frozen=True, slots=True)
class VADEvent:
    """A decision of :class:`StreamingVAD`.

    kind: ``start`` (speech began), ``pause`` (``pause_ms`` of silence inside speech) or ``end``
        (end of utterance after ``eou_timeout_ms`` of silence).
    sample: position in the stream, in 16 kHz samples counted from the first sample pushed: where
        speech started (``start``) or where the silence began (``pause``, ``end``).
    decided: the stream position (samples) where the decision was taken (end of the last window
        looked at); audio after it was not yet considered.
    """

    kind: Literal["start", "pause", "end"]
    sample: int
    decided: int = 0

    @property
    def ms(self) -> float:
        """``sample`` in milliseconds from the start of the stream."""
        return 1000.0 * self.sample / SAMPLE_RATE


class StreamingVAD:
    """Speech start / pause / end-of-utterance decisions over a stream of 16 kHz PCM16 audio.

    Feed audio with :meth:`process` (any length); it returns the events the new audio caused, in
    order. Not thread-safe: one instance per audio stream. Thresholds are described in the module
    docstring.
    """

    def __init__(
        self,
        *,
        eou_timeout_ms: int = 600,
        min_speech_ms: int = 150,
        pause_ms: int = 150,
        threshold: float = 0.5,
        neg_threshold: float | None = None,
        model_path: Path | None = None,
    ) -> None:
        self._session = load_silero(model_path)
        self.threshold = threshold
        self.neg_threshold = threshold - 0.15 if neg_threshold is None else neg_threshold
        self.eou_samples = SAMPLE_RATE * eou_timeout_ms // 1000
        self.min_speech_samples = SAMPLE_RATE * min_speech_ms // 1000
        self.pause_samples = min(SAMPLE_RATE * pause_ms // 1000, self.eou_samples)
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._pos = 0  # samples already run through the model
        self.speaking = False
        self._run_start: int | None = None  # candidate speech start while not speaking
        self._run_samples = 0
        self._silence_start: int | None = None
        self._paused = False
        self.last_speech_end = 0
        """End (sample) of the last speech window seen."""
        self._early_eou: int | None = None  # a shorter EOU for the current silence only

    def end_sooner(self, eou_ms: int) -> None:
        """End the current silence as an utterance after ``eou_ms`` instead of ``eou_timeout_ms``
        (the caller's words so far end a sentence: :class:`~voiceagent.providers.local.stt.LocalSTT`).
        Speech before then cancels it; the next silence waits the full ``eou_timeout_ms`` again.
        """
        if self.speaking and self._silence_start is not None:
            self._early_eou = min(self.eou_samples, SAMPLE_RATE * eou_ms // 1000)

    @property
    def position(self) -> int:
        """Samples processed so far (a multiple of :data:`WINDOW`)."""
        return self._pos

    def probability(self, window: np.ndarray) -> float:
        """Run one 512-sample float32 window through the model, advancing the recurrent state."""
        x = np.concatenate([self._context, window])[None, :]
        prob, self._h, self._c = self._session.run(None, {"input": x, "h": self._h, "c": self._c})
        self._context = window[-CONTEXT:]
        return float(np.asarray(prob).reshape(-1)[0])

    def process(self, pcm: bytes | np.ndarray) -> list[VADEvent]:
        """Consume PCM16 mono 16 kHz audio (``bytes`` little-endian or an ``int16`` array).

        Returns the events caused by the complete windows now available (a remainder shorter
        than a window waits for the next call).
        """
        samples = np.frombuffer(pcm, dtype="<i2") if isinstance(pcm, (bytes, bytearray)) else pcm
        if samples.size:
            self._pending = np.concatenate([self._pending, samples.astype(np.float32) / 32768.0])
        events: list[VADEvent] = []
        n = self._pending.size // WINDOW
        for i in range(n):
            window = self._pending[i * WINDOW : (i + 1) * WINDOW]
            event = self._decide(self.probability(window))
            if event is not None:
                events.append(event)
        self._pending = self._pending[n * WINDOW :]
        return events

    def _decide(self, prob: float) -> VADEvent | None:
        start, end = self._pos, self._pos + WINDOW
        self._pos = end
        if not self.speaking:
            if prob >= self.threshold:
                if self._run_start is None:
                    self._run_start = start
                self._run_samples += WINDOW
                if self._run_samples >= self.min_speech_samples:
                    self.speaking = True
                    self._silence_start, self._paused = None, False
                    self.last_speech_end = end
                    return VADEvent("start", self._run_start, end)
            elif prob < self.neg_threshold:
                self._run_start, self._run_samples = None, 0
            return None
        if prob >= self.threshold:
            self._silence_start, self._paused, self._early_eou = None, False, None
            self.last_speech_end = end
            return None
        if prob < self.neg_threshold and self._silence_start is None:
            self._silence_start = start
        if self._silence_start is None:
            return None
        silent = end - self._silence_start
        if silent >= (self._early_eou or self.eou_samples):
            self.speaking = False
            self._run_start, self._run_samples = None, 0
            at, self._silence_start, self._paused, self._early_eou = self._silence_start, None, False, None
            return VADEvent("end", at, end)
        if silent >= self.pause_samples and not self._paused:
            self._paused = True
            return VADEvent("pause", self._silence_start, end)
        return None

    def force_end(self) -> VADEvent | None:
        """End the current utterance now (a turn boundary); ``None`` when no speech is ongoing."""
        if not self.speaking:
            self._run_start, self._run_samples = None, 0
            return None
        self.speaking = False
        at = self._silence_start if self._silence_start is not None else self._pos
        self._silence_start, self._paused, self._early_eou = None, False, None
        self._run_start, self._run_samples = None, 0
        return VADEvent("end", at, self._pos)
