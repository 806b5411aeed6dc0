#!/usr/bin/env python3
"""Python's side of bench/granularity.ts: the same busy loop, serially and through
concurrent.futures.ProcessPoolExecutor(max_workers=cores).

The loop is the 30-bit integer LCG of bench/granularityTasks.ts; it allocates nothing beyond
CPython's own int objects. This process calibrates it once, at start (iterations per ms, best of
five), and uses that constant for both of its sides, so a task of `ms` milliseconds is
`round(ms * iters_per_ms)` iterations here.

Two modes, both writing JSON on stdout:
- `python3 bench/granularity.py [--sizes 1,5,20,50] [--work-ms 3000]`: the whole sweep, one object.
- `python3 bench/granularity.py --serve`: one JSON line `{"ready": true, ...}` once the pool is
  warm, then one JSON line per request line read from stdin, `{"side": "serial" | "pool", "ms": 5,
  "n": 600}`; ends at EOF. bench/granularity.ts uses this mode to run its sides and these in the
  same rounds.

CPU time: the parent's from `time.process_time()`, the pool processes' from /proc/<pid>/stat
(Linux; `null` elsewhere), over the timed run only.
"""

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

MASK = 0x3FFFFFFF


def spin(iterations):
    """The busy loop: `iterations` steps of a 30-bit LCG (as bench/granularityTasks.ts); returns its last value."""
    x = 1
    for _ in range(iterations):
        x = (x * 1103515245 + 12345) & MASK
    return x


def calibrate():
    """Iterations per ms of `spin` in this process: best of five runs of ~20 ms."""
    k = 10_000
    while True:
        started = time.perf_counter()
        spin(k)
        if (time.perf_counter() - started) * 1000 >= 20:
            break
        k *= 2
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        spin(k)
        best = min(best, (time.perf_counter() - started) * 1000)
    return k / best


def cores():
    if hasattr(os, "process_cpu_count"):
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


_TICK_MS = 1000 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 10


def proc_cpu_ms(pid):
    """utime + stime of a live process, in ms, from /proc (None where there is no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf8") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) * _TICK_MS


def pool_cpu_ms(executor):
    # _processes is private, but it is the only way to name the pool's processes.
    total = 0.0
    for pid in list(getattr(executor, "_processes", {}) or {}):
        ms = proc_cpu_ms(pid)
        if ms is None:
            return None
        total += ms
    return total


class Sweep:
    def __init__(self, workers):
        self.workers = workers
        self.iters_per_ms = calibrate()
        self.executor = ProcessPoolExecutor(max_workers=workers)
        # Warm-up, not timed: starts every pool process (and its imports) before the first timed run.
        list(self.executor.map(spin, [int(self.iters_per_ms)] * (4 * workers)))

    def iterations(self, ms):
        return max(1, round(ms * self.iters_per_ms))

    def run(self, side, ms, n):
        iterations = self.iterations(ms)
        parent0 = time.process_time()
        pool0 = pool_cpu_ms(self.executor) if side == "pool" else 0.0
        started = time.perf_counter()
        if side == "serial":
            results = [spin(iterations) for _ in range(n)]
        elif side == "pool":
            results = list(self.executor.map(spin, [iterations] * n))
        else:
            raise ValueError(f"unknown side {side!r}")
        wall_ms = (time.perf_counter() - started) * 1000
        parent_ms = (time.process_time() - parent0) * 1000
        pool1 = pool_cpu_ms(self.executor) if side == "pool" else 0.0
        if len(results) != n or len(set(results)) != 1:
            raise RuntimeError(f"{side}: wrong results")
        return {
            "side": side,
            "ms": ms,
            "n": n,
            "iterations": iterations,
            "wallMs": round(wall_ms, 2),
            "parentCpuMs": round(parent_ms, 2),
            "poolCpuMs": None if pool0 is None or pool1 is None else round(pool1 - pool0, 2),
        }

    def close(self):
        self.executor.shutdown(wait=True)


def header(sweep):
    return {
        "python": sys.version.split()[0],
        "cores": sweep.workers,
        "itersPerMs": round(sweep.iters_per_ms, 1),
    }


def serve(sweep):
    print(json.dumps({"ready": True, **header(sweep)}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            out = sweep.run(request["side"], float(request["ms"]), int(request["n"]))
        except Exception as error:  # reported to the caller, which fails the benchmark
            out = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(out), flush=True)


def sweep_all(sweep, sizes, work_ms):
    rows = []
    for ms in sizes:
        n = max(2 * sweep.workers, round(work_ms / ms))
        serial = sweep.run("serial", ms, n)
        pool = sweep.run("pool", ms, n)
        rows.append({"ms": ms, "n": n, "serial": serial, "pool": pool, "speedup": round(serial["wallMs"] / pool["wallMs"], 3)})
    print(json.dumps({**header(sweep), "rows": rows}, indent=2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true", help="answer JSON requests on stdin, one per line")
    parser.add_argument("--sizes", default="1,5,20,50", help="task sizes in ms (default 1,5,20,50)")
    parser.add_argument("--work-ms", type=float, default=3000, help="serial work per size, ms (default 3000)")
    parser.add_argument("--workers", type=int, default=cores(), help="pool processes (default: the CPUs)")
    args = parser.parse_args()
    sweep = Sweep(args.workers)
    try:
        if args.serve:
            serve(sweep)
        else:
            sweep_all(sweep, [float(s) for s in args.sizes.split(",")], args.work_ms)
    finally:
        sweep.close()


if __name__ == "__main__":
    main()
