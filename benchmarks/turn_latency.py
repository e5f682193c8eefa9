"""Turn latency of one call: end of caller speech -> first agent audio, and the runtime's overhead.

    .venv/bin/python benchmarks/turn_latency.py                 # 50 plain + 50 tool turns
    .venv/bin/python benchmarks/turn_latency.py --turns 2 --out /tmp/t.json   # smoke run

One real call (the real Session, PulseSTT, Electron client and LightningTTS) against the fake
Pulse / Electron / Lightning servers of ``benchmarks/fake_servers.py`` running in a separate
process with the providers' documented delays; the caller is ``samples/*.wav`` (or synthetic
speech) paced in real time, 20 ms frames. Turns alternate plain question / account question
(tool turn: filler, a 500 ms tool, then the answer). Definitions: benchmarks/harness.py and
docs/performance.md. Prints a table; writes JSON to benchmarks/results/turn_latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_servers import FakeConfig, spawn_fakes
from floor import measure_floor
from harness import (
    RESULTS,
    Delays,
    add_provider_args,
    caller_utterances,
    load_shared,
    percentiles,
    run_call,
    session_breakdown,
    turn_latencies,
)
from patches import PATCHES, freeze_like_the_cli


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line (every provider delay can be set)."""
    p = argparse.ArgumentParser(description="Turn latency of one call through the real runtime.")
    p.add_argument("--turns", type=int, default=50, help="plain turns (and as many tool turns)")
    p.add_argument("--warmup", type=int, default=2, help="first turns left out of the statistics")
    add_provider_args(p, PATCHES)
    p.add_argument("--via-relay", action="store_true", help="speech APIs through the fake's public port")
    p.add_argument(
        "--floor-n", type=int, default=20, help="bare-client exchanges per fake to measure the fakes' floor (0: skip)"
    )
    p.add_argument("--events", help="write the call's event log (JSONL) here")
    p.add_argument("--profile", help="write cProfile stats of the runtime process here")
    p.add_argument("--out", default=str(RESULTS / "turn_latency.json"))
    return p.parse_args(argv)


def summarize(turns: list[Any], warmup: int) -> dict[str, Any]:
    """Percentiles of latency and overhead per path, leaving out the first ``warmup`` turns."""
    used = turns[warmup:]
    plain = [t for t in used if t.kind == "plain"]
    tool = [t for t in used if t.kind == "tool"]
    return {
        "plain_reply": {
            "latency_ms": percentiles([t.first_ms for t in plain]),
            "overhead_ms": percentiles([t.first_overhead_ms for t in plain]),
        },
        "tool_filler": {
            "latency_ms": percentiles([t.first_ms for t in tool]),
            "overhead_ms": percentiles([t.first_overhead_ms for t in tool]),
        },
        "tool_answer": {
            "latency_ms": percentiles([t.answer_ms for t in tool if t.answer_ms is not None]),
            "overhead_ms": percentiles([t.answer_overhead_ms for t in tool if t.answer_overhead_ms is not None]),
        },
        "all_first_audio_overhead_ms": percentiles(
            [t.first_overhead_ms for t in used if t.first_overhead_ms is not None]
        ),
        "missing_turns": sum(1 for t in used if t.kind == "missing"),
        "first_turn_of_call": turns[0].__dict__ if turns else None,
    }


def table(summary: dict[str, Any], delays: Delays) -> str:
    """The human-readable table."""
    rows = [
        ("plain reply", "plain_reply", delays.first_reply()),
        ("tool: filler", "tool_filler", delays.first_reply()),
        ("tool: answer", "tool_answer", delays.answer_after_tool()),
    ]
    out = [
        f"{'path':<14}{'n':>4}{'provider':>10}{'lat p50':>9}{'p95':>8}{'p99':>8}"
        f"{'ovh p50':>9}{'p95':>8}{'p99':>8}{'max':>8}"
    ]
    for label, key, prov in rows:
        lat, ovh = summary[key]["latency_ms"], summary[key]["overhead_ms"]
        f = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
        out.append(
            f"{label:<14}{lat['n']:>4}{prov:>10.0f}{f(lat['p50']):>9}{f(lat['p95']):>8}"
            f"{f(lat['p99']):>8}{f(ovh['p50']):>9}{f(ovh['p95']):>8}{f(ovh['p99']):>8}"
            f"{f(ovh['max']):>8}"
        )
    return "\n".join(out)


