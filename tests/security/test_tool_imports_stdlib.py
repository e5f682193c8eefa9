"""Issue 10 class 1: a python tool whose module imports ``asyncio`` (or a third-party package such
as ``httpx``) must not break the call. Resolving tools used to remove every module first imported
while resolving from ``sys.modules``, the standard library's ``asyncio`` included; the call then
ran with a second copy of asyncio and, in text mode, sent no LLM request at all.

These run ``voiceagent run --text`` as a fresh process (asyncio is not imported before the agent
loads there, as for a person), against the fake OpenAI-compatible server.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from test_run_bank import cli_env, run_cli
from voiceagent.testing.fake_openai import FakeOpenAI, RecordedRequest, TextReply, ToolCall, ToolCallReply

AGENT = """\
version: 1
name: imports
prompt: You look things up.
llm: {provider: openai, base_url: "${FAKE_LLM_URL}", model: tiny}
tools:
  - name: lookup
    description: Look a thing up.
    parameters: {thing: {type: string}}
    python: tools.lookup:lookup
"""

TOOLS = {
    "asyncio": """\
import asyncio


async def lookup(thing: str) -> dict:
    await asyncio.sleep(0)
    return {"thing": thing, "via": "asyncio"}
""",
    "httpx": """\
import asyncio

import httpx


async def lookup(thing: str) -> dict:
    await asyncio.sleep(0)
    return {"thing": thing, "via": "httpx", "has_client": hasattr(httpx, "AsyncClient")}
""",
}


def brain(req: RecordedRequest) -> TextReply | ToolCallReply:
    last = req.body["messages"][-1]
    if last["role"] == "tool":
        return TextReply(f"Found: {json.loads(last['content'])['via']}.")
    return ToolCallReply([ToolCall("lookup", {"thing": "kettle"})])


@pytest.fixture
async def llm():
    pytest.importorskip("voiceagent.engine.session")
    pytest.importorskip("voiceagent.providers.openai_compat")
    async with FakeOpenAI() as srv:
        srv.default = brain
        yield srv


@pytest.mark.parametrize("imports", sorted(TOOLS))
async def test_a_tool_module_importing_asyncio_or_httpx_runs_a_text_call(llm, tmp_path, imports):
    if imports == "httpx":
        pytest.importorskip("httpx")
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "lookup.py").write_text(TOOLS[imports])
    agent = tmp_path / "imports.yaml"
    agent.write_text(AGENT)
    events = tmp_path / "ev.jsonl"
    code, out, err = await run_cli(
        [str(agent), "--text", "--events", str(events)], cli_env(tmp_path, FAKE_LLM_URL=llm.base_url), "any kettles?\n"
    )
    assert code == 0, err
    assert "Traceback" not in err
    lines = out.splitlines()
    assert lines[0] == "caller: any kettles?" and lines[-1] == f"agent: Found: {imports}."
    assert len(llm.chat_requests) == 2  # the tool-call round and the answer: both requests were sent
    log = [json.loads(line) for line in events.read_text().splitlines()]
    results = [e for e in log if e["type"] == "tool.result"]
    assert results and results[0].get("ok", True) is not False
    assert log[-1]["type"] == "session.end"
