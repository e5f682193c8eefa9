"""Issue 15: a Hinglish agent (``languages: [hi, en]``, agents/support.hinglish.yaml) through the
Smallest fakes with a caller who switches language, asserted on the wire per turn: the Pulse
query, the language Pulse reports on each final, the Electron prompt's language line, and the
Lightning request's ``language`` and ``voice_id``. Everything is assembled as ``voiceagent run``
assembles it (``load_agent`` -> ``resolve_providers`` -> ``build_call``); the caller is an audio
transport whose speech the fake Pulse "hears" as the scripted transcripts.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from voiceagent.audio import AudioFrame, silence
from voiceagent.config.load import load_agent
from voiceagent.engine.call import build_call
from voiceagent.engine.language import REPLY_INSTRUCTIONS
from voiceagent.providers.registry import resolve_providers
from voiceagent.testing.fake_openai import FakeOpenAI, TextReply, ToolCall, ToolCallReply
from voiceagent.testing.fake_smallest import FakeSmallest, PulseOptions
from voiceagent.testing.fakes import FakeTransport

pytest.importorskip("voiceagent.providers.smallest.llm")

AGENT = Path(__file__).resolve().parents[2] / "agents" / "support.hinglish.yaml"
HI_1 = "मेरा खाता नंबर 12345 है, मेरा बैलेंस कितना है?"
EN_2 = "Okay, and which plan am I on? Please answer in English."
HI_3 = "ठीक है, धन्यवाद।"
HI_REPLY_1 = "आपका बकाया 42.50 डॉलर है।"
EN_REPLY_2 = "You are on the Pro plan."
HI_REPLY_3 = "धन्यवाद, आपका दिन शुभ हो!"


def utterance(speech_ms: int = 400, pause_ms: int = 900, rate: int = 16000) -> list[AudioFrame]:
    """20 ms frames: a loud tone (the fake Pulse counts it as speech), then silence (its EOU)."""
    n = rate * speech_ms // 1000
    pcm = (3000 * np.sin(2 * np.pi * 300 * np.arange(n) / rate)).astype("<i2").tobytes()
    step = rate * 20 // 1000 * 2
    return [AudioFrame(pcm[i : i + step], rate) for i in range(0, len(pcm), step)] + [
        silence(20, rate) for _ in range(pause_ms // 20)
    ]


async def wait_for(predicate, timeout: float = 10.0) -> None:
    async def loop() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(loop(), timeout)


async def test_a_caller_who_switches_language_is_heard_answered_and_voiced_in_each_language(tmp_path):
    pulse = PulseOptions(
        transcripts=[HI_1, EN_2, HI_3],
        transcript_languages={HI_1: "hi", EN_2: "en", HI_3: "hi"},  # what Pulse's finals report
    )
    async with FakeOpenAI() as llm:
        llm.script(
            ToolCallReply([ToolCall("get_account_info", {"account_id": "12345"})]),
            TextReply(HI_REPLY_1),
            TextReply(EN_REPLY_2),
            TextReply(HI_REPLY_3),
        )
        async with FakeSmallest(pulse=pulse, mounts={"/waves/v1/chat": llm.port}) as fake:
            env = {"SMALLEST_API_KEY": fake.api_key, "SMALLEST_BASE_URL": fake.base_url}
            loaded = load_agent(AGENT, env=env)
            providers = resolve_providers(loaded.agent, env=env, audio=True)
            transport = FakeTransport("audio")
            async with build_call(loaded, providers, transport) as call:
                task = asyncio.create_task(call.run())
                events = call.events.events
                for n in (1, 2, 3):
                    for frame in utterance():
                        transport.send_audio(frame)
                    await wait_for(lambda n=n: sum(e["type"] == "turn.metrics" for e in events) == n)
                transport.hang_up()
                assert await asyncio.wait_for(task, 10) == "caller_ended"
            await providers.aclose()

    # Pulse: one stream, asked for Hindi (its Hindi model covers Hinglish), finals carry the language
    (conn,) = fake.pulse.connections
    assert conn.params["language"] == "hi"
    finals = [m for m in conn.sent if m.get("is_final") and m.get("transcript")]
    assert [(m["transcript"], m["language"]) for m in finals] == [(HI_1, "hi"), (EN_2, "en"), (HI_3, "hi")]

    # the event log: each transcript with its language, session.language per turn in turn.metrics
    assert [(e["text"], e["language"]) for e in events if e["type"] == "user.transcript"] == [
        (HI_1, "hi"),
        (EN_2, "en"),
        (HI_3, "hi"),
    ]
    assert [e["language"] for e in events if e["type"] == "turn.metrics"] == ["hi", "en", "hi"]
    assert next(e for e in events if e["type"] == "session.start")["languages"] == ["hi", "en"]

    # Electron: the system prompt ends with the reply line in the caller's current language
    systems = [r.body["messages"][0]["content"] for r in llm.chat_requests]
    assert len(systems) == 4  # turn 1: tool round + answer; turns 2 and 3: one round each
    wanted = ["hi", "hi", "en", "hi"]
    assert [s.endswith(REPLY_INSTRUCTIONS[lang]) for s, lang in zip(systems, wanted, strict=True)] == [True] * 4
    assert REPLY_INSTRUCTIONS["en"] not in systems[0] and REPLY_INSTRUCTIONS["hi"] not in systems[2]

    # Lightning: every sentence in the language it is written in, all with meher (speaks hi and en)
    spoken = [(r.body["text"], r.body["language"], r.body["voice_id"]) for r in fake.lightning.requests]
    texts = [t for t, _, _ in spoken]
    assert "मैं आपका खाता देख रही हूँ।" in texts  # the Hindi tool filler
    by_text = {t: lang for t, lang, _ in spoken}
    assert by_text[HI_REPLY_1] == "hi" and by_text[EN_REPLY_2] == "en" and by_text[HI_REPLY_3] == "hi"
    assert by_text["मैं आपका खाता देख रही हूँ।"] == "hi"
    assert {v for _, _, v in spoken} == {"meher"}
    assert {r.body["model"] for r in fake.lightning.requests} == {"lightning_v3.1_pro"}
    assert texts.index(EN_REPLY_2) > texts.index(HI_REPLY_1)  # in the order of the call


async def test_a_one_language_agent_keeps_its_language_whatever_pulse_reports(tmp_path):
    """support.hi.yaml lists no ``languages``: an English-sounding final does not switch it."""
    hi_agent = AGENT.with_name("support.hi.yaml")
    pulse = PulseOptions(transcripts=[EN_2], transcript_languages={EN_2: "en"})
    async with FakeOpenAI() as llm:
        llm.script(TextReply(HI_REPLY_3))
        async with FakeSmallest(pulse=pulse, mounts={"/waves/v1/chat": llm.port}) as fake:
            env = {"SMALLEST_API_KEY": fake.api_key, "SMALLEST_BASE_URL": fake.base_url}
            loaded = load_agent(hi_agent, env=env)
            providers = resolve_providers(loaded.agent, env=env, audio=True)
            transport = FakeTransport("audio")
            async with build_call(loaded, providers, transport) as call:
                task = asyncio.create_task(call.run())
                for frame in utterance():
                    transport.send_audio(frame)
                await wait_for(lambda: any(e["type"] == "turn.metrics" for e in call.events.events))
                transport.hang_up()
                await asyncio.wait_for(task, 10)
                events = call.events.events
            await providers.aclose()
    assert [e["language"] for e in events if e["type"] == "user.transcript"] == ["hi"]
    assert {r.body["language"] for r in fake.lightning.requests} == {"hi"}
    system = llm.chat_requests[0].body["messages"][0]["content"]
    assert not any(line in system for line in REPLY_INSTRUCTIONS.values())  # no switching line


async def test_voiceagent_test_checks_the_language_of_the_speech_request(tmp_path, monkeypatch):
    """A conversation test with audio turns through the fakes (``llm: agent``: Electron, faked, so
    the agent speaks through Lightning): ``expect: language: en`` also checks that Lightning was
    asked for English (the reply's Latin script alone could be any language)."""
    import shutil

    from voiceagent.convtest.suite import run_tests

    agents = tmp_path / "agents"
    shutil.copytree(AGENT.parent, agents, ignore=shutil.ignore_patterns("__pycache__", "tests"))
    (agents / "tests").mkdir()
    samples = AGENT.parents[1] / "samples"
    shutil.copy(samples / "account_question.hi.wav", agents / "tests" / "hi.wav")
    shutil.copy(samples / "account_question.wav", agents / "tests" / "en.wav")
    test = agents / "tests" / "hinglish.test.yaml"
    test.write_text(
        """\
agent: ../support.hinglish.yaml
llm: agent
scenarios:
  - name: switches
    turns:
      - audio: hi.wav
        expect: {language: hi, reply_contains: ["42.50"]}
      - audio: en.wav
        expect: {language: en, reply_contains: ["Pro plan"]}
""",
        encoding="utf-8",
    )
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "VOICEAGENT_JUDGE_LLM"):
        monkeypatch.delenv(key, raising=False)
    pulse = PulseOptions(transcripts=[HI_1, EN_2], transcript_languages={HI_1: "hi", EN_2: "en"})
    out: list[str] = []
    async with FakeOpenAI() as llm:
        llm.script(TextReply(HI_REPLY_1), TextReply(EN_REPLY_2))
        async with FakeSmallest(pulse=pulse, mounts={"/waves/v1/chat": llm.port}) as fake:
            env = {"SMALLEST_API_KEY": fake.api_key, "SMALLEST_BASE_URL": fake.base_url, "PATH": "/usr/bin:/bin"}
            result = await run_tests([str(test)], env=env, out=out.append, err=out.append)
    assert result.code == 0, out
    assert [t.tts_language for t in result.results[0].turns] == ["hi", "en"]
    assert [r.body["language"] for r in fake.lightning.requests if r.body["text"] == EN_REPLY_2] == ["en"]
