"""Prometheus metrics of one server (``GET /metrics``), on a registry of its own.

* ``voiceagent_calls_active``: calls in progress (gauge);
* ``voiceagent_calls_total{agent,outcome}``: finished calls by end reason (``caller_ended``,
  ``end_call``, ``transfer``, ``shutdown``, ``error``...) and refused ones (``refused_capacity``,
  ``refused_draining``);
* ``voiceagent_turn_latency_seconds{agent}``: end of caller speech -> first agent audio
  (histogram, from each turn's ``turn.metrics`` event);
* ``voiceagent_provider_errors_total{agent,provider}``: ``error`` events of the STT, LLM and TTS.

Format: https://prometheus.io/docs/instrumenting/exposition_formats/ (``prometheus-client``).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE_LATEST", "ServeMetrics"]

LATENCY_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)
PROVIDER_WHERE = {"stt": "stt", "llm": "llm", "tts": "tts"}


class ServeMetrics:
    """The server's metrics; :meth:`observe` takes every event of every call."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls_active = Gauge("voiceagent_calls_active", "Calls in progress.", registry=self.registry)
        self.calls_total = Counter(
            "voiceagent_calls", "Calls by agent and outcome.", ["agent", "outcome"], registry=self.registry
        )
        self.turn_latency = Histogram(
            "voiceagent_turn_latency_seconds",
            "End of caller speech to first agent audio, per turn.",
            ["agent"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.provider_errors = Counter(
            "voiceagent_provider_errors",
            "Provider errors (STT, LLM, TTS).",
            ["agent", "provider"],
            registry=self.registry,
        )

    def observe(self, agent: str, event: dict[str, Any]) -> None:
        """Update the metrics from one call event."""
        kind = event.get("type")
        if kind == "turn.metrics":
            ms = event.get("eou_to_first_audio_ms")
            if isinstance(ms, int | float) and ms >= 0:
                self.turn_latency.labels(agent=agent).observe(ms / 1000.0)
        elif kind == "error":
            provider = PROVIDER_WHERE.get(str(event.get("where")))
            if provider is not None:
                self.provider_errors.labels(agent=agent, provider=provider).inc()

    def call_ended(self, agent: str, outcome: str) -> None:
        """Count one finished (or refused) call."""
        self.calls_total.labels(agent=agent, outcome=outcome).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
