"""Python tools through ToolRunner.run: sync/async/ctx functions, failures become ok=False."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from voiceagent.config.models import Agent
from voiceagent.engine.redaction import Redactor
from voiceagent.engine.tools import ToolRunner


async def test_sync_function_with_raw_json_arguments(runner, ctx):
    res = await runner.run("add", '{"a": 2, "b": 3.5}', ctx)
    assert res.ok, res.error
    assert res.result == {"sum": 5.5}
    assert res.error is None and res.action is None
    assert res.duration_ms >= 0
    assert json.loads(res.for_llm()) == {"sum": 5.5}


async def test_async_function_is_awaited(runner, ctx):
    res = await runner.run("async_echo", {"text": "hello"}, ctx)
    assert res.ok and res.result == {"echo": "hello"}


async def test_ctx_passed_when_function_takes_it(runner, ctx):
    res = await runner.run("whoami", "{}", ctx)
    assert res.ok, res.error
    assert res.result == {"phone": "+15557654321", "state": "service"}


async def test_context_parameter_name_is_accepted_too(runner, ctx):
    res = await runner.run("whoami_context", {}, ctx)
    assert res.ok, res.error
    assert res.result == {"phone": "+15557654321", "greeting": "hi"}


async def test_ctx_passed_to_var_kwargs(runner, ctx):
    res = await runner.run("kw", {"x": "1"}, ctx)
    assert res.ok, res.error
    assert res.result == ["ctx", "x"]


async def test_ctx_not_passed_when_not_accepted(runner, ctx):
    # add(a, b) would raise TypeError if ctx were passed
    res = await runner.run("add", {"a": 1, "b": 1}, ctx)
    assert res.ok and res.result == {"sum": 2}


async def test_exception_becomes_error(runner, ctx):
    res = await runner.run("boom", {"reason": "disk"}, ctx)
    assert not res.ok
    assert res.result is None
    assert "RuntimeError" in res.error and "database exploded: disk" in res.error


async def test_exception_message_is_scrubbed(runner, ctx, redactor):
    redactor.add("1990-05-17")
    res = await runner.run("boom", {"reason": "dob 1990-05-17"}, ctx)
    assert not res.ok
    assert "1990-05-17" not in res.error and "[redacted]" in res.error


async def test_sync_timeout(runner, ctx):
    res = await runner.run("slow", {}, ctx)
    assert not res.ok
    assert res.error == "tool 'slow' timed out after 100 ms"


async def test_async_timeout(runner, ctx):
    res = await runner.run("aslow", {}, ctx)
    assert not res.ok and "timed out after 100 ms" in res.error


async def test_non_json_values_are_made_serialisable(runner, ctx):
    res = await runner.run("weird", {}, ctx)
    assert res.ok, res.error
    assert res.result == {"when": "2024-01-02", "tags": ["x"], "3": "a thing"}
    json.dumps(res.result)


async def test_sibling_absolute_import_does_not_leak(runner, ctx):
    res = await runner.run("sibling", {}, ctx)
    assert res.ok, res.error
    assert res.result == 42
    # the agent folder is not left on sys.path, and its top-level 'tools' package is not cached
    assert not any(Path(p) == runner.base_dir for p in sys.path if p)
    leaked = sys.modules.get("tools")
    assert leaked is None or not str(getattr(leaked, "__file__", "")).startswith(str(runner.base_dir))


async def test_missing_module_and_function(runner, ctx):
    res = await runner.run("missing_module", {}, ctx)
    assert not res.ok and "tools.nope" in res.error and "could not be loaded" in res.error
    res = await runner.run("missing_function", {}, ctx)
    assert not res.ok and "has no function 'nope'" in res.error


async def test_unknown_tool(runner, ctx):
    res = await runner.run("does_not_exist", {}, ctx)
    assert not res.ok and res.error == "unknown tool 'does_not_exist'"


async def test_two_agents_with_same_module_name_do_not_clash(tmp_path, ctx):
    runners = []
    for n in (1, 2):
        d = tmp_path / f"agent{n}"
        (d / "tools").mkdir(parents=True)
        (d / "tools" / "acme.py").write_text(f"def which():\n    return {n}\n")
        agent = Agent.model_validate(
            {"name": "a", "prompt": "p", "tools": [{"name": "which", "python": "tools.acme:which"}]}
        )
        runners.append(ToolRunner(agent, base_dir=d, redactor=Redactor([], env={})))
    results = [(await r.run("which", {}, ctx)).result for r in runners]
    assert results == [1, 2]
    for r in runners:
        await r.aclose()


async def test_installed_module_fallback(tmp_path, ctx):
    agent = Agent.model_validate(
        {
            "name": "a",
            "prompt": "p",
            "tools": [{"name": "base", "parameters": {"p": {"type": "string"}}, "python": "posixpath:basename"}],
        }
    )
    runner = ToolRunner(agent, base_dir=tmp_path, redactor=Redactor([], env={}))
    res = await runner.run("base", {"p": "/a/b/c.txt"}, ctx)
    assert res.ok and res.result == "c.txt"
    await runner.aclose()


async def test_a_barge_in_cancelling_a_tool_as_it_finishes_stays_cancelled(tmp_path, ctx):
    """The session cancels a turn whose tool returns in the same loop step: the runner must not
    swallow the cancellation (``asyncio.wait_for`` on 3.11 did; the agent then talked on)."""
    import asyncio

    import pytest
    from voiceagent.config.models import Agent
    from voiceagent.engine.redaction import Redactor
    from voiceagent.engine.tools import ToolContext, ToolRunner

    (tmp_path / "gated.py").write_text("async def wait(ctx):\n    await ctx.variables['gate'].wait()\n    return 1\n")
    agent = Agent.model_validate({"name": "g", "prompt": "p", "tools": [{"name": "wait", "python": "gated:wait"}]})
    runner = ToolRunner(agent, base_dir=tmp_path, redactor=Redactor())
    gate = asyncio.Event()
    task = asyncio.create_task(runner.run("wait", {}, ToolContext(variables={"gate": gate})))
    await asyncio.sleep(0.05)
    assert not task.done()
    gate.set()  # the tool finishes ...
    task.cancel()  # ... as the caller barges in
    with pytest.raises(asyncio.CancelledError):
        await task
    await runner.aclose()
