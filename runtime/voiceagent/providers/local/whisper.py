"""The embedded Whisper recognizer: one loaded faster-whisper model per process, and what its
transcripts are read for (a finished sentence for the end of turn, a decoding loop).

faster-whisper (CTranslate2): https://github.com/SYSTRAN/faster-whisper; ``transcribe`` options
as documented there (``initial_prompt``, ``beam_size``, ``without_timestamps``...).
"""

from __future__ import annotations

import itertools
import os
import re
import threading
from pathlib import Path

import numpy as np

from voiceagent.providers.base import ProviderError
from voiceagent.providers.local.whisper_models import whisper_model_dir

__all__ = ["WhisperEngine", "ends_sentence", "joined_numbers", "load_whisper"]


_OPEN_ENDINGS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "but",
        "by",
        "for",
        "from",
        "if",
        "in",
        "is",
        "my",
        "of",
        "on",
        "or",
        "so",
        "the",
        "to",
        "was",
        "were",
        "with",
        "your",
        "our",
    ]
)


def ends_sentence(text: str) -> bool:
    """Whether a transcript reads as a finished utterance: two words or more ending in ``.``, ``?``
    or ``!`` (not an ellipsis), the last word not one that leaves a sentence open ("My account
    number is." is not finished; "What's my balance?" is). Whisper punctuates from the prosody,
    so this is a cheap semantic end-of-turn signal (as LiveKit's and Pipecat's turn detectors are
    model-based ones).
    """
    t = text.strip()
    if not t or t.endswith("..") or t.endswith("…") or t[-1] not in ".?!":
        return False
    words = re.findall(r"[\w']+", t.lower())
    return len(words) >= 2 and words[-1] not in _OPEN_ENDINGS


_SPLIT_NUMBER = re.compile(r"(?<![\d,.])(\d{1,3}(?:,\d{3})+|\d{3,})\s(\d{1,3})(?!\d|[,.]\d)")


def joined_numbers(text: str) -> str:
    """``text`` with a round number and the smaller number after it written as one number
    ("ends in 7,700 88" -> "ends in 7788").

    Whisper writes "seven thousand seven hundred ... eighty-eight" as "7,700 88" when the caller
    pauses inside the number (espeak-ng's caller saying a card's last four digits, 7788), so no
    four-digit value was heard. Joined only when the first number ends in more zeros than the
    second has digits, the second has no leading zero and a single space separates them
    ("1,200 34" -> "1234"; "1985 12", "100 200" and "2,000 050" are left alone).
    """

    def join(match: re.Match[str]) -> str:
        head, tail = match.group(1).replace(",", ""), match.group(2)
        zeros = len(head) - len(head.rstrip("0"))
        if tail.startswith("0") or len(tail) > zeros or head.strip("0") == "":
            return match.group(0)
        return str(int(head) + int(tail))

    return _SPLIT_NUMBER.sub(join, text)


_LOOP = 8
"""Consecutive repeats of one token that mark a decoding loop (Whisper's known failure)."""


def _loops(text: str) -> bool:
    tokens = re.findall(r"\w+", text.lower())
    run = 1
    for a, b in itertools.pairwise(tokens):
        run = run + 1 if a == b else 1
        if run >= _LOOP:
            return True
    return False


class WhisperEngine:
    """One loaded faster-whisper model; calls are serialised (one pass at a time per model)."""

    def __init__(self, model_dir: Path, *, cpu_threads: int, compute_type: str) -> None:
        from faster_whisper import WhisperModel

        self.model_dir = model_dir
        self.model = WhisperModel(
            str(model_dir), device="cpu", compute_type=compute_type, cpu_threads=cpu_threads, local_files_only=True
        )
        self._lock = threading.Lock()

    def transcribe(self, pcm16: np.ndarray, language: str = "en", prompt: str | None = None) -> str:
        """Text of 16 kHz int16 mono audio (blocking; run it in a thread). Greedy, no timestamps.

        ``prompt``: words the call is likely to contain, given to Whisper as its previous text
        (``initial_prompt``), which biases decoding toward them: espeak-ng's "account" was heard
        as "count" without it, as "account" with the support agent's words. (``hotwords`` was
        measured too: similar word error, but it dropped the capitals and the final punctuation
        that the end-of-turn check and the name facts read.) When a hinted pass loops (a token
        repeated :data:`_LOOP` times: "1,2,3,3,3,3,..."), the pass is run again without the hint.
        A number Whisper split at a pause is joined again (:func:`joined_numbers`).
        """
        text = self._decode(pcm16, language, prompt)
        if prompt and _loops(text):
            text = self._decode(pcm16, language, None)
        return joined_numbers(text)

    def _decode(self, pcm16: np.ndarray, language: str, prompt: str | None) -> str:
        audio = pcm16.astype(np.float32) / 32768.0
        with self._lock:
            segments, _info = self.model.transcribe(
                audio,
                language=language,
                initial_prompt=prompt or None,
                beam_size=1,
                temperature=0.0,
                without_timestamps=True,
                condition_on_previous_text=False,
                vad_filter=False,
            )
            return " ".join(s.text.strip() for s in segments).strip()


_engines: dict[tuple[str, int, str], WhisperEngine] = {}
_engines_lock = threading.Lock()


def load_whisper(
    model_dir: Path | None = None,
    *,
    model: str | None = None,
    cpu_threads: int | None = None,
    compute_type: str = "int8",
) -> WhisperEngine:
    """The shared :class:`WhisperEngine` for ``model_dir``, else for the embedded model ``model``
    (a :data:`~voiceagent.providers.local.whisper_models.WHISPER_MODELS` name; default ``base``).

    Loaded once per process and cached. Blocking (~0.5 s; the first use of ``base`` also joins
    its 145 MB file into the model cache, ~1 s): call it in a thread from async code.

    Raises:
        ProviderError: when the packages or model files are missing or the model fails to load.
    """
    path = Path(model_dir) if model_dir else whisper_model_dir(model)
    threads = cpu_threads or min(4, os.cpu_count() or 1)
    key = (str(path), threads, compute_type)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            try:
                engine = WhisperEngine(path, cpu_threads=threads, compute_type=compute_type)
            except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError on bad files
                raise ProviderError(f"cannot load Whisper model from {path}: {exc}") from exc
            _engines[key] = engine
        return engine
