"""Issue 10 class 7: a Pulse error frame or close 1008 never ends a call in silence.

The real Pulse client against the fake Smallest server (real wire protocol on 127.0.0.1). A
failure the next stream recovers from keeps the call alive; a lasting one ends it WITH WORDS to the
caller, a reason in ``session.end`` and, for ``voiceagent run``, a clear line and exit code 1.
"""

from __future__ import annotations

import asyncio
import json
import wave
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from faults_helpers import run_call, run_cli, write_agent
from voiceagent.audio import AudioFrame, silence
from voiceagent.config.load import load_agent
from voiceagent.engine.call import build_call
from voiceagent.testing.fakes import FakeLLM, FakeTransport, FakeTTS

pytest.importorskip("voiceagent.providers.smallest")

AGENT = """\
version: 1
name: listener
prompt: You help callers.
greeting: Hello, how can I help?
"""

# engine.farewell.LAST_WORDS["en"], as a literal so that the test also runs against the old code
APOLOGY = "I'm sorry, I can no longer hear you because of a technical problem. Please call again. Goodbye."
LAST_WORDS = {"en": APOLOGY}

ERROR_FRAME = {"type": "error", "status": "error", "message": "Internal server error (transcriber crashed)"}


def speech_frames(ms: int, rate: int = 16000) -> list[AudioFrame]:
    n = rate * ms // 1000
    pcm = (3000 * np.sin(2 * np.pi * 300 * np.arange(n) / rate)).astype("<i2").tobytes()
    step = rate * 20 // 1000 * 2
    return [AudioFrame(pcm[i : i + step], rate) for i in range(0, len(pcm), step)]


def say(transport: FakeTransport) -> None:
    for frame in speech_frames(400) + [silence(20, 16000) for _ in range(40)]:
        transport.send_audio(frame)


