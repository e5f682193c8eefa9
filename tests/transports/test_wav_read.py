"""read_wav: any common rate, channel count and PCM width -> PCM16 mono at the asked rate."""

from __future__ import annotations

import numpy as np
import pytest
from transport_helpers import tone
from voiceagent.transports.wav import WavFormatError, read_wav


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
def test_reads_common_rates_and_resamples_to_16k(tmp_wav, rate):
    path = tmp_wav(f"c{rate}.wav", tone(500, rate, freq=300), rate)
    frame = read_wav(path, 16000)
    assert frame.sample_rate == 16000
    assert abs(frame.duration_ms - 500) < 2
    x = frame.to_numpy().astype(np.float64) / 32768
    # still a 300 Hz tone of amplitude ~0.5 after resampling: dominant FFT bin at 300 Hz
    spectrum = np.abs(np.fft.rfft(x))
    peak_hz = np.argmax(spectrum) * 16000 / len(x)
    assert abs(peak_hz - 300) < 5
    assert 0.4 < np.max(np.abs(x[100:-100])) < 0.6


def test_keeps_file_rate_when_not_asked(tmp_wav):
    frame = read_wav(tmp_wav("a.wav", tone(100, 22050), 22050))
    assert frame.sample_rate == 22050 and frame.samples == 2205


def test_stereo_is_downmixed_to_mean(tmp_wav):
    left = tone(200, 16000, amp=0.5)
    right = np.zeros_like(left)
    frame = read_wav(tmp_wav("s.wav", np.stack([left, right], axis=1), 16000, channels=2))
    x = frame.to_numpy().astype(np.float64) / 32768
    assert frame.samples == len(left)
    assert np.allclose(x, left / 2, atol=2e-4)


@pytest.mark.parametrize("width", [1, 3, 4])
def test_other_pcm_widths(tmp_wav, width):
    src = tone(100, 16000, amp=0.5)
    frame = read_wav(tmp_wav(f"w{width}.wav", src, 16000, width=width))
    x = frame.to_numpy().astype(np.float64) / 32768
    assert np.allclose(x, src, atol=0.01 if width == 1 else 1e-4)


def test_not_a_wav_is_a_clear_error(tmp_path):
    bad = tmp_path / "caller.wav"
    bad.write_bytes(b"ID3\x03not a wav at all")
    with pytest.raises(WavFormatError, match="ffmpeg"):
        read_wav(bad)


def _riff(
    fmt_tag: int, channels: int, rate: int, bits: int, data: bytes, extensible_subformat: int | None = None
) -> bytes:
    import struct

    block = channels * bits // 8
    if extensible_subformat is None:
        fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)
    else:  # WAVE_FORMAT_EXTENSIBLE: cbSize 22, valid bits, channel mask, subformat GUID
        guid = struct.pack("<H", extensible_subformat) + bytes.fromhex("000000001000800000aa00389b71")
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * block, block, bits, 22, bits, 0) + guid
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.needs_local("av")
@pytest.mark.parametrize("kind", ["float32", "extensible_pcm16"])
def test_float_and_extensible_wavs_decode_through_pyav(tmp_path, kind):
    src = tone(200, 48000, amp=0.5)
    stereo = np.repeat(src[:, None], 2, axis=1)
    if kind == "float32":
        blob = _riff(3, 2, 48000, 32, stereo.astype("<f4").tobytes())
    else:
        blob = _riff(0, 2, 48000, 16, np.round(stereo * 32767).astype("<i2").tobytes(), extensible_subformat=1)
    path = tmp_path / f"{kind}.wav"
    path.write_bytes(blob)
    frame = read_wav(path, 16000)
    assert frame.sample_rate == 16000 and abs(frame.duration_ms - 200) < 3
    x = frame.to_numpy().astype(np.float64) / 32768
    assert 0.4 < np.max(np.abs(x[50:-50])) < 0.6
