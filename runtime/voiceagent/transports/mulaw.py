"""G.711 μ-law <-> PCM16 with numpy lookup tables (``audioop`` is gone in Python 3.13).

The tables follow ITU-T G.711 (https://www.itu.int/rec/T-REC-G.711) as implemented in the
classic public-domain Sun ``g711.c``: bias 0x84 (132), clip at 32635, the code word stored
inverted. Decoding is one table lookup per byte (256 entries); encoding one lookup per sample
in a 65536-entry table built once at import (64 KB). Reference values: ``0xFF`` and ``0x7F``
decode to 0, ``0x80`` to +32124 and ``0x00`` to -32124 (the largest magnitudes).
"""

from __future__ import annotations

import numpy as np

__all__ = ["MULAW_SILENCE", "decode", "encode"]

_BIAS = 0x84
_CLIP = 32635
MULAW_SILENCE = 0xFF
"""The μ-law byte of digital silence."""


def _decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + _BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _BIAS - t, t - _BIAS).astype("<i2")


def _encode_table() -> np.ndarray:
    x = np.arange(-32768, 32768, dtype=np.int32)
    sign = np.where(x < 0, 0x80, 0x00)
    mag = np.minimum(np.abs(x), _CLIP) + _BIAS
    exponent = np.floor(np.log2(mag)).astype(np.int32) - 7  # 0..7: position of the top bit above bit 7
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


_DECODE = _decode_table()
_ENCODE = _encode_table()


def decode(data: bytes) -> bytes:
    """μ-law bytes -> PCM16 mono little-endian bytes (two bytes per input byte, same rate)."""
    return _DECODE[np.frombuffer(data, dtype=np.uint8)].tobytes()


def encode(pcm: bytes) -> bytes:
    """PCM16 mono little-endian bytes -> μ-law bytes (one per sample).

    Raises:
        ValueError: ``pcm`` has an odd number of bytes.
    """
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.int32)
    return _ENCODE[samples + 32768].tobytes()
