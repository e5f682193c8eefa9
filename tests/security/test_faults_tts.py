"""Issue 10 class 7: a TTS fault never leaves the caller in silence, and the log (and the LLM's
history) say only what the caller heard.

The real Lightning client against the fake Smallest server (real wire protocol on 127.0.0.1).
"""

from __future__ import annotations

import asyncio

import pytest
from faults_helpers import write_agent
from voiceagent.testing.fakes import FakeLLM, FakeTransport

pytest.importorskip("voiceagent.providers.smallest")

AGENT = """\
version: 1
name: speaker
prompt: You help callers.
behaviour:
  fallback: Sorry, one moment please.
"""
FALLBACK = "Sorry, one moment please."


async def wait_for(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def spoken_call(tmp_path, lightning, first_reply: str):
    """Two caller turns; the first reply is ``first_reply``, the second "Still here."."""
    from types import SimpleNamespace

    from voiceagent.config.load import load_agent
    from voiceagent.engine.call import build_call
    from voiceagent.providers.smallest import LightningTTS
    from voiceagent.testing.fake_smallest import FakeSmallest

    agent = write_agent(tmp_path, AGENT)
    async with FakeSmallest(lightning=lightning) as fake:
        tts = LightningTTS(api_key=fake.api_key, base_url=fake.base_url, sample_rate=16000)
        llm = FakeLLM([[first_reply], ["Still here."]])
        transport = FakeTransport("text", lines=["one"])
        loaded = load_agent(agent, env={})
        try:
            async with build_call(loaded, SimpleNamespace(stt=None, llm=llm, tts=tts), transport, env={}) as call:
                task = asyncio.create_task(call.run())
                await wait_for(lambda: call.events.of_type("turn.metrics"))
                transport.send("two")
                await wait_for(lambda: len(call.events.of_type("turn.metrics")) == 2)
                transport.hang_up()
                reason = await asyncio.wait_for(task, 10)
        finally:
            await tts.aclose()
    return call, reason, fake, tts, llm, transport


def assistant_said(llm: FakeLLM) -> str:
    """What the history told the LLM the agent said in turn 1 (the second request's messages)."""
    return " ".join(m["content"] for m in llm.requests[1].messages if m["role"] == "assistant" and m["content"])


async def test_a_websocket_error_is_said_over_http_instead(tmp_path):
    from voiceagent.testing.fake_smallest import LightningOptions

    reply = "Your balance is settled. Anything else?"
    call, reason, fake, tts, llm, transport = await spoken_call(
        tmp_path, LightningOptions(ws_error_when_text_contains="balance"), reply
    )
    assert reason == "caller_ended"
    assert tts.http_fallbacks == 1
    assert [(r.transport, r.body["text"]) for r in fake.lightning.requests][:3] == [
        ("ws", "Your balance is settled."),
        ("http", "Your balance is settled."),
        ("ws", "Anything else?"),
    ]
    assert abs(transport.audio_ms - 40 * (len(reply) - 1 + len("Still here."))) < 60  # every word heard
    assert call.events.of_type("agent.text")[0]["text"] == reply
    assert assistant_said(llm) == reply
    assert not call.events.of_type("error")  # recovered: nothing was lost


async def test_when_both_transports_fail_the_caller_hears_the_fallback_and_the_log_says_so(tmp_path):
    from voiceagent.testing.fake_smallest import LightningOptions

    call, reason, fake, tts, llm, transport = await spoken_call(
        tmp_path, LightningOptions(error_when_text_contains="kaboom"), "This says kaboom. This is fine."
    )
    assert reason == "caller_ended"
    assert abs(transport.audio_ms - 40 * (len(FALLBACK) + len("This is fine.") + len("Still here."))) < 60
    (error,) = call.events.of_type("error")
    assert error["where"] == "tts" and "both failed" in error["message"] and fake.api_key not in error["message"]
    # what the caller heard, not what the LLM wrote
    assert call.events.of_type("agent.text")[0]["text"] == f"{FALLBACK} This is fine."
    assert "kaboom" not in assistant_said(llm) and FALLBACK in assistant_said(llm)


async def test_a_drop_mid_sentence_logs_only_what_was_played(tmp_path):
    from voiceagent.testing.fake_smallest import LightningOptions

    full = "Your new card will arrive at your home address within five working days from today."
    call, reason, fake, tts, llm, transport = await spoken_call(
        tmp_path,
        LightningOptions(drop_when_text_contains="new card"),
        f"Thanks for waiting, I have checked everything. {full}",
    )
    assert reason == "caller_ended" and fake.lightning.drops == 1
    text = call.events.of_type("agent.text")[0]["text"]
    assert text.startswith("Thanks for waiting, I have checked everything. Your new card")
    heard = text.removeprefix("Thanks for waiting, I have checked everything. ")
    assert full.startswith(heard) and heard != full
    assert 0.3 * len(full) <= len(heard) <= 0.7 * len(full)  # about the half that was played
    assert assistant_said(llm) == text  # the LLM knows the caller missed the rest
    (error,) = call.events.of_type("error")
    assert error["where"] == "tts"
    assert call.events.of_type("agent.text")[1]["text"] == "Still here."  # the next turn is spoken
