"""G.711 μ-law <-> PCM16 with numpy lookup tables (``audioop`` is gone in Python 3.13).

The tables follow ITU-T G.711 (https://www.itu.int/rec/T-REC-G.711) as its reference software
(ITU-T G.191, https://www.itu.int/rec/T-REC-G.191) and CPython's former ``audioop`` implement it:
encoding on the 14-bit magnitude with bias 33 and clip 8159, decoding with bias 0x84 (132), the
code word stored inverted. Decoding is one table lookup per byte (256 entries); encoding one
lookup per sample in a 65536-entry table built once at import (64 KB). Reference values:
``0xFF`` and ``0x7F`` decode to 0, ``0x80`` to +32124 and ``0x00`` to -32124.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MULAW_SILENCE", "decode", "encode"]

_BIAS = 0x84
_CLIP14 = 8159
MULAW_SILENCE = 0xFF
"""The μ-law byte of digital silence."""


def _decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + _BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _BIAS - t, t - _BIAS).astype("<i2")


def _encode_table() -> np.ndarray:
    # G.191's reference encoder works on 14-bit magnitudes: drop the two low bits, bias by 33,
    # clip at 8159; the segment is the position of the top bit, the mantissa the next four.
    v = np.arange(-32768, 32768, dtype=np.int32) >> 2
    mask = np.where(v < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(v), _CLIP14) + (_BIAS >> 2)
    seg = np.maximum(0, np.floor(np.log2(mag)).astype(np.int32) - 5)
    uval = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | ((mag >> (np.minimum(seg, 7) + 1)) & 0x0F))
    return (uval ^ mask).astype(np.uint8)


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