async def measure(args: argparse.Namespace, urls: dict[str, Any], delays: Delays) -> dict[str, Any]:
    """Run the call and compute everything."""
    shared = load_shared(urls, delays, via_relay=args.via_relay, patches=args.patch)
    utterances, source = caller_utterances(delays.eou_ms, synthetic=args.synthetic)
    n_turns = 2 * args.turns + args.warmup
    freeze_like_the_cli(args.patch)  # as voiceagent run does before the call
    try:
        res = await run_call(shared, utterances, n_turns, events_path=args.events)
    finally:
        await shared.llm.aclose()
    # after the call: the floor's Pulse exchanges consume the fake's transcript cycle too
    floor = await measure_floor(urls, delays, args.floor_n) if args.floor_n > 0 else None
    turns = turn_latencies(res, shared)
    summary = summarize(turns, args.warmup)
    breakdown = {k: percentiles(v[args.warmup :]) for k, v in session_breakdown(res.events, delays, res).items()}
    return {
        "fake_floor_ms": floor,
        "caller": source,
        "utterances": len(utterances),
        "summary": summary,
        "session_breakdown_ms": breakdown,
        "underruns": res.underruns,
        "underrun_ms": round(res.underrun_ms, 1),
        "agent_frames_played": res.frames_played,
        "caller_waits_timed_out": res.timeouts,
        "late_caller_ticks": res.late_ticks,
        "max_caller_tick_late_ms": round(res.max_tick_late_ms, 1),
        "end_reason": res.end_reason,
        "error": res.error,
        "call_seconds": round(res.ended - res.started, 1),
        "turns": [t.__dict__ for t in turns],
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 when the call failed or turns went missing."""
    args = parse(argv)
    delays = Delays(args.eou_ms, args.pulse_delay_ms, args.llm_ttft_ms, args.tts_first_audio_ms, args.tool_ms)
    cfg = FakeConfig(
        pulse_delay_ms=args.pulse_delay_ms,
        llm_ttft_ms=args.llm_ttft_ms,
        tts_first_audio_ms=args.tts_first_audio_ms,
        tts_chunk_interval_ms=args.tts_chunk_interval_ms,
    )
    started = time.time()
    with spawn_fakes(cfg) as fakes:
        prof = cProfile.Profile() if args.profile else None
        if prof:
            prof.enable()
        if args.uvloop:
            import uvloop

            uvloop.install()
        result = asyncio.run(measure(args, fakes.info, delays))
        if prof:
            prof.disable()
            prof.dump_stats(args.profile)
        fake_cpu = fakes.cpu_s()
    result = {
        "benchmark": "turn_latency",
        "command": " ".join(["benchmarks/turn_latency.py", *(argv or sys.argv[1:])]),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "delays_ms": delays.__dict__ | {"tts_chunk_interval_ms": args.tts_chunk_interval_ms},
        "provider_delay_ms": {"first_reply": delays.first_reply(), "answer_after_tool": delays.answer_after_tool()},
        "warmup_turns": args.warmup,
        "patches": args.patch,
        "uvloop": args.uvloop,
        "fake_process_cpu_s": round(fake_cpu, 2),
        **result,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result["summary"], delays))
    b = result["session_breakdown_ms"]
    print(
        f"session view (p50/p99 ms): end of speech->transcript overhead "
        f"{b['stt_path_overhead']['p50']}/{b['stt_path_overhead']['p99']}, final->first audio overhead "
        f"{b['final_to_first_audio_overhead']['p50']}/{b['final_to_first_audio_overhead']['p99']}, "
        f"LLM client {b['llm_client_overhead']['p50']}/{b['llm_client_overhead']['p99']}, "
        f"TTS client {b['tts_client_overhead']['p50']}/{b['tts_client_overhead']['p99']}"
    )
    fl = result["fake_floor_ms"]
    if fl:
        print(
            f"fakes' own floor (bare clients, p50 ms): Pulse {fl['pulse']['p50']}, LLM {fl['llm']['p50']}, "
            f"TTS {fl['tts']['p50']}; plain-turn floor {fl['plain_turn_p50_sum']} ms"
        )
    print(
        f"underruns {result['underruns']}, caller timeouts {result['caller_waits_timed_out']}, "
        f"late caller ticks {result['late_caller_ticks']} (max {result['max_caller_tick_late_ms']} ms), "
        f"caller {result['caller']}, call {result['call_seconds']} s, error {result['error']}"
    )
    print(f"JSON: {out}")
    bad = result["error"] or result["summary"]["missing_turns"] or result["caller_waits_timed_out"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