async def wait_for(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def audio_call(tmp_path, pulse_options):
    """An audio call with the real PulseSTT whose streams all fail; the caller speaks once."""
    from voiceagent.providers.smallest import PulseSTT
    from voiceagent.testing.fake_smallest import FakeSmallest

    agent = write_agent(tmp_path, AGENT)
    async with FakeSmallest(pulse=pulse_options) as fake:
        stt = PulseSTT(api_key=fake.api_key, base_url=fake.base_url, eou_timeout_ms=400, max_reconnects=1)
        transport = FakeTransport("audio")
        tts = FakeTTS()
        llm = FakeLLM([["I can help with that."]])

        say(transport)

        async def line_noise():  # a phone line carries audio all the time, even when nobody speaks
            while True:
                await asyncio.sleep(0.02)
                transport.send_audio(silence(20, 16000))

        noise = asyncio.create_task(line_noise())
        try:
            call, reason = await run_call(agent, llm=llm, transport=transport, stt=stt, tts=tts, timeout=30)
        finally:
            noise.cancel()
    return call, reason, fake, tts, transport


@pytest.mark.parametrize("fault", ["error_frame", "close_1008"])
async def test_a_lasting_stt_failure_ends_the_call_with_words_and_a_reason(tmp_path, fault):
    options = {"error_frame": {"error_frame": ERROR_FRAME}, "close_1008": {"close_1008": True}}[fault]
    from voiceagent.testing.fake_smallest import PulseOptions

    call, reason, fake, tts, transport = await audio_call(tmp_path, PulseOptions(**options))
    events = call.events.events
    assert reason == "stt_error"
    # the caller heard the greeting and then the apology, not silence
    assert LAST_WORDS["en"] in tts.texts
    last = call.events.of_type("agent.text")[-1]
    assert last["text"] == LAST_WORDS["en"] and last["reason"] == "stt_error"
    assert transport.audio_ms > 0
    end = events[-1]
    assert end["type"] == "session.end" and end["reason"] == "stt_error"
    assert ("1008" in end["error"]) if fault == "close_1008" else ("transcriber crashed" in end["error"])
    assert fake.api_key not in json.dumps(events)
    assert len(fake.pulse.connections) >= 3  # the stream was replaced before giving up


@pytest.mark.parametrize("fault", ["error_frame", "close_1008"])
async def test_a_transient_stt_failure_keeps_the_call_alive(tmp_path, fault):
    """The first stream fails; its replacement works: the caller is heard and answered."""
    from voiceagent.testing.fake_smallest import PulseOptions

    options = {"error_frame": {"error_frame": ERROR_FRAME}, "close_1008": {"close_1008": True}}[fault]
    call, reason, fake, tts, _ = await transient_call(
        tmp_path, PulseOptions(transcripts=["what is my balance"], fail_streams=1, **options)
    )
    assert reason == "caller_ended"
    assert [e["text"] for e in call.events.of_type("user.transcript")] == ["what is my balance"]
    assert call.events.of_type("agent.text")[-1]["text"] == "I can help with that."
    assert LAST_WORDS["en"] not in tts.texts
    stt_errors = [e for e in call.events.of_type("error") if e["where"] == "stt"]
    assert len(stt_errors) == 1  # logged, then recovered
    assert call.events.events[-1]["type"] == "session.end" and "error" not in call.events.events[-1]


async def transient_call(tmp_path, options):
    """The caller waits for the replacement stream, then speaks once and hangs up when answered."""
    from voiceagent.providers.smallest import PulseSTT
    from voiceagent.testing.fake_smallest import FakeSmallest

    agent = write_agent(tmp_path, AGENT)
    async with FakeSmallest(pulse=options) as fake:
        stt = PulseSTT(api_key=fake.api_key, base_url=fake.base_url, eou_timeout_ms=400, max_reconnects=1)
        transport = FakeTransport("audio")
        tts = FakeTTS()
        llm = FakeLLM([["I can help with that."]])
        events_box: list = []

        async def caller():
            transport.send_audio(silence(20, 16000))  # the first stream fails on its first audio
            await wait_for(lambda: len(fake.pulse.connections) >= 2)
            await asyncio.sleep(0.3)
            say(transport)
            await wait_for(lambda: events_box and any(e["type"] == "turn.metrics" for e in events_box[0].events))
            transport.hang_up()

        loaded = load_agent(agent, env={})
        async with build_call(loaded, SimpleNamespace(stt=stt, llm=llm, tts=tts), transport, env={}) as call:
            events_box.append(call.events)
            driver = asyncio.create_task(caller())
            reason = await asyncio.wait_for(call.run(), 30)
            await driver
    return call, reason, fake, tts, transport


# --------------------------------------------------------------------------- the real process


def caller_wav(path: Path, rate: int = 16000) -> Path:
    x = np.concatenate(
        [
            np.zeros(rate // 2),
            3000 * np.sin(2 * np.pi * 300 * np.arange(rate // 2) / rate),
            np.zeros(rate),
        ]
    ).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(x.tobytes())
    return path


async def test_cli_a_dead_stt_is_a_clear_message_and_exit_1(tmp_path):
    from voiceagent.testing.fake_openai import FakeOpenAI, TextReply
    from voiceagent.testing.fake_smallest import FakeSmallest, PulseOptions

    agent = write_agent(
        tmp_path,
        AGENT
        + 'llm: {provider: openai, base_url: "${FAKE_LLM_URL}", model: tiny}\n'
        + "stt: {provider: smallest}\ntts: {provider: smallest, sample_rate: 16000}\nvoice: {id: sophia}\n",
    )
    events_path = tmp_path / "e.jsonl"
    async with FakeOpenAI() as llm, FakeSmallest(pulse=PulseOptions(error_frame=ERROR_FRAME)) as fake:
        llm.default = lambda req: TextReply("Sure.")
        code, _, err, _ = await run_cli(
            [
                str(agent),
                "--input",
                str(caller_wav(tmp_path / "caller.wav")),
                "--output",
                str(tmp_path / "agent.wav"),
                "--events",
                str(events_path),
            ],
            env={"FAKE_LLM_URL": llm.base_url, "SMALLEST_API_KEY": fake.api_key, "SMALLEST_BASE_URL": fake.base_url},
            timeout=60,
        )
        spoken = [r.body["text"] for r in fake.lightning.requests]
    assert code == 1, err
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert "the call failed (stt_error)" in line and "transcriber crashed" in line
    assert fake.api_key not in err
    assert LAST_WORDS["en"] in spoken  # the caller was told
    events = [json.loads(x) for x in events_path.read_text().splitlines()]
    assert events[-1]["type"] == "session.end" and events[-1]["reason"] == "stt_error"


def test_the_apology_is_the_runtimes():
    from voiceagent.engine.farewell import LAST_WORDS as RUNTIME_WORDS
    from voiceagent.engine.farewell import last_words_for

    assert RUNTIME_WORDS["en"] == APOLOGY
    assert last_words_for("en-IN") == APOLOGY and last_words_for("xx") == APOLOGY
    assert last_words_for("hi") != APOLOGY
