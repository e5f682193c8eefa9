"""`voiceagent run` freezes the start-up objects out of the garbage collector's reach while the
call runs (`gc.collect(); gc.freeze()` just before the session; docs/performance.md, Profile §2).

Observed from inside the call: the agent's python tool reports `gc.get_freeze_count()` from the
runtime's own process, and the fake LLM receives it in the tool message of the next request.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_run_bank import cli_env, run_cli
from voiceagent.testing.fake_openai import FakeOpenAI, RecordedRequest, TextReply, ToolCall, ToolCallReply

AGENT = """\
version: 1
name: gc-probe
prompt: Call gc_probe when asked.
greeting: "Hello."
llm: {provider: openai, base_url: "${FAKE_LLM_URL}", model: tiny}
tools:
  - name: gc_probe
    description: Report the garbage collector's frozen object count.
    parameters: {}
    python: probe_tools:gc_probe
"""

TOOL = """\
import gc


async def gc_probe():
    return {"frozen": gc.get_freeze_count()}
"""


def brain(req: RecordedRequest):
    last = req.body["messages"][-1]
    if last["role"] == "tool":
        return TextReply(f"probe says {last['content']}")
    return ToolCallReply([ToolCall("gc_probe", {})])


async def test_objects_are_frozen_while_the_call_runs(tmp_path):
    pytest.importorskip("voiceagent.engine.session")
    (tmp_path / "probe_tools.py").write_text(TOOL)
    agent = tmp_path / "probe.yaml"
    agent.write_text(AGENT)
    async with FakeOpenAI() as srv:
        srv.default = brain
        code, out, err = await run_cli(
            [str(agent), "--text"], cli_env(tmp_path, FAKE_LLM_URL=srv.base_url), "probe please\n"
        )
        assert code == 0, err
        tool_messages = [m for r in srv.chat_requests for m in r.body["messages"] if m["role"] == "tool"]
    assert tool_messages, out + err
    report = json.loads(tool_messages[-1]["content"])
    # the imported libraries alone are tens of thousands of objects; without the freeze it is 0
    assert report["frozen"] > 10_000, report
    assert "agent: probe says" in out
