"""CPU of the session loop per caller turn, without any network: the engine's own cost.

    .venv/bin/python benchmarks/session_cpu.py                  # 300 turns, 3 runs
    .venv/bin/python benchmarks/session_cpu.py --turns 20 --runs 1 --out /tmp/s.json

One call assembled by ``voiceagent.engine.call.build_call`` with the in-process fakes of
``voiceagent.testing.fakes`` (scripted LLM, text transport, no TTS), so what is measured is the
session loop, the flow, the dispatcher, the real tool runner (a python tool), the event log and
the redactor. Turns alternate a plain question and an account question (a tool call whose
filler is rendered with the call's arguments, then the answer). ``time.process_time`` of the
whole call divided by the turns: milliseconds of CPU per caller turn. Useful to compare two
versions of the engine on a noisy machine, where latency runs are not (docs/performance.md).
Writes JSON to benchmarks/results/session_cpu.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

TOOLS_PY = "def lookup(account_id):\n    return {'account_id': account_id, 'balance': 12.5}\n"


def _agent(base: Path) -> Any:
    from voiceagent.config.load import LoadedAgent
    from voiceagent.config.models import Agent

    (base / "shop.py").write_text(TOOLS_PY, encoding="utf-8")
    agent = Agent.model_validate(
        {
            "name": "cpu",
            "prompt": "You help callers of {{ company }}.",
            "variables": {"company": "Acme"},
            "tools": [
                {
                    "name": "lookup",
                    "python": "shop:lookup",
                    "parameters": {"account_id": {"type": "string"}},
                    "filler": "Checking {{ args.account_id }}.",
                }
            ],
            "flow": {
                "initial": "a",
                "states": {
                    "a": {"tools": ["lookup"], "transitions": [{"to": "b", "when": "session.turns > 100000"}]},
                    "b": {},
                },
            },
        }
    )
    return LoadedAgent(agent=agent, path=base / "agent.yaml", base_dir=base)


def _policy(request: Any) -> list[Any]:
    from voiceagent.testing.fakes import tool_call

    last = request.messages[-1]
    if last["role"] == "user" and "account" in last["content"]:
        return [tool_call("lookup", json.dumps({"account_id": "42"}))]
    return ["Sure, here it is. ", "Anything else I can do for you today?"]


async def one_call(loaded: Any, turns: int) -> float:
    """CPU ms per caller turn of one call of ``turns`` turns."""
    from voiceagent.engine.call import Providers, build_call
    from voiceagent.testing.fakes import FakeLLM, FakeTransport

    lines = ["hello there" if i % 2 else "my account please" for i in range(turns)]
    llm = FakeLLM(default=[])
    llm.replies = [_policy] * (3 * turns)
    transport = FakeTransport("text", lines=lines, close_input=True, plays_audio=False)
    t0 = time.process_time()
    async with build_call(loaded, Providers(llm=llm), transport, env={}) as call:
        await call.run()
    cpu = time.process_time() - t0
    done = len(call.events.of_type("turn.metrics"))
    if done != turns:
        raise RuntimeError(f"{done} of {turns} turns ran")
    return 1000.0 * cpu / turns


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; prints one line and writes the JSON."""
    p = argparse.ArgumentParser(description="CPU per caller turn of the session loop (no network).")
    p.add_argument("--turns", type=int, default=300)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out", default=str(RESULTS / "session_cpu.json"))
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        loaded = _agent(Path(tmp))
        asyncio.run(one_call(loaded, 10))  # imports, caches
        runs = [round(asyncio.run(one_call(loaded, args.turns)), 3) for _ in range(args.runs)]
    result = {
        "benchmark": "session_cpu",
        "command": " ".join(["benchmarks/session_cpu.py", *(argv if argv is not None else sys.argv[1:])]),
        "started_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "turns": args.turns,
        "cpu_ms_per_turn": runs,
        "min_cpu_ms_per_turn": min(runs),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"CPU per caller turn (ms): {runs} (min {min(runs)}); JSON: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
