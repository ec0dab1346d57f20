"""Benchmark: scheduling steps per second, C scheduler vs Python scheduler, on toy programs.

Print only (not a test; pytest does not collect ``bench_*.py``)::

    python -m tests.native.bench_sched [--programs 200] [--seconds 2]

Both sides run the same random toy programs (tests/sched/toy.py) with seeded random
decisions, building a fresh scheduler and world for every schedule.  The C side runs all
schedules of a program in one ctypes call (``fl_toy_bench``: no trace text); "C via
run_toy" is one ctypes call per schedule with the trace read back and parsed in Python.
"""

from __future__ import annotations

import argparse
import random
import time

from fuzzlock import native
from fuzzlock.sched import RandomChooser
from tests import native_toy
from tests.sched.toy import Program, build, random_program


def _programs(n: int, seed: int) -> list[Program]:
    rng = random.Random(seed)
    return [random_program(rng, max_threads=4, max_actions=12) for _ in range(n)]


def bench_python(progs: list[Program], seconds: float) -> tuple[int, int, float]:
    steps = runs = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for i, prog in enumerate(progs):
            s, _ = build(prog)
            steps += s.run(RandomChooser(runs + i)).steps
        runs += len(progs)
    return steps, runs, time.perf_counter() - t0


def bench_c(progs: list[Program], seconds: float) -> tuple[int, int, float]:
    steps = runs = 0
    per = 1000
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for i, prog in enumerate(progs):
            steps += native_toy.toy_bench(prog, per, seed=runs + i)
        runs += per * len(progs)
    return steps, runs, time.perf_counter() - t0


def bench_c_roundtrip(progs: list[Program], seconds: float) -> tuple[int, int, float]:
    steps = runs = 0
    rng = random.Random(1)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for prog in progs:
            d = [rng.randrange(4) for _ in range(20)]
            steps += len(native_toy.run_toy(prog, d)[1])
        runs += len(progs)
    return steps, runs, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--programs", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=20261128)
    args = ap.parse_args()
    progs = _programs(args.programs, args.seed)
    print(f"library: {native.library_path()}")
    rows = [
        ("python", bench_python(progs, args.seconds)),
        ("C (fl_toy_bench)", bench_c(progs, args.seconds)),
        ("C via run_toy", bench_c_roundtrip(progs, args.seconds)),
    ]
    base = rows[0][1][0] / rows[0][1][2]
    print(f"{'backend':<18} {'steps/s':>12} {'schedules/s':>12} {'ns/step':>9} {'vs python':>9}")
    for name, (steps, runs, secs) in rows:
        sps = steps / secs
        print(
            f"{name:<18} {sps:>12,.0f} {runs / secs:>12,.0f} {1e9 / sps:>9.1f} {sps / base:>8.1f}x"
        )


if __name__ == "__main__":
    main()
