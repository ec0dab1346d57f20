"""``fuzzlock bench``: how fast the C model runs the same scenarios as the Python model.

One run measures, on the same scenarios (seeded, drawn by ``fuzzlock.scenarios`` and kept
when they are inside the C slice and their setup runs):

* ``python``: ``fuzzlock.model.run`` with a seeded random chooser, one schedule per call;
* ``native-call``: ``fuzzlock.native.run_model`` once per schedule (pre-drawn random
  decisions): what ``fuzzlock hunt --backend native`` pays, ctypes, encoding and trace
  parsing included;
* ``native-loop``: ``fuzzlock.native.model_bench``: many seeded random schedules in one C
  call (the engine alone);

and the hunt as users run it, end to end (scenario generation, encoding, the C batches,
progress bookkeeping), on the bench's protocol with ``move.reset_err_on_retry=true`` (the
later upstream fix of the known kernel finding, so the hunt searches rather than stopping at
that bug), ``--strategy random``, for ``--hunt-seconds``:

* ``hunt-python``: ``campaign.hunt(..., backend="python")``;
* ``hunt``: ``campaign.hunt(..., backend="native")`` (``fuzzlock.native.hunt`` batches).

Each row prints scheduling steps and schedules per second of wall-clock time and steps per
CPU second of the process (the machine may be shared: CPU time is what one core did), and
the ratios to Python.

``--xdist SECONDS`` also runs the pytest campaign (``tests/campaign``, random and pct: 4
tests) with ``-n 1`` and ``-n 2`` as subprocesses, each test for a fixed wall-clock time
(``--fuzzlock-seconds``), and counts the schedules every test did (``--junitxml``
properties written by ``fuzzlock_config.report``).  Throughput is the total of schedules
over the campaign's span (first test start to last test end, across workers: xdist start-up
and collection are outside it, an idle worker is inside it); ``--xdist-rounds`` repeats the
pair (-n 1, -n 2, -n 1, ...) and reports every round's ratio, with the load average before
each run.  On a shared machine the workers may not get two cores: each run also reports the
CPU seconds its hunts got (``cores_used`` = CPU seconds / span) and the schedules per CPU
second, whose ratio says how well the work itself scales.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import attrs

from fuzzlock import campaign, model, scenario, scenarios
from fuzzlock.protocol import Protocol
from fuzzlock.sched import RandomChooser


@attrs.define
class Row:
    backend: str
    schedules: int
    steps: int
    seconds: float
    cpu_seconds: float = 0.0  # process CPU time over the same interval
    note: str = ""

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else 0.0

    @property
    def schedules_per_second(self) -> float:
        return self.schedules / self.seconds if self.seconds > 0 else 0.0

    @property
    def steps_per_cpu_second(self) -> float:
        return self.steps / self.cpu_seconds if self.cpu_seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        out = {
            "backend": self.backend,
            "schedules": self.schedules,
            "steps": self.steps,
            "seconds": round(self.seconds, 4),
            "cpu_seconds": round(self.cpu_seconds, 4),
            "steps_per_second": round(self.steps_per_second, 1),
            "schedules_per_second": round(self.schedules_per_second, 1),
            "steps_per_cpu_second": round(self.steps_per_cpu_second, 1),
        }
        if self.note:
            out["note"] = self.note
        return out


class _Clock:
    """Wall-clock and process CPU time since creation."""

    def __init__(self) -> None:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()

    def row(self, backend: str, schedules: int, steps: int) -> Row:
        wall = time.perf_counter() - self.wall0
        return Row(backend, schedules, steps, wall, time.process_time() - self.cpu0)


def slice_scenarios(proto: Protocol, n: int, seed: int = 0) -> list[scenario.Scenario]:
    """``n`` scenarios from the random strategy's generator that the C model can run
    (inside the C slice, setup runs) under ``proto``."""
    from fuzzlock import backends

    native = backends.get("native")
    rng = random.Random(seed)
    out: list[scenario.Scenario] = []
    for _ in range(200 * max(n, 1)):
        if len(out) >= n:
            break
        sc = scenarios.gen_scenario(scenarios.RandomSource(random.Random(rng.randrange(2**32))))
        try:
            native.run(sc, proto, [])
        except (backends.Unsupported, model.SetupError):  # outside the slice, or setup
            continue
        out.append(sc)
    return out


def bench_python(
    scs: list[scenario.Scenario], proto: Protocol, runs: int, seed: int, seconds: float
) -> Row:
    """Python model, ``runs`` random schedules per scenario (or until ``seconds``)."""
    n = steps = 0
    clock = _Clock()
    for i, sc in enumerate(scs):
        for j in range(runs):
            r = model.run(sc, proto, chooser=RandomChooser(seed * 1_000_003 + i * 1009 + j))
            n += 1
            steps += r.result.steps
        if time.perf_counter() - clock.wall0 > seconds:
            break
    return clock.row("python", n, steps)


def bench_native_call(
    scs: list[scenario.Scenario], proto: Protocol, runs: int, seed: int, seconds: float
) -> Row:
    """C model through ``Backend.run``, one call per schedule (pre-drawn decisions)."""
    from fuzzlock import backends
    from fuzzlock.search.random import predraw_random

    native = backends.get("native")
    n = steps = 0
    rng = random.Random(seed)
    clock = _Clock()
    for sc in scs:
        for _ in range(runs):
            pre = predraw_random(rng, 256, 1.0)
            n += 1
            steps += native.run(sc, proto, pre).steps
        if time.perf_counter() - clock.wall0 > seconds:
            break
    return clock.row("native-call", n, steps)


def bench_native_loop(scs: list[scenario.Scenario], proto: Protocol, runs: int, seed: int) -> Row:
    """C model, ``runs`` seeded random schedules per scenario in one C call each."""
    from fuzzlock.backends.native import NativeBackend

    native = NativeBackend()
    n = steps = 0
    clock = _Clock()
    for i, sc in enumerate(scs):
        steps += native.bench_loop(sc, proto, runs, seed=seed + i)
        n += runs
    return clock.row("native-loop", n, steps)


def hunt_protocol(proto: Protocol) -> Protocol:
    """``proto`` with ``move.reset_err_on_retry=true`` (what the hunt rows search)."""
    from fuzzlock import protocol

    return protocol.get(proto.base, {**dict(proto.overrides), "move.reset_err_on_retry": True})


def bench_hunt(proto: Protocol, backend: str, seed: int, seconds: float) -> Row:
    """``fuzzlock hunt --strategy random`` on ``hunt_protocol(proto)`` for ``seconds``, end
    to end (without minimizing: a violation ends the row early, with a note)."""
    clock = _Clock()
    res = campaign.hunt(
        hunt_protocol(proto),
        backend,
        "random",
        max_seconds=seconds,
        seed=seed,
        minimize_found=False,
    )
    row = clock.row("hunt" if backend == "native" else "hunt-python", res.schedules, res.steps)
    if res.verdict != "clean":
        row.note = f"stopped by {res.invariant} after {res.schedules} schedules"
    return row


@attrs.define
class BenchResult:
    protocol: str
    scenarios: int
    rows: list[Row]
    xdist: list[dict[str, Any]] = attrs.field(factory=list)
    hunt_protocol: str = ""
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)  # at the start

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
                if r.steps_per_cpu_second and py.steps_per_cpu_second:
                    out[f"{r.backend}/python steps/CPU-s"] = (
                        r.steps_per_cpu_second / py.steps_per_cpu_second
                    )
        hp, hn = self.row("hunt-python"), self.row("hunt")
        if hp is not None and hn is not None and hp.steps_per_second > 0:
            out["hunt/hunt-python steps/s"] = hn.steps_per_second / hp.steps_per_second
            if hp.steps_per_cpu_second > 0:
                out["hunt/hunt-python steps/CPU-s"] = (
                    hn.steps_per_cpu_second / hp.steps_per_cpu_second
                )
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "protocol": self.protocol,
            "hunt_protocol": self.hunt_protocol,
            "scenarios": self.scenarios,
            "load_average": [round(x, 2) for x in self.load_average],
            "rows": [r.to_json() for r in self.rows],
            "ratios": {k: round(v, 2) for k, v in self.ratios().items()},
        }
        if self.xdist:
            out["xdist"] = self.xdist
            out["xdist_ratios"] = [round(r, 3) for r in xdist_ratios(self.xdist)]
            out["xdist_ratios_per_cpu_second"] = [
                round(r, 3) for r in xdist_ratios(self.xdist, "schedules_per_cpu_second")
            ]
        return out

    def text(self) -> str:
        la = ", ".join(f"{x:.2f}" for x in self.load_average)
        lines = [
            f"protocol {self.protocol}, {self.scenarios} scenarios inside the C slice; "
            f"hunt rows on {self.hunt_protocol}; load average {la}",
            f"{'backend':12} {'schedules':>10} {'steps':>12} {'seconds':>8} "
            f"{'steps/s':>14} {'schedules/s':>12} {'steps/CPU-s':>14}",
        ]
        for r in self.rows:
            lines.append(
                f"{r.backend:12} {r.schedules:>10,} {r.steps:>12,} {r.seconds:>8.2f} "
                f"{r.steps_per_second:>14,.0f} {r.schedules_per_second:>12,.0f} "
                f"{r.steps_per_cpu_second:>14,.0f}" + (f"  ({r.note})" if r.note else "")
            )
        for k, v in self.ratios().items():
            lines.append(f"ratio {k}: {v:.1f}x")
        for x in self.xdist:
            lines.append(
                f"pytest -n {x['workers']} (round {x['round']}, load {x['load_average']}): "
                f"{x['schedules']:,} schedules in a {x['span_seconds']:.1f} s span = "
                f"{x['schedules_per_second']:,.0f} schedules/s "
                f"({x['tests']} tests x {x['seconds_per_test']} s, wall {x['wall_seconds']:.1f} s, "
                f"exit {x['returncode']}); the workers got {x['cores_used']:.2f} cores, "
                f"{x['schedules_per_cpu_second']:,.0f} schedules per CPU-s"
            )
        for i, q in enumerate(xdist_ratios(self.xdist)):
            lines.append(f"ratio pytest -n 2 / -n 1 (round {i + 1}): {q:.2f}x")
        for i, q in enumerate(xdist_ratios(self.xdist, "schedules_per_cpu_second")):
            lines.append(
                f"ratio per CPU second (round {i + 1}): {q:.2f}x, so -n 2 on 2 free cores "
                f"would do ~{2 * q:.2f}x -n 1"
            )
        return "\n".join(lines)


def xdist_ratios(runs: list[dict[str, Any]], key: str = "schedules_per_second") -> list[float]:
    """Per round: ``key`` (schedules/s, or schedules per CPU second) of ``-n 2`` over
    ``-n 1``."""
    out = []
    for rnd in sorted({x["round"] for x in runs}):
        by = {x["workers"]: x for x in runs if x["round"] == rnd}
        if 1 in by and 2 in by and by[1].get(key, 0) > 0:
            out.append(by[2][key] / by[1][key])
    return out


#: Campaign tests timed by --xdist: tests/campaign/test_campaign.py's 2 tests x the random
#: and pct strategies (4 tests: 2 per worker under -n 2).  The hypothesis ones are left out:
#: how many schedules Hypothesis does in a given time depends on its phase (generation,
#: targeting, shrinking) and so on the seed, which pytest-xdist changes per worker.
CAMPAIGN_TESTS = 4
CAMPAIGN_SELECT = "not hypothesis"


def _junit_runs(path: str) -> list[dict[str, float]]:
    """The ``fuzzlock_*`` properties of each test case of a junit XML file."""
    out = []
    for case in ET.parse(path).iter("testcase"):
        props = {
            p.get("name", "")[len("fuzzlock_") :]: p.get("value", "")
            for p in case.iter("property")
            if p.get("name", "").startswith("fuzzlock_") and p.get("name") != "fuzzlock_seed"
        }
        if "schedules" in props:
            out.append({k: float(v) for k, v in props.items()})
    return out


def bench_xdist(
    workers: int,
    seconds: float,
    backend: str,
    tests: str = "tests/campaign",
    protocol: str = "v6.19+move.reset_err_on_retry=true",
    round_: int = 1,
) -> dict[str, Any]:
    """Run the pytest campaign with ``-n workers``, each test for ``seconds`` of wall-clock
    time, in a subprocess; count the schedules all tests did (junit properties) and divide
    by the span from the first test's start to the last one's end."""
    with tempfile.TemporaryDirectory(prefix="fuzzlock-bench-") as tmp:
        junit = os.path.join(tmp, "junit.xml")
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
            "--fuzzlock-seconds",
            str(seconds),
            "--fuzzlock-backend",
            backend,
            "--junitxml",
            junit,
        ]
        load = os.getloadavg()
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), check=False)
        wall = time.perf_counter() - t0
        runs = _junit_runs(junit) if os.path.exists(junit) else []
    n = int(sum(r["schedules"] for r in runs))
    steps = int(sum(r["steps"] for r in runs))
    span = max(r["t1"] for r in runs) - min(r["t0"] for r in runs) if runs else 0.0
    cpu = sum(r.get("cpu_seconds", 0.0) for r in runs)
    busy: dict[int, float] = {}
    for r in runs:
        busy[int(r["worker"])] = busy.get(int(r["worker"]), 0.0) + r["seconds"]
    return {
        "workers": workers,
        "round": round_,
        "command": " ".join(cmd[1:-2]),
        "tests": len(runs),
        "seconds_per_test": seconds,
        "schedules": n,
        "steps": steps,
        "span_seconds": round(span, 3),
        "wall_seconds": round(wall, 2),
        "busy_seconds_per_worker": {str(k): round(v, 2) for k, v in sorted(busy.items())},
        "schedules_per_second": round(n / span, 1) if span > 0 else 0.0,
        "steps_per_second": round(steps / span, 1) if span > 0 else 0.0,
        # what the workers got of the machine: CPU seconds of the hunts, and per span second
        "cpu_seconds": round(cpu, 2),
        "cores_used": round(cpu / span, 2) if span > 0 else 0.0,
        "schedules_per_cpu_second": round(n / cpu, 1) if cpu > 0 else 0.0,
        "load_average": " ".join(f"{x:.2f}" for x in load),
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
    xdist_seconds: float | None = None,
    xdist_backend: str = "python",
    tests: str = "tests/campaign",
    hunt_seconds: float = 10.0,
    xdist_rounds: int = 1,
) -> BenchResult:
    load = os.getloadavg()
    scs = slice_scenarios(proto, n_scenarios, seed)
    rows = [
        bench_python(scs, proto, runs, seed, max_seconds),
        bench_native_call(scs, proto, runs, seed, max_seconds),
        bench_native_loop(scs, proto, native_runs, seed),
        bench_hunt(proto, "python", seed, hunt_seconds),
        bench_hunt(proto, "native", seed, hunt_seconds),
    ]
    res = BenchResult(proto.name, len(scs), rows, hunt_protocol=hunt_protocol(proto).name)
    res.load_average = load
    if xdist_seconds is not None:
        if not Path(tests).exists():
            raise ValueError(f"--xdist: {tests} does not exist (run from the source tree)")
        res.xdist = [
            bench_xdist(w, xdist_seconds, xdist_backend, tests, round_=r + 1)
            for r in range(xdist_rounds)
            for w in (1, 2)
        ]
    return res
