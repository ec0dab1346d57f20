"""``fuzzlock bench``: how fast the C model runs the same scenarios as the Python model.

One run measures, on the same scenarios (seeded, drawn by ``fuzzlock.strategies`` and kept
when they are inside the C slice and their setup runs):

* ``python``: ``fuzzlock.model.run`` with a seeded random chooser, one schedule per call;
* ``native-call``: ``fuzzlock.native.run_model`` once per schedule (pre-drawn random
  decisions): what ``fuzzlock hunt --backend native`` pays, ctypes, encoding and trace
  parsing included;
* ``native-loop``: ``fuzzlock.native.model_bench``: many seeded random schedules in one C
  call (the engine alone).

Each prints scheduling steps per second and schedules per second, and the ratios to
Python.  ``--xdist`` also runs the pytest campaign (``tests/campaign``, random and pct) with ``-n 1``
and ``-n 2`` as subprocesses with a fixed budget (``--fuzzlock-budget``) and prints schedules
per second for each and their ratio.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs

from fuzzlock import campaign, model, scenario, strategies
from fuzzlock.protocol import Protocol
from fuzzlock.sched import RandomChooser


@attrs.define
class Row:
    backend: str
    schedules: int
    steps: int
    seconds: float

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else 0.0

    @property
    def schedules_per_second(self) -> float:
        return self.schedules / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "schedules": self.schedules,
            "steps": self.steps,
            "seconds": round(self.seconds, 4),
            "steps_per_second": round(self.steps_per_second, 1),
            "schedules_per_second": round(self.schedules_per_second, 1),
        }


def slice_scenarios(proto: Protocol, n: int, seed: int = 0) -> list[scenario.Scenario]:
    """``n`` scenarios from the random strategy's generator that the C model can run
    (inside the C slice, setup runs) under ``proto``."""
    from fuzzlock import native

    rng = random.Random(seed)
    out: list[scenario.Scenario] = []
    for _ in range(200 * max(n, 1)):
        if len(out) >= n:
            break
        sc = strategies.gen_scenario(strategies.RandomSource(random.Random(rng.randrange(2**32))))
        try:
            native.run_model(sc, proto.knobs, [])
        except native.NativeError:  # outside the slice, or a setup error
            continue
        out.append(sc)
    return out


def bench_python(
    scs: list[scenario.Scenario], proto: Protocol, runs: int, seed: int, seconds: float
) -> Row:
    """Python model, ``runs`` random schedules per scenario (or until ``seconds``)."""
    n = steps = 0
    t0 = time.perf_counter()
    for i, sc in enumerate(scs):
        for j in range(runs):
            r = model.run(sc, proto, chooser=RandomChooser(seed * 1_000_003 + i * 1009 + j))
            n += 1
            steps += r.result.steps
        if time.perf_counter() - t0 > seconds:
            break
    return Row("python", n, steps, time.perf_counter() - t0)


def bench_native_call(
    scs: list[scenario.Scenario], proto: Protocol, runs: int, seed: int, seconds: float
) -> Row:
    """C model through ``native.run_model``, one call per schedule (pre-drawn decisions)."""
    from fuzzlock import native

    n = steps = 0
    rng = random.Random(seed)
    t0 = time.perf_counter()
    for sc in scs:
        for _ in range(runs):
            pre = campaign.predraw_random(rng, 256, 1.0)
            _o, events, _d, _p, _v = native.run_model(sc, proto.knobs, pre)
            n += 1
            steps += len(events)
        if time.perf_counter() - t0 > seconds:
            break
    return Row("native-call", n, steps, time.perf_counter() - t0)


def bench_native_loop(scs: list[scenario.Scenario], proto: Protocol, runs: int, seed: int) -> Row:
    """C model, ``runs`` seeded random schedules per scenario in one C call each."""
    from fuzzlock import native

    n = steps = 0
    t0 = time.perf_counter()
    for i, sc in enumerate(scs):
        steps += native.model_bench(sc, proto.knobs, runs, seed=seed + i)
        n += runs
    return Row("native-loop", n, steps, time.perf_counter() - t0)


@attrs.define
class BenchResult:
    protocol: str
    scenarios: int
    rows: list[Row]
    xdist: list[dict[str, Any]] = attrs.field(factory=list)

    def row(self, name: str) -> Row | None:
        return next((r for r in self.rows if r.backend == name), None)

    def ratios(self) -> dict[str, float]:
        py = self.row("python")
        out: dict[str, float] = {}
        if py is None or py.steps_per_second == 0:
            return out
        for r in self.rows:
            if r.backend != "python":
                out[f"{r.backend}/python steps/s"] = r.steps_per_second / py.steps_per_second
                out[f"{r.backend}/python schedules/s"] = (
                    r.schedules_per_second / py.schedules_per_second
                )
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "protocol": self.protocol,
            "scenarios": self.scenarios,
            "rows": [r.to_json() for r in self.rows],
            "ratios": {k: round(v, 2) for k, v in self.ratios().items()},
        }
        if self.xdist:
            out["xdist"] = self.xdist
        return out

    def text(self) -> str:
        lines = [
            f"protocol {self.protocol}, {self.scenarios} scenarios inside the C slice",
            f"{'backend':12} {'schedules':>10} {'steps':>12} {'seconds':>8} "
            f"{'steps/s':>14} {'schedules/s':>12}",
        ]
        for r in self.rows:
            lines.append(
                f"{r.backend:12} {r.schedules:>10,} {r.steps:>12,} {r.seconds:>8.2f} "
                f"{r.steps_per_second:>14,.0f} {r.schedules_per_second:>12,.0f}"
            )
        for k, v in self.ratios().items():
            lines.append(f"ratio {k}: {v:.1f}x")
        for x in self.xdist:
            lines.append(
                f"pytest -n {x['workers']}: {x['schedules']} schedules in {x['seconds']:.1f} s "
                f"= {x['schedules_per_second']:.1f} schedules/s (exit {x['returncode']})"
            )
        if len(self.xdist) == 2 and self.xdist[0]["schedules_per_second"] > 0:
            r = self.xdist[1]["schedules_per_second"] / self.xdist[0]["schedules_per_second"]
            lines.append(f"ratio pytest -n 2 / -n 1: {r:.2f}x")
        return "\n".join(lines)


#: Campaign tests timed by --xdist: tests/campaign/test_campaign.py's 2 tests x the random
#: and pct strategies.  The hypothesis ones are left out: their cost per schedule depends
#: on the seed, which pytest-xdist changes per worker (one -n 2 seed hit the tests' 120 s
#: cap before its budget), so they measure the seed, not the workers.
CAMPAIGN_TESTS = 4
CAMPAIGN_SELECT = "not hypothesis"


def bench_xdist(
    workers: int,
    budget: int,
    backend: str,
    tests: str = "tests/campaign",
    protocol: str = "v6.19+move.reset_err_on_retry=true",
) -> dict[str, Any]:
    """Run the pytest campaign with ``-n workers`` and a fixed budget in a subprocess; on
    a protocol where it finds nothing every test runs its whole budget."""
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-n",
        str(workers),
        tests,
        "-k",
        CAMPAIGN_SELECT,
        "--fuzzlock-protocol",
        protocol,
        "--fuzzlock-budget",
        str(budget),
        "--fuzzlock-backend",
        backend,
    ]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), check=False)
    el = time.perf_counter() - t0
    n = CAMPAIGN_TESTS * budget
    return {
        "workers": workers,
        "command": " ".join(cmd[1:]),
        "schedules": n,
        "seconds": round(el, 2),
        "schedules_per_second": round(n / el, 1) if el > 0 else 0.0,
        "returncode": p.returncode,
        "tail": (p.stdout.strip().splitlines() or [""])[-1],
    }


def run(
    proto: Protocol,
    n_scenarios: int = 20,
    runs: int = 50,
    native_runs: int = 2000,
    seed: int = 0,
    max_seconds: float = 30.0,
    xdist_budget: int | None = None,
    xdist_backend: str = "python",
    tests: str = "tests/campaign",
) -> BenchResult:
    scs = slice_scenarios(proto, n_scenarios, seed)
    rows = [
        bench_python(scs, proto, runs, seed, max_seconds),
        bench_native_call(scs, proto, runs, seed, max_seconds),
        bench_native_loop(scs, proto, native_runs, seed),
    ]
    res = BenchResult(proto.name, len(scs), rows)
    if xdist_budget is not None:
        if not Path(tests).exists():
            raise ValueError(f"--xdist: {tests} does not exist (run from the source tree)")
        res.xdist = [bench_xdist(w, xdist_budget, xdist_backend, tests) for w in (1, 2)]
    return res
