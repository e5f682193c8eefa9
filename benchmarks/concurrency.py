"""How many simultaneous calls one runtime process holds.

    .venv/bin/python benchmarks/concurrency.py                  # N = 1, 10, 50, 100, 200, ... <= 400
    .venv/bin/python benchmarks/concurrency.py --levels 2 --turns 2 --out /tmp/c.json   # smoke run

For each N, a FRESH runtime process (this script with ``--worker``) runs N calls at once, each a
real Session + PulseSTT stream + LightningTTS socket (one Electron client shared by the process,
as a server would), each with its own pacing task delivering 20 ms caller frames and playing
20 ms of agent audio per tick on absolute deadlines (harness.PhoneLine). Calls start spread over
``N * 20 ms`` (at least 1 s). The fake servers run in separate process(es), so their CPU is not
the runtime's. Per N: overhead p50/p99 (ms, all turns: first audio of plain replies and fillers,
and answers after the tool), CPU seconds per call-minute (``getrusage(RUSAGE_SELF)`` of the
runtime process), RSS per call, underruns, event-loop lag, and the fake process's CPU use.

The sweep stops after the first N that breaks (p99 overhead >= ``--p99-limit-ms``, an underrun,
an error or a missing answer) unless ``--no-stop``. Headline: the largest N that passed.
Writes JSON to benchmarks/results/concurrency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_servers import FakeConfig, spawn_fakes
from harness import (
    RESULTS,
    Delays,
    add_provider_args,
    caller_utterances,
    load_shared,
    percentiles,
    rss_mb,
    run_call,
    session_breakdown,
    turn_latencies,
)
from patches import PATCHES, freeze_like_the_cli

DEFAULT_LEVELS = [1, 10, 50, 100, 200, 300, 400]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line."""
    p = argparse.ArgumentParser(description="Concurrent calls in one runtime process.")
    p.add_argument("--levels", default=",".join(map(str, DEFAULT_LEVELS)), help="comma-separated N")
    p.add_argument("--max-n", type=int, default=None, help="drop levels above this")
    p.add_argument("--turns", type=int, default=4, help="caller turns per call")
    p.add_argument("--fake-procs", type=int, default=1, help="fake server processes (calls spread over them)")
    p.add_argument("--p99-limit-ms", type=float, default=50.0)
    p.add_argument("--no-stop", action="store_true", help="run every level even after one broke")
    add_provider_args(p, PATCHES)
    p.add_argument("--via-relay", action="store_true")
    p.add_argument("--profile", help="(worker) write cProfile stats here; with the sweep: PREFIX-N.prof")
    p.add_argument("--out", default=str(RESULTS / "concurrency.json"))
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--urls", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def raise_fd_limit() -> None:
    """Allow as many sockets as the hard limit permits (2 per call, plus the LLM pool)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --------------------------------------------------------------------------- worker (one N)


async def _loop_lag(samples: list[float], stop: asyncio.Event) -> None:
    """How late a 10 ms sleep wakes up (ms): the event loop's responsiveness."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t = loop.time()
        await asyncio.sleep(0.01)
        samples.append(1000 * (loop.time() - t - 0.01))


async def _rss_peak(peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb())
        await asyncio.sleep(0.5)


