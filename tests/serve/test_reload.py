"""Reload: a new file serves once valid, a broken edit keeps the last good version (and /agents
shows the error), a call in progress keeps the version it started with."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from serve_helpers import caller_pcm, fakes, hours_agent, running_server
from voiceagent.testing.fake_telephony import FakePhoneCall


async def wait_for(check, timeout=15.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


def by_file(items):
    return {Path(a["file"]).name: a for a in items}


async def test_new_file_broken_edit_and_running_call_keep_their_versions(tmp_path):
    hours_agent(tmp_path, extra="")  # prompt "You tell callers the opening hours."
    async with fakes(["when are you open", "and on sunday"]) as f:
        f.llm.script("Nine to five.", "Closed on sunday.", "Hello again.")
        async with running_server([tmp_path], f.env(), reload=True) as srv, httpx.AsyncClient(base_url=srv.http) as c:

            async def agents():
                return by_file((await c.get("/agents")).json())

            # 1. a new valid file starts serving
            hours_agent(tmp_path, name="late")
            await wait_for(lambda: _has(agents, "late.yaml", valid=True))
            assert (await c.post("/twilio/late", data={"CallSid": "CA1"})).status_code == 200
            assert (await c.get("/healthz")).json()["agents"] == 2

            # 2. a broken edit keeps the last good version serving, /agents shows the error
            (tmp_path / "late.yaml").write_text("version: 1\nname: late\nprompt: 42\ngreeting: [\n")
            item = await wait_for(lambda: _has(agents, "late.yaml", valid=False))
            assert item["serving"] is True and item["name"] == "late" and item["version"] == 1
            assert "late.yaml:" in item["error"]
            assert (await c.post("/twilio/late", data={"CallSid": "CA2"})).status_code == 200
            page = (await c.get("/")).text
            assert "last edit invalid" in page

            # 3. a call in progress keeps its version; the next call gets the new one
            call = FakePhoneCall(
                f"{srv.ws}/twilio/hours/stream", caller_pcm("multi_turn.wav"), after_greeting=True, hang_up_after_s=3.0
            )
            running = asyncio.create_task(call.run(timeout=40))
            await wait_for(lambda: _async(len(f.llm.chat_requests) >= 1))
            text = (tmp_path / "hours.yaml").read_text().replace("opening hours.", "opening hours. VERSION TWO.")
            (tmp_path / "hours.yaml").write_text(text)
            await wait_for(lambda: _has(agents, "hours.yaml", version=2))
            assert not running.done()  # the edit landed while the call was in progress
            await running
            prompts = [r.body["messages"][0]["content"] for r in f.llm.chat_requests]
            assert len(prompts) == 2 and all("VERSION TWO" not in p for p in prompts)
            assert await srv.ctx.registry.wait_empty(10)
            second = FakePhoneCall(
                f"{srv.ws}/twilio/hours/stream",
                caller_pcm("hello.wav"),
                call_sid="CA2",
                after_greeting=True,
                hang_up_after_s=2.0,
            )
            await second.run(timeout=30)
            assert "VERSION TWO" in f.llm.chat_requests[-1].body["messages"][0]["content"]

            # 4. a deleted file stops serving
            (tmp_path / "late.yaml").unlink()
            await wait_for(lambda: _gone(agents, "late.yaml"))
            assert (await c.post("/twilio/late", data={"CallSid": "CA3"})).status_code == 404


async def _async(value):
    return value


async def _has(agents, name, **want):
    item = (await agents()).get(name)
    if item and all(item.get(k) == v for k, v in want.items()):
        return item
    return None


async def _gone(agents, name):
    return name not in await agents()
