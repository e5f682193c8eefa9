"""TextTransport: lines in, `agent: ...` out, optional WAV of the agent's synthesized replies."""

from __future__ import annotations

import asyncio
import io
import os

import numpy as np
from transport_helpers import read_mono
from voiceagent.audio import AudioFrame
from voiceagent.transports.base import Transport
from voiceagent.transports.text import TextTransport


async def test_each_nonblank_line_is_one_utterance_and_eof_ends():
    out = io.StringIO()
    t = TextTransport(io.StringIO("hello there\n\n   \nmy dob is 1990-01-02\n"), out)
    assert isinstance(t, Transport) and t.kind == "text" and not t.plays_audio
    lines = [x async for x in t.caller_text()]
    assert lines == ["hello there", "my dob is 1990-01-02"]
    # piped input is echoed so the transcript reads as a dialogue
    assert out.getvalue().splitlines() == ["caller: hello there", "caller: my dob is 1990-01-02"]
    await t.aclose()


async def test_agent_and_system_lines_are_printed_caller_lines_not_twice():
    out = io.StringIO()
    t = TextTransport(io.StringIO(""), out, echo_caller=False)
    await t.show("agent", "Hi, how can I help?")
    await t.show("caller", "ignored here")
    await t.show("system", "transferring to a human")
    assert out.getvalue().splitlines() == ["agent: Hi, how can I help?", "system: transferring to a human"]
    await t.aclose()


async def test_reads_from_a_real_pipe_without_blocking_the_loop():
    r, w = os.pipe()
    rf, wf = os.fdopen(r, "r"), os.fdopen(w, "w")
    t = TextTransport(rf, io.StringIO())
    it = t.caller_text().__aiter__()
    nxt = asyncio.ensure_future(it.__anext__())
    await asyncio.sleep(0.05)
    assert not nxt.done()  # waiting for the caller, loop still free
    wf.write("first\n")
    wf.flush()
    assert await asyncio.wait_for(nxt, 5) == "first"
    wf.close()
    rest = [x async for x in it]
    assert rest == []
    await t.aclose()
    rf.close()


async def test_audio_sink_writes_played_frames_to_wav(tmp_path):
    path = tmp_path / "replies.wav"
    t = TextTransport(io.StringIO(""), io.StringIO(), audio_path=path)
    assert t.plays_audio
    tone = (np.sin(np.arange(4800) / 5) * 10000).astype("<i2")
    await t.play(AudioFrame(tone.tobytes(), 24000))  # 200 ms
    await t.play(AudioFrame(tone[:1600].tobytes(), 8000))  # 200 ms at another rate: resampled
    assert abs(t.played_ms() - 400) < 1
    await t.wait_played()
    await t.aclose()
    x, rate, ch = read_mono(path)
    assert (rate, ch) == (24000, 1)
    assert abs(len(x) - 9600) <= 2
    assert np.array_equal(x[:4800], tone)


async def test_audio_sink_without_speech_is_still_a_valid_wav(tmp_path):
    path = tmp_path / "replies.wav"
    t = TextTransport(io.StringIO(""), io.StringIO(), audio_path=path, audio_rate=16000)
    await t.aclose()
    x, rate, _ = read_mono(path)
    assert rate == 16000 and len(x) == 0


async def test_aclose_ends_a_pending_read_like_a_hang_up():
    r, w = os.pipe()
    rf, wf = os.fdopen(r, "r"), os.fdopen(w, "w")
    t = TextTransport(rf, io.StringIO())
    lines = asyncio.create_task(asyncio.wait_for(_collect(t), 5))
    await asyncio.sleep(0.05)
    await t.aclose()  # nobody typed anything: the call still ends
    assert await lines == []
    wf.close()
    rf.close()


async def _collect(t):
    return [x async for x in t.caller_text()]


async def test_paced_lines_wait_for_each_reply(tmp_path):
    t = TextTransport(io.StringIO("one\ntwo\n"), io.StringIO(), audio_path=tmp_path / "r.wav", greeting=True)
    it = t.caller_text().__aiter__()
    first = asyncio.ensure_future(it.__anext__())
    await asyncio.sleep(0.05)
    assert not first.done()  # the greeting is still being said
    await t.wait_played()
    assert await asyncio.wait_for(first, 5) == "one"
    second = asyncio.ensure_future(it.__anext__())
    await asyncio.sleep(0.05)
    assert not second.done()  # the reply to "one" is still being said
    await t.wait_played()
    assert await asyncio.wait_for(second, 5) == "two"
    await t.aclose()


async def test_without_speech_lines_are_not_paced():
    t = TextTransport(io.StringIO("one\ntwo\n"), io.StringIO())
    assert [x async for x in t.caller_text()] == ["one", "two"]
