"""How many concurrent phone calls one `voiceagent serve` process holds.

    .venv/bin/python benchmarks/serve_capacity.py                     # N = 10, 50, 100, 150, 200, ...
    .venv/bin/python benchmarks/serve_capacity.py --levels 2 --turns 2 --out /tmp/s.json   # smoke run

For each N, a FRESH `voiceagent serve benchmarks/agents/serve_bench.yaml` process answers N fake
Twilio calls at once (voiceagent.testing.fake_telephony.FakePhoneCall: real Media Streams JSON,
base64 mu-law 8 kHz, 20 ms caller frames at real time, agent audio played at real time with its
marks echoed), through the real webhook-less stream route, the real Twilio transport and the real
Pulse / Lightning / Electron clients, against the fakes of benchmarks/fake_servers.py with the
providers' documented delays (Pulse final 64 ms after the 300 ms end-of-utterance silence,
Electron first token 250 ms, Lightning first audio 175 ms). The fakes, the server and the
callers run in three processes; the server's CPU is read from /proc/PID/stat.

Per N: *overhead* = (end of caller speech -> first agent audio received by the caller) minus the
provider delays (EOU + Pulse + LLM first token + TTS first audio), p50/p99 over every turn of
every call; CPU seconds of the server per call-minute; RSS per call (server RSS with N calls
minus idle, / N); underruns (gaps < 300 ms inside the agent's audio at the caller); answered
turns. The sweep stops after the first N that breaks (p99 >= --p99-limit-ms, an underrun, or an
unanswered turn) unless --no-stop. Writes benchmarks/results/serve_capacity.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from fake_servers import API_KEY, FakeConfig, spawn_fakes
from harness import RESULTS, ROOT, Delays, caller_utterances, percentiles

DEFAULT_LEVELS = [10, 50, 100, 150, 200, 250, 300]
AGENT = ROOT / "benchmarks" / "agents" / "serve_bench.yaml"
RATE = 8000


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Concurrent phone calls through one voiceagent serve process.")
    p.add_argument("--levels", default=",".join(map(str, DEFAULT_LEVELS)), help="comma-separated N")
    p.add_argument("--turns", type=int, default=3, help="caller turns per call")
    p.add_argument("--gap-s", type=float, default=4.0, help="caller silence after each utterance (s)")
    p.add_argument("--ramp-ms", type=float, default=40.0, help="spacing between call starts (ms)")
    p.add_argument("--p99-limit-ms", type=float, default=50.0)
    p.add_argument("--no-stop", action="store_true", help="run every level even after one breaks")
    p.add_argument("--out", type=Path, default=RESULTS / "serve_capacity.json")
    p.add_argument("--eou-ms", type=float, default=300.0)
    return p.parse_args(argv)


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def caller_audio(turns: int, gap_s: float, seed: int) -> bytes:
    """The caller's side: ``turns`` utterances (samples/*.wav cut like the fake Pulse cuts them),
    each followed by ``gap_s`` of silence, resampled to 8 kHz; 1.5 s of silence first (the greeting).
    """
    from voiceagent.audio import AudioFrame

    utterances, _ = caller_utterances(300.0)
    parts = [np.zeros(int(1.5 * RATE), "<i2")]
    for k in range(turns):
        u = utterances[(seed + k) % len(utterances)]
        parts.append(AudioFrame(u.astype("<i2").tobytes(), 16000).resampled(RATE).to_numpy())
        parts.append(np.zeros(int(gap_s * RATE), "<i2"))
    return np.concatenate(parts).astype("<i2").tobytes()


def start_server(fakes: dict[str, Any], max_calls: int) -> tuple[subprocess.Popen[str], str]:
    env = {
        **os.environ,
        "SMALLEST_API_KEY": API_KEY,
        "SMALLEST_BASE_URL": fakes["ws_base_url"],
        "BENCH_SMALLEST_URL": fakes["ws_base_url"],
        "BENCH_LLM_URL": fakes["llm_base_url"],
        "BENCH_TOOL_DELAY_MS": "500",
        "PYTHONPATH": str(ROOT / "runtime"),
    }
    cmd = [sys.executable, "-m", "voiceagent", "serve", str(AGENT), "--port", "0", "--no-reload"]
    cmd += ["--max-calls", str(max_calls)]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        m = re.search(r"listening on (http://[\d.]+:\d+)", line)
        if m:
            return proc, m.group(1)
    raise RuntimeError("server did not start")


async def run_level(n: int, args: argparse.Namespace, fakes: dict[str, Any]) -> dict[str, Any]:
    from voiceagent.testing.fake_telephony import FakePhoneCall

    proc, base = start_server(fakes, n + 5)
    # keep reading the server's log so it never blocks on a full pipe
    threading.Thread(target=lambda: [None for _ in proc.stderr or ()], daemon=True).start()
    try:
        await asyncio.sleep(0.5)
        rss0 = proc_rss_mb(proc.pid)
        ws = base.replace("http://", "ws://") + "/twilio/serve-bench/stream"
        calls = [
            FakePhoneCall(
                ws,
                caller_audio(args.turns, args.gap_s, i),
                call_sid=f"CA{i:032d}",
                stream_sid=f"MZ{i:032d}",
                hang_up_after_s=0.5,
            )
            for i in range(n)
        ]
        cpu0, t0 = proc_cpu_s(proc.pid), time.monotonic()
        me0 = resource.getrusage(resource.RUSAGE_SELF)
        fake0 = proc_cpu_s(fakes["pid"])
        peak_rss = [rss0]

        async def sample_rss() -> None:
            while True:
                await asyncio.sleep(1.0)
                peak_rss.append(proc_rss_mb(proc.pid))

        sampler = asyncio.create_task(sample_rss())

        async def one(i: int, call: FakePhoneCall) -> FakePhoneCall:
            await asyncio.sleep(i * args.ramp_ms / 1000)
            return await call.run(timeout=120)

        done = await asyncio.gather(*(one(i, c) for i, c in enumerate(calls)), return_exceptions=True)
        sampler.cancel()
        wall = time.monotonic() - t0
        cpu = proc_cpu_s(proc.pid) - cpu0
        me1 = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = me1.ru_utime + me1.ru_stime - me0.ru_utime - me0.ru_stime
        fake_cpu = proc_cpu_s(fakes["pid"]) - fake0
        load = os.getloadavg()[0]
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 30)
    d = Delays(eou_ms=args.eou_ms)
    provider_ms = d.first_reply()
    overheads: list[float] = []
    unanswered = errors = underruns = 0
    call_seconds = 0.0
    for c in done:
        if isinstance(c, BaseException):
            errors += 1
            continue
        call_seconds += len(c.caller_pcm) / 2 / RATE
        underruns += c.underruns
        for end, ans in zip(c.speech_ends, c.answers + [None] * (len(c.speech_ends) - len(c.answers)), strict=True):
            if ans is None:
                unanswered += 1
            else:
                overheads.append(1000 * (ans - end) - provider_ms)
    stats = percentiles(overheads)
    call_minutes = call_seconds / 60
    return {
        "n": n,
        "overhead_ms": stats,
        "turns": len(overheads),
        "unanswered": unanswered,
        "errors": errors,
        "underruns": underruns,
        "cpu_s_per_call_minute": round(cpu / call_minutes, 3) if call_minutes else None,
        "server_cpu_share": round(cpu / wall, 3),
        "callers_cpu_share": round(client_cpu / wall, 3),
        "fakes_cpu_share": round(fake_cpu / wall, 3),
        "load_average_1m": round(load, 2),
        "rss_idle_mb": round(rss0, 1),
        "rss_per_call_mb": round((max(peak_rss) - rss0) / n, 2),
        "wall_s": round(wall, 1),
    }


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    results: list[dict[str, Any]] = []
    best = 0
    with spawn_fakes(FakeConfig()) as fakes:
        for n in levels:
            r = asyncio.run(run_level(n, args, fakes.info))
            ok = (
                r["overhead_ms"]["p99"] is not None
                and r["overhead_ms"]["p99"] < args.p99_limit_ms
                and r["underruns"] == 0
                and r["unanswered"] == 0
                and r["errors"] == 0
            )
            r["passed"] = ok
            results.append(r)
            o = r["overhead_ms"]
            print(
                f"N={n:4d}  overhead p50 {o['p50']} ms  p99 {o['p99']} ms  turns {r['turns']}  "
                f"unanswered {r['unanswered']}  underruns {r['underruns']}  errors {r['errors']}  "
                f"CPU {r['cpu_s_per_call_minute']} s/call-min  RSS {r['rss_per_call_mb']} MB/call  "
                f"cores: server {r['server_cpu_share']} callers {r['callers_cpu_share']} fakes {r['fakes_cpu_share']}  "
                f"load {r['load_average_1m']}  "
                f"{'ok' if ok else 'BROKE'}",
                flush=True,
            )
            if ok:
                best = n
            elif not args.no_stop:
                break
    out = {
        "benchmark": "serve_capacity",
        "command": "python benchmarks/serve_capacity.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "provider_delays_ms": Delays(eou_ms=args.eou_ms).__dict__,
        "p99_limit_ms": args.p99_limit_ms,
        "largest_passing_n": best,
        "levels": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"largest N with p99 overhead < {args.p99_limit_ms:g} ms and no underruns: {best}  ({args.out})")


if __name__ == "__main__":
    main()