class GcPauses:
    """Durations (ms) of the garbage collector's runs per generation (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.ms: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._t = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t = time.perf_counter()
        else:
            self.ms[info["generation"]].append(1000 * (time.perf_counter() - self._t))

    def summary(self) -> dict[str, Any]:
        return {
            f"gen{g}": {"count": len(v), "max_ms": round(max(v), 1) if v else None, "total_ms": round(sum(v), 1)}
            for g, v in self.ms.items()
        }


async def worker(
    n: int, args: argparse.Namespace, url_sets: list[dict[str, Any]], delays: Delays, prof: Any = None
) -> dict[str, Any]:
    """Run ``n`` simultaneous calls in this process; returns the level's numbers. ``prof``: a
    ``cProfile.Profile`` enabled only while the measured calls run.
    """
    shareds = [load_shared(u, delays, via_relay=args.via_relay, patches=args.patch) for u in url_sets]
    utterances, source = caller_utterances(delays.eou_ms, synthetic=args.synthetic)
    loop = asyncio.get_running_loop()
    # Warm-up: one short call (imports, the tool module, the LLM connection), not measured.
    warm = await run_call(shareds[0], utterances, 2)
    freeze_like_the_cli(args.patch)  # once start-up is over, as voiceagent run does
    base_rss = rss_mb()
    stop = asyncio.Event()
    lag: list[float] = []
    peak = [base_rss]
    monitors = [asyncio.create_task(_loop_lag(lag, stop)), asyncio.create_task(_rss_peak(peak, stop))]
    ramp = max(1.0, 0.02 * n)
    t0 = loop.time() + 0.2
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    wall0 = time.monotonic()
    if prof is not None:
        prof.enable()
    import gc

    pauses = GcPauses()
    gc.callbacks.append(pauses)
    calls = [
        run_call(
            shareds[i % len(shareds)],
            utterances[i % len(utterances) :] + utterances[: i % len(utterances)],
            args.turns,
            start_at=t0 + ramp * i / n,
        )
        for i in range(n)
    ]
    results = await asyncio.gather(*calls)
    if prof is not None:
        prof.disable()
    gc.callbacks.remove(pauses)
    wall = time.monotonic() - wall0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    stop.set()
    await asyncio.gather(*monitors, return_exceptions=True)
    for s in shareds:
        await s.llm.aclose()

    first, answer, kinds = [], [], {"plain": 0, "tool": 0, "missing": 0}
    parts: dict[str, list[float]] = {}
    for res in results:
        for key, vals in session_breakdown(res.events, delays, res).items():
            parts.setdefault(key, []).extend(vals)
        for t in turn_latencies(res, shareds[0]):
            kinds[t.kind] = kinds.get(t.kind, 0) + 1
            if t.first_overhead_ms is not None:
                first.append(t.first_overhead_ms)
            if t.answer_overhead_ms is not None:
                answer.append(t.answer_overhead_ms)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    call_min = sum(r.ended - r.started for r in results) / 60.0
    errors = [r.error for r in results if r.error]
    return {
        "n": n,
        "caller": source,
        "turns_per_call": args.turns,
        "ramp_s": ramp,
        "wall_s": round(wall, 1),
        "turns": kinds,
        "overhead_ms": percentiles(first + answer),
        "first_audio_overhead_ms": percentiles(first),
        "answer_overhead_ms": percentiles(answer),
        "cpu_s": round(cpu, 2),
        "cpu_util": round(cpu / wall, 3),
        "cpu_user_s": round(ru1.ru_utime - ru0.ru_utime, 2),
        "cpu_system_s": round(ru1.ru_stime - ru0.ru_stime, 2),
        "call_minutes": round(call_min, 2),
        "cpu_s_per_call_minute": round(cpu / call_min, 3) if call_min else None,
        "rss_base_mb": round(base_rss, 1),
        "rss_peak_mb": round(peak[0], 1),
        "rss_per_call_mb": round((peak[0] - base_rss) / n, 2),
        "underruns": sum(r.underruns for r in results),
        "underrun_ms": round(sum(r.underrun_ms for r in results), 1),
        "caller_waits_timed_out": sum(r.timeouts for r in results),
        "late_caller_ticks": sum(r.late_ticks for r in results),
        "max_caller_tick_late_ms": round(max(r.max_tick_late_ms for r in results), 1),
        "loop_lag_ms": percentiles(lag),
        "session_breakdown_ms": {k: percentiles(v) for k, v in parts.items()},
        "gc_pauses": pauses.summary(),
        "errors": len(errors),
        "first_errors": errors[:3],
        "warmup_error": warm.error,
    }


def run_worker(args: argparse.Namespace, delays: Delays) -> int:
    """``--worker N``: measure one level and print its JSON as the last stdout line."""
    import cProfile

    raise_fd_limit()
    url_sets = json.loads(args.urls)
    if args.uvloop:
        import uvloop

        uvloop.install()
    prof = cProfile.Profile() if args.profile else None
    result = asyncio.run(worker(args.worker, args, url_sets, delays, prof))
    if prof:
        prof.dump_stats(args.profile)
    print(json.dumps(result), flush=True)
    return 0


# --------------------------------------------------------------------------- sweep


def passed(level: dict[str, Any], limit: float) -> bool:
    """Whether a level meets the bar: p99 overhead < ``limit``, no underrun, error or missing answer."""
    p99 = level.get("overhead_ms", {}).get("p99")
    return (
        p99 is not None
        and p99 < limit
        and level.get("underruns", 1) == 0
        and level.get("errors", 1) == 0
        and level.get("caller_waits_timed_out", 1) == 0
        and level.get("turns", {}).get("missing", 1) == 0
    )


def row(level: dict[str, Any], ok: bool) -> str:
    """One table row."""
    if "failed" in level:
        return f"{level['n']:>5}  worker failed: {level['failed']}"
    o, lag = level["overhead_ms"], level["loop_lag_ms"]
    return (
        f"{level['n']:>5}{o['p50']:>9}{o['p99']:>9}{level['cpu_s_per_call_minute']:>10}"
        f"{level['rss_per_call_mb']:>9}{level['underruns']:>6}{level['errors']:>6}"
        f"{lag['p99']:>9}{level.get('fake_cpu_util', float('nan')):>8.2f}{'  ok' if ok else '  BROKE'}"
    )


def sweep(args: argparse.Namespace, delays: Delays, argv: list[str] | None) -> int:
    """Run every level in a fresh worker process; print the table and write the JSON."""
    raise_fd_limit()
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    if args.max_n is not None:
        levels = [n for n in levels if n <= args.max_n]
    cfg = FakeConfig(
        pulse_delay_ms=args.pulse_delay_ms,
        llm_ttft_ms=args.llm_ttft_ms,
        tts_first_audio_ms=args.tts_first_audio_ms,
        tts_chunk_interval_ms=args.tts_chunk_interval_ms,
    )
    fakes = [spawn_fakes(cfg) for _ in range(max(1, args.fake_procs))]
    started = time.time()
    out_levels: list[dict[str, Any]] = []
    print(
        f"{'N':>5}{'ovh p50':>9}{'p99':>9}{'cpu/cmin':>10}{'MB/call':>9}{'undr':>6}{'err':>6}"
        f"{'lag p99':>9}{'fakeCPU':>8}",
        flush=True,
    )
    try:
        for n in levels:
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                str(n),
                "--urls",
                json.dumps([f.info for f in fakes]),
                "--turns",
                str(args.turns),
                "--eou-ms",
                str(args.eou_ms),
                "--pulse-delay-ms",
                str(args.pulse_delay_ms),
                "--llm-ttft-ms",
                str(args.llm_ttft_ms),
                "--tts-first-audio-ms",
                str(args.tts_first_audio_ms),
                "--tool-ms",
                str(args.tool_ms),
            ]
            cmd += ["--synthetic"] if args.synthetic else []
            cmd += ["--via-relay"] if args.via_relay else []
            cmd += [a for name in args.patch for a in ("--patch", name)]
            cmd += ["--uvloop"] if args.uvloop else []
            cmd += ["--profile", f"{args.profile}-{n}.prof"] if args.profile else []
            fake_cpu0 = [f.cpu_s() for f in fakes]
            t0 = time.monotonic()
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            wall = time.monotonic() - t0
            fake_cpu = sum(f.cpu_s() for f in fakes) - sum(fake_cpu0)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            if proc.returncode != 0 or not lines:
                level: dict[str, Any] = {"n": n, "failed": (proc.stderr.strip().splitlines() or ["?"])[-1]}
            else:
                level = json.loads(lines[-1])
                level["fake_cpu_s"] = round(fake_cpu, 2)
                # the fakes are busy only while the calls run: share of the measured wall time
                level["fake_cpu_util"] = round(fake_cpu / max(level["wall_s"], 1e-9) / len(fakes), 3)
                level["worker_wall_s"] = round(wall, 1)
            ok = passed(level, args.p99_limit_ms)
            level["passed"] = ok
            out_levels.append(level)
            print(row(level, ok), flush=True)
            if not ok and not args.no_stop:
                break
    finally:
        for f in fakes:
            f.stop()
    best = max((lv["n"] for lv in out_levels if lv.get("passed")), default=0)
    result = {
        "benchmark": "concurrency",
        "command": " ".join(["benchmarks/concurrency.py", *(argv if argv is not None else sys.argv[1:])]),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_at_end": os.getloadavg(),
        "fake_processes": len(fakes),
        "patches": args.patch,
        "uvloop": args.uvloop,
        "delays_ms": delays.__dict__ | {"tts_chunk_interval_ms": args.tts_chunk_interval_ms},
        "p99_limit_ms": args.p99_limit_ms,
        "largest_passing_n": best,
        "levels": out_levels,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"largest N with p99 overhead < {args.p99_limit_ms:g} ms and no underruns: {best}")
    print(f"JSON: {out}")
    return 0 if out_levels and "failed" not in out_levels[0] else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point: the sweep, or one level with ``--worker``."""
    args = parse(argv)
    delays = Delays(args.eou_ms, args.pulse_delay_ms, args.llm_ttft_ms, args.tts_first_audio_ms, args.tool_ms)
    if args.worker is not None:
        return run_worker(args, delays)
    return sweep(args, delays, argv)


if __name__ == "__main__":
    sys.exit(main())
