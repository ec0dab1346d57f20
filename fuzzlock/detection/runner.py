"""Running the detection table: every (setting, strategy, seed) task in a process pool,
collected into a ``Detection`` with the corpus's known findings attached."""

from __future__ import annotations

import datetime
import os
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from fuzzlock import protocol
from fuzzlock.detection import BASES, FIX, Setting, Task, run_task, settings
from fuzzlock.detection.table import Cell, Detection, Row


def machine() -> str:
    cpus = os.cpu_count() or 1
    return f"{platform.node() or '?'}: {cpus} vCPU, {platform.machine()}, Python {platform.python_version()}"


def choose_backend(backend: str | None) -> tuple[str, str]:
    """(backend, a note saying why): native where the C model is built, else python."""
    if backend == "python":
        return "python", "chosen with --backend python"
    from fuzzlock import backends

    if backends.default_name() == "native":
        return "native", (
            "C model built; every strategy and every scenario op runs on it (hypothesis "
            "through the C chooser callback, exhaustive on the footprint build)"
        )
    why = backends.get("native").unavailable_reason()
    if backend == "native":
        raise ValueError(f"--backend native: the C model is not available: {why}")
    return "python", f"FALLBACK: the native backend is not built ({why}); every run on Python"


def run(
    chosen: Sequence[Setting],
    strats: Sequence[str],
    seeds: int,
    max_seconds: float,
    max_schedules: int,
    jobs: int,
    backend: str | None = None,
    command: str = "",
    progress: Callable[[str], None] | None = None,
    corpus_dir: str = "corpora",
) -> Detection:
    """Run every (setting, strategy, seed) task with ``jobs`` processes."""
    backend, note = choose_backend(backend)
    tasks = [
        Task(i, s.base, s.knobs, strat, seed, backend, max_seconds, max_schedules)
        for seed in range(1, seeds + 1)
        for i, s in enumerate(chosen)
        for strat in strats
    ]
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    t0 = time.monotonic()
    results = list(_map(tasks, jobs, progress))
    rows = [Row(s, {st: Cell(st) for st in strats}) for s in chosen]
    for r in results:
        rows[r["index"]].cells[r["strategy"]].runs.append(r)
    attach_baselines(rows, corpus_dir)
    return Detection(
        rows,
        tuple(strats),
        seeds,
        backend,
        note,
        jobs,
        max_seconds,
        max_schedules,
        time.monotonic() - t0,
        started,
        machine(),
        command,
    )


def attach_baselines(rows: Sequence[Row], corpus_dir: str) -> None:
    """Fill ``known`` (kernel findings recorded under ``corpus_dir`` for the row's own
    protocol) and ``baseline`` (what the base protocol with the fix violates: its control
    row's invariants in this run plus its recorded kernel findings)."""
    from fuzzlock import corpus

    base_bad: dict[str, set[str]] = {}
    base_rate: dict[str, tuple[int, int]] = {}
    for b in BASES:
        control = protocol.get(b, FIX)
        bad = set(corpus.known_findings(corpus_dir, control))
        for r in rows:
            if r.setting.kind == "control" and r.setting.base == b:
                bad |= set(r.invariants)
                base_rate[b] = r.violating_runs
        base_bad[b] = bad
    for r in rows:
        r.known = {
            inv: str(path)
            for inv, (path, _note) in corpus.known_findings(corpus_dir, r.setting.protocol).items()
        }
        if r.setting.kind == "knob":
            r.baseline = frozenset(base_bad.get(r.setting.base, set()))
            r.baseline_rate = base_rate.get(r.setting.base)


def _map(
    tasks: Sequence[Task], jobs: int, progress: Callable[[str], None] | None
) -> Iterable[dict[str, Any]]:
    def tick(i: int) -> None:
        if progress is not None:
            progress(f"{i}/{len(tasks)} runs done")

    if jobs <= 1:
        for i, t in enumerate(tasks, 1):
            yield run_task(t)
            tick(i)
        return
    import concurrent.futures
    import multiprocessing

    # spawn: no state (a loaded C library, Hypothesis) inherited from the parent
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
        futs = [pool.submit(run_task, t) for t in tasks]
        for i, f in enumerate(concurrent.futures.as_completed(futs), 1):
            yield f.result()
            tick(i)


def from_json(obj: dict[str, Any], corpus_dir: str = "corpora") -> Detection:
    """A saved run (``--json``/``--json-out``) back as a Detection; the statuses are judged
    again against the kernel findings recorded under ``corpus_dir`` now."""
    by_label = {s.label: s for s in settings()}
    rows: list[Row] = []
    for r in obj["rows"]:
        s = by_label.get(r["setting"])
        if s is None:
            raise ValueError(f"rows: unknown setting {r['setting']!r}")
        cells = {name: Cell(name, list(c["runs"])) for name, c in r["cells"].items()}
        rows.append(Row(s, cells))
    attach_baselines(rows, corpus_dir)
    return Detection(
        rows,
        tuple(obj["strategies"]),
        obj["seeds"],
        obj["backend"],
        obj["backend_note"],
        obj["jobs"],
        obj["max_seconds"],
        obj["max_schedules"],
        obj["wall_seconds"],
        obj["started"],
        obj["machine"],
        obj["command"],
    )


#: what two saved runs must share to be merged into one table
_MERGE_KEYS = ("backend", "seeds", "max_seconds", "max_schedules")


def merge_json(objs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Saved runs merged into one (``--from-json A --from-json B``): B's cells replace A's
    for each (setting, strategy) B ran, B's other rows and strategies are added.  Used to
    rerun one column or a few rows after a change without rerunning the table; the runs
    must share backend, seeds and budget (ValueError naming the field otherwise)."""
    if not objs:
        raise ValueError("nothing to merge")
    out = {k: v for k, v in objs[0].items() if k != "rows"}
    rows: dict[str, dict[str, Any]] = {}
    for r in objs[0]["rows"]:
        rows[r["setting"]] = {"setting": r["setting"], "cells": dict(r["cells"])}
    strats = list(objs[0]["strategies"])
    commands = [objs[0]["command"]]
    for i, o in enumerate(objs[1:], 2):
        for k in _MERGE_KEYS:
            if o[k] != out[k]:
                raise ValueError(f"run {i} has {k} {o[k]!r}, run 1 has {out[k]!r}")
        for r in o["rows"]:
            row = rows.setdefault(r["setting"], {"setting": r["setting"], "cells": {}})
            row["cells"].update(r["cells"])
        strats += [s for s in o["strategies"] if s not in strats]
        commands.append(o["command"])
        out["wall_seconds"] = out["wall_seconds"] + o["wall_seconds"]
    out["strategies"] = strats
    out["command"] = "\n$ ".join(commands)
    for row in rows.values():
        missing = [s for s in strats if s not in row["cells"]]
        if missing:
            raise ValueError(f"row {row['setting']!r} has no runs of {', '.join(missing)}")
    out["rows"] = list(rows.values())
    return out
