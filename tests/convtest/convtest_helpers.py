"""Paths shared by the ``voiceagent test`` tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AGENTS = ROOT / "agents"
SAMPLES = ROOT / "samples"
