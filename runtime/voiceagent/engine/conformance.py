"""Static proof that the real implementations satisfy the session's seams.

Nothing here runs: ``mypy`` (strict for ``voiceagent.engine.*``) checks each function below, so a
transport, provider, tool runner or guard that drifts from its Protocol fails type checking in
CI instead of at a call. ``tests/engine/test_ports.py`` checks the same at run time
(``runtime_checkable`` Protocols).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voiceagent.engine.guardrails import VerificationGuard
    from voiceagent.engine.ports import Guard, ToolRunnerPort
    from voiceagent.engine.tools import ToolRunner
    from voiceagent.providers.base import LLM, STT, TTS, STTStream
    from voiceagent.providers.local.llm import LocalLLM
    from voiceagent.providers.local.stt import LocalSTT, LocalSTTStream
    from voiceagent.providers.local.tts import EspeakTTS, PiperTTS
    from voiceagent.providers.openai_compat import OpenAICompatLLM
    from voiceagent.providers.smallest.stt import PulseStream, PulseSTT
    from voiceagent.providers.smallest.tts import LightningTTS
    from voiceagent.testing.fakes import FakeLLM, FakeSTT, FakeSTTStream, FakeTransport, FakeTTS
    from voiceagent.transports.base import Transport
    from voiceagent.transports.device import DeviceTransport
    from voiceagent.transports.text import TextTransport
    from voiceagent.transports.wav import WavTransport

__all__: list[str] = []


def _transports(
    text: TextTransport, wav: WavTransport, device: DeviceTransport, fake: FakeTransport
) -> list[Transport]:
    return [text, wav, device, fake]


def _llms(electron: OpenAICompatLLM, local: LocalLLM, fake: FakeLLM) -> list[LLM]:
    return [electron, local, fake]


def _stts(pulse: PulseSTT, local: LocalSTT, fake: FakeSTT) -> list[STT]:
    return [pulse, local, fake]


def _stt_streams(pulse: PulseStream, local: LocalSTTStream, fake: FakeSTTStream) -> list[STTStream]:
    return [pulse, local, fake]


def _ttss(lightning: LightningTTS, piper: PiperTTS, espeak: EspeakTTS, fake: FakeTTS) -> list[TTS]:
    return [lightning, piper, espeak, fake]


def _tools(runner: ToolRunner) -> ToolRunnerPort:
    return runner


def _guard(guard: VerificationGuard) -> Guard:
    return guard
