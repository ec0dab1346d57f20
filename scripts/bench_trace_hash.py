"""C batch and native hunt throughput of two or more builds of the C library, in one run.

How the cost of the per-run trace hash was measured (the text of every run of a C batch is
formatted and hashed for the distinct-traces count; see native/trace.c fl_sched_trace).
Each ``--lib NAME=WHAT`` is a build of ``libfuzzlock_native.so``: WHAT is the path of a
built library, or a git revision whose ``native/`` is compiled here with CMake's flags for
the library (``cc -std=c11 -O2 -DNDEBUG -fPIC -shared``), so that every revision is built
alike.  The Python code is this tree's for all of them.

* ``batch``: the libraries are loaded side by side in this process; the same
  ``--scenarios`` scenarios (``bench.slice_scenarios`` of ``bench.hunt_protocol``) are
  built in each, and every batch (``fl_model_hunt``, ``STRATEGY_RANDOM``,
  ``RANDOM_PREEMPTS``, ``--runs`` schedules, one seed per round and scenario)
  runs on every library in turn, in a rotating order, timed in CPU time of the thread
  (the machine may be shared: time spent descheduled is not counted).  Every library must
  report the same runs, steps and per-run trace hashes: the hashes are compared, batch by
  batch, with the first library's.
* ``hunt``: ``fuzzlock bench``'s hunt row (``campaign.hunt(..., "native", "random")`` on
  ``bench.hunt_protocol``, end to end) for ``--hunt-seconds``, in a subprocess with
  ``$FUZZLOCK_NATIVE_LIB`` set, ``--reps`` times per library in a rotating order;
  schedules per second of wall-clock time and per CPU second of the process.

Prints per library the schedules per CPU second of the batches, and the medians over the
hunt repetitions; for each library after the first, its ratios to the first (batch: total
CPU time; hunt: median of the per-repetition ratios).

    python scripts/bench_trace_hash.py --lib before=HEAD~1 --lib after=HEAD
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def build(rev: str, into: Path) -> Path:
    """Compile ``native/`` of git revision ``rev`` into ``into``/lib.so."""
    src = into / "src"
    src.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "native"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    sources = sorted(str(p) for p in (src / "native").glob("*.c"))
    lib = into / "libfuzzlock_native.so"
    cc = os.environ.get("CC", "cc")
    flags = ["-std=c11", "-O2", "-DNDEBUG", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror"]
    subprocess.run([cc, *flags, f"-I{src / 'native'}", "-o", str(lib), *sources, "-lm"], check=True)
    return lib


def bench_batches(libs: list[tuple[str, str]], args: argparse.Namespace) -> dict[str, Any]:
    from fuzzlock import bench, native, protocol
    from fuzzlock.native import _schema as native_schema
    from fuzzlock.native import hunt as native_hunt
    from fuzzlock.search.random import RANDOM_PREEMPTS

    proto = bench.hunt_protocol(protocol.get(args.protocol))
    scs = bench.slice_scenarios(proto, args.scenarios, args.seed)
    loaded = []
    for _name, path in libs:
        lib = ctypes.CDLL(path)  # RTLD_LOCAL: each library keeps its own symbols
        native_schema.declare(lib, native_schema.LIBRARY_GROUPS["native"])
        loaded.append(lib)
    models = []
    for sc in scs:
        enc, names = native.encode_model_scenario(sc, proto.knobs)
        arr = (ctypes.c_longlong * len(enc))(*enc)
        err = ctypes.create_string_buffer(256)
        ms = [lib.fl_model_new(arr, len(enc), names.encode(), err, len(err)) for lib in loaded]
        if all(ms):
            models.append((sc, ms))
    hashes = (ctypes.c_ulonglong * args.runs)()
    ndec = (ctypes.c_int * args.runs)()
    ns = [0] * len(libs)
    runs = [0] * len(libs)
    steps = [0] * len(libs)
    compared = 0
    for rnd in range(args.rounds):
        for i, (sc, ms) in enumerate(models):
            a = native_schema.HuntArgs()
            a.seed = rnd * 1_000_003 + i
            a.strategy = native_hunt.STRATEGY_RANDOM
            a.runs = args.runs
            a.max_steps = sc.max_steps
            a.npreempt = len(RANDOM_PREEMPTS)
            for k, p in enumerate(RANDOM_PREEMPTS):
                a.preempt[k] = p
            a.ndepth, a.depth[0], a.pct_k = 1, 2, 1
            ref: tuple[int, int, list[int]] | None = None
            start = (rnd + i) % len(libs)
            for j in list(range(start, len(libs))) + list(range(start)):
                out, res = native_schema.HuntOut(), native_schema.FlResult()
                t0 = time.thread_time_ns()
                loaded[j].fl_model_hunt(
                    ms[j],
                    ctypes.byref(a),
                    hashes,
                    ndec,
                    args.runs,
                    ctypes.byref(out),
                    ctypes.byref(res),
                )
                ns[j] += time.thread_time_ns() - t0
                runs[j] += out.runs
                steps[j] += out.steps
                got = (out.runs, out.steps, list(hashes[: out.runs]))
                if ref is None:
                    ref = got
                elif got != ref:
                    raise SystemExit(f"{libs[j][0]}: another batch (round {rnd}, scenario {i})")
            compared += ref[0] if ref is not None else 0
    for _sc, ms in models:
        for j, h in enumerate(ms):
            loaded[j].fl_model_free(h)
    return {
        name: {
            "schedules": runs[j],
            "steps": steps[j],
            "cpu_seconds": round(ns[j] / 1e9, 3),
            "schedules_per_cpu_second": round(runs[j] / (ns[j] / 1e9), 1),
        }
        for j, (name, _p) in enumerate(libs)
    } | {"runs_compared": compared}


def hunt_worker(args: argparse.Namespace) -> dict[str, Any]:
    from fuzzlock import bench, protocol

    proto = bench.hunt_protocol(protocol.get(args.protocol))
    row = bench.bench_hunt(proto, "native", args.seed, args.hunt_seconds)
    return {
        "schedules": row.schedules,
        "schedules_per_second": row.schedules_per_second,
        "schedules_per_cpu_second": row.schedules / row.cpu_seconds if row.cpu_seconds else 0.0,
        "note": row.note,
        "load": os.getloadavg()[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", action="append", default=[], metavar="NAME=PATH_OR_REV")
    ap.add_argument("--protocol", default="v6.19")
    ap.add_argument("--scenarios", type=int, default=20)
    ap.add_argument("--runs", type=int, default=32, help="schedules per C batch")
    ap.add_argument("--rounds", type=int, default=20, help="batches per scenario and library")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reps", type=int, default=5, help="hunts per library")
    ap.add_argument("--hunt-seconds", type=float, default=5.0)
    ap.add_argument("--hunt-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.hunt_worker:
        print(json.dumps(hunt_worker(args)))
        return
    if len(args.lib) < 2 or any("=" not in x for x in args.lib):
        ap.error("give at least two --lib NAME=PATH_OR_REV")
    with tempfile.TemporaryDirectory(prefix="fuzzlock-bench-hash-") as tmp:
        libs: list[tuple[str, str]] = []
        for k, spec in enumerate(args.lib):
            name, what = spec.split("=", 1)
            path = what if os.path.isfile(what) else str(build(what, Path(tmp) / str(k)))
            libs.append((name, os.path.abspath(path)))
        batch = bench_batches(libs, args)
        print(json.dumps({"batch": batch}), flush=True)
        hunts: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in libs}
        for rep in range(args.reps):
            for name, path in libs[rep % len(libs) :] + libs[: rep % len(libs)]:
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--hunt-worker",
                        f"--protocol={args.protocol}",
                        f"--seed={args.seed}",
                        f"--hunt-seconds={args.hunt_seconds}",
                    ],
                    env=dict(os.environ, FUZZLOCK_NATIVE_LIB=path),
                    capture_output=True,
                    text=True,
                    check=True,
                )
                r = json.loads(out.stdout.strip().splitlines()[-1])
                hunts[name].append(r)
                print(json.dumps({"hunt": name, "rep": rep, **r}), flush=True)
    first = libs[0][0]
    print(f"{'library':10} {'batch sched/CPU-s':>18} {'hunt sched/s':>14} {'hunt sched/CPU-s':>17}")
    for name, _ in libs:
        h = hunts[name]
        print(
            f"{name:10} {batch[name]['schedules_per_cpu_second']:>18,.0f} "
            f"{statistics.median(r['schedules_per_second'] for r in h):>14,.0f} "
            f"{statistics.median(r['schedules_per_cpu_second'] for r in h):>17,.0f}"
        )
    for name, _ in libs[1:]:
        b = batch[name]["schedules_per_cpu_second"] / batch[first]["schedules_per_cpu_second"]
        pairs = list(zip(hunts[first], hunts[name], strict=True))
        hw = statistics.median(
            y["schedules_per_second"] / x["schedules_per_second"] for x, y in pairs
        )
        hc = statistics.median(
            y["schedules_per_cpu_second"] / x["schedules_per_cpu_second"] for x, y in pairs
        )
        print(
            f"{name}/{first}: batch schedules per CPU-s {b:.3f}x; hunt schedules/s {hw:.3f}x, "
            f"per CPU-s {hc:.3f}x (medians of {len(pairs)} repetitions); per-run trace "
            f"hashes identical on {batch['runs_compared']:,} runs"
        )


if __name__ == "__main__":
    main()
