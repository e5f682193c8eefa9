"""Fixtures for transport tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from transport_helpers import write_pcm_wav


@pytest.fixture
def tmp_wav(tmp_path: Path):
    def make(name: str, samples: np.ndarray, rate: int, **kw) -> Path:
        return write_pcm_wav(tmp_path / name, samples, rate, **kw)

    return make
