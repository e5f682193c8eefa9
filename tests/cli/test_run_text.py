"""`voiceagent run --text`: piped lines, --var, --caller-phone, --replies (speech to a WAV file),
against the fake OpenAI-compatible server (provider openai) and the fake Lightning TTS."""

from __future__ import annotations

import json
import sys
import wave
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_run_bank import cli_env, run_cli
from voiceagent.testing.fake_openai import FakeOpenAI, RecordedRequest, TextReply

AGENT = """\
version: 1
name: echo
prompt: You are the {{ company }} assistant.
greeting: "Hello from {{ company }}. You are calling from {{ caller.phone }}."
variables: {company: Acme}
llm: {provider: openai, base_url: "${FAKE_LLM_URL}", model: tiny}
tts: {provider: smallest, sample_rate: 16000}
voice: {id: sophia}
"""


def echo(req: RecordedRequest) -> TextReply:
    return TextReply(f"You said: {req.body['messages'][-1]['content']}")


@pytest.fixture
async def llm():
    pytest.importorskip("voiceagent.engine.session")
    pytest.importorskip("voiceagent.providers.openai_compat")
    async with FakeOpenAI() as srv:
        srv.default = echo
        yield srv


async def test_piped_lines_vars_and_caller_phone(llm, tmp_path):
    agent = tmp_path / "echo.yaml"
    agent.write_text(AGENT)
    events_path = tmp_path / "ev.jsonl"
    env = cli_env(tmp_path, FAKE_LLM_URL=llm.base_url)
    code, out, err = await run_cli(
        [
            str(agent),
            "--text",
            "--var",
            "company=Zed Corp",
            "--caller-phone",
            "+15550199",
            "--events",
            str(events_path),
        ],
        env,
        "first question\n\nsecond question\n",
    )
    assert code == 0, err
    assert out.splitlines() == [
        "agent: Hello from Zed Corp. You are calling from +15550199.",
        "caller: first question",
        "agent: You said: first question",
        "caller: second question",
        "agent: You said: second question",
    ]
    # text mode: no speech providers at all, and stderr says so
    assert "stt, tts: off — text mode" in err
    assert "llm: openai-compatible tiny at " + llm.base_url in err
    assert llm.chat_requests[0].body["model"] == "tiny"
    assert "Zed Corp" in llm.chat_requests[0].body["messages"][0]["content"]
    types = [json.loads(line)["type"] for line in events_path.read_text().splitlines()]
    assert types[0] == "session.start" and types[-1] == "session.end" and "call.end" in types


async def test_replies_are_synthesized_to_a_wav_when_asked(llm, tmp_path):
    from voiceagent.testing.fake_smallest import FakeSmallest

    agent = tmp_path / "echo.yaml"
    agent.write_text(AGENT)
    replies = tmp_path / "replies.wav"
    async with FakeSmallest() as fake:
        env = cli_env(
            tmp_path, FAKE_LLM_URL=llm.base_url, SMALLEST_API_KEY=fake.api_key, SMALLEST_BASE_URL=fake.base_url
        )
        code, out, err = await run_cli([str(agent), "--text", "--replies", str(replies)], env, "hi\n")
        assert code == 0, err
        said = [r.body["text"] for r in fake.lightning.requests]
    assert f"agent replies (synthesized): {replies}" in err
    assert "tts: smallest lightning_v3.1 voice sophia" in err
    assert "agent: You said: hi" in out
    with wave.open(str(replies), "rb") as w:
        assert (w.getframerate(), w.getnchannels()) == (16000, 1)
        seconds = w.getnframes() / w.getframerate()
    # every spoken sentence is in the file: the fake says 40 ms per character
    assert said and abs(seconds - 0.040 * sum(len(t) for t in said)) < 0.05


async def test_missing_llm_url_variable_is_named_before_the_call(tmp_path):
    agent = tmp_path / "echo.yaml"
    agent.write_text(AGENT)
    code, out, err = await run_cli([str(agent), "--text"], cli_env(tmp_path), "hi\n")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and ":6:" in err and "FAKE_LLM_URL" in err


async def test_ctrl_c_hangs_up_cleanly(llm, tmp_path):
    import asyncio
    import signal

    agent = tmp_path / "echo.yaml"
    agent.write_text(AGENT)
    events_path = tmp_path / "ev.jsonl"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voiceagent",
        "run",
        str(agent),
        "--text",
        "--events",
        str(events_path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(tmp_path, FAKE_LLM_URL=llm.base_url),
    )
    proc.stdin.write(b"hello\n")
    await proc.stdin.drain()
    # wait for the reply, then press Ctrl-C while the caller says nothing more (stdin stays open)
    seen = b""
    while b"You said: hello" not in seen:
        seen += await asyncio.wait_for(proc.stdout.readline(), 30)
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "hanging up" in err.decode() and "call ended: caller_ended" in err.decode()
    types = [json.loads(line)["type"] for line in events_path.read_text().splitlines()]
    assert types[-2:] == ["call.end", "session.end"]


async def test_without_audio_devices_falls_back_to_text_and_says_where_speech_went(llm, tmp_path, monkeypatch):
    import asyncio
    import tempfile

    from click.testing import CliRunner
    from voiceagent.cli import main
    from voiceagent.testing.fake_smallest import FakeSmallest
    from voiceagent.transports import device

    monkeypatch.setattr(device, "has_audio_devices", lambda: False)
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    agent = tmp_path / "echo.yaml"
    agent.write_text(AGENT)
    async with FakeSmallest() as fake:
        env = {"FAKE_LLM_URL": llm.base_url, "SMALLEST_API_KEY": fake.api_key, "SMALLEST_BASE_URL": fake.base_url}
        res = await asyncio.to_thread(
            CliRunner().invoke, main, ["run", str(agent)], input="hi\n", env=env, catch_exceptions=False
        )
    assert res.exit_code == 0, res.stderr
    replies = tmp_path / "voiceagent-echo-replies.wav"
    assert res.stderr.splitlines()[0].startswith("transport: text — no microphone/speaker found")
    assert f"agent replies (synthesized): {replies}" in res.stderr
    assert "agent: You said: hi" in res.stdout
    with wave.open(str(replies), "rb") as w:
        assert w.getnframes() > 0


async def test_piped_lines_with_speech_wait_for_each_reply(llm, tmp_path):
    """With --replies the agent "speaks": the next piped line must not barge in on the greeting
    or on the previous reply (a scripted caller waits for the agent, like a person would)."""
    from voiceagent.testing.fake_smallest import FakeSmallest, LightningOptions

    agent = tmp_path / "echo.yaml"
    agent.write_text(AGENT)
    events_path = tmp_path / "ev.jsonl"
    async with FakeSmallest(lightning=LightningOptions(first_audio_delay_ms=100)) as fake:
        env = cli_env(
            tmp_path, FAKE_LLM_URL=llm.base_url, SMALLEST_API_KEY=fake.api_key, SMALLEST_BASE_URL=fake.base_url
        )
        code, out, err = await run_cli(
            [str(agent), "--text", "--replies", str(tmp_path / "r.wav"), "--events", str(events_path)],
            env,
            "one\ntwo\nthree\n",
        )
    assert code == 0, err
    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    assert not [e for e in events if e["type"] == "agent.interrupted"]
    said = [e["text"] for e in events if e["type"] == "agent.text"]
    assert said[0].startswith("Hello from Acme.")
    assert said[1:] == ["You said: one", "You said: two", "You said: three"]
