"""``fuzzlock detection``: how fast each search strategy catches each single-knob bug.

The settings (``settings()``):

* every single-knob setting off ``v6.18`` and off ``v6.19``: each knob value that differs
  from that protocol's own value (``fuzzlock protocols``), except ``move.reset_err_on_retry``;
* ``patch2-only``;
* **control** rows: ``v6.18`` and ``v6.19`` with no change: they must come out clean;
* **finding** rows: plain ``v6.18`` and ``v6.19`` without the fix knob, which violate
  ``move.result`` (the sticky -EAGAIN kernel bug, docs/findings/sticky-eagain.md).

Every row except the finding rows has ``move.reset_err_on_retry=true`` applied on top (the
later upstream fix of that kernel bug): without it every setting "is caught" by the same
finding.

For each (setting, strategy, seed) one ``campaign.hunt`` runs with the same budget
(``max_seconds`` wall seconds and ``max_schedules`` schedules per run) on the same backend,
without minimization; the tasks run in a process pool.  A run that finds a violation counts
the schedules and seconds (from the start of the hunt) up to the end of the **first**
violating schedule (``HuntResult.first_violation``; the hypothesis strategy goes on to
shrink, which is not counted).

Medians are over the seeds, a miss counting as +inf (no violation within the budget): with
5 seeds the median is finite iff at least 3 seeds caught the setting, and it is then the
3rd-fastest seed.  ``caught`` says how many seeds caught it, and ``median of caught`` is the
median over the catching seeds only (the optimistic number; the +inf median is the honest
one).
"""

from __future__ import annotations

import contextlib
import datetime
import fnmatch
import io
import math
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from fuzzlock import campaign, protocol

FIX: dict[str, protocol.KnobValue] = {"move.reset_err_on_retry": True}
BASES = ("v6.18", "v6.19")
#: the strategy the ``hunt`` command uses when none is given (docs/design.md#cli)
DEFAULT_STRATEGY = "hypothesis"
#: the issue's done criterion: a real bug is caught within this median on native
CRITERION_SECONDS = 60.0

DEFAULT_MAX_SECONDS = 10.0
DEFAULT_MAX_SCHEDULES = 1_000_000
DEFAULT_SEEDS = 5
QUICK_MAX_SECONDS = 2.0
QUICK_MAX_SCHEDULES = 300
QUICK_SEEDS = 2


@attrs.frozen
class Setting:
    """One row: a protocol and why it is in the table."""

    label: str  # e.g. "v6.18 walk.damon_lock=trylock", "v6.19 (control)"
    base: str
    knobs: tuple[tuple[str, protocol.KnobValue], ...]  # overrides, fix included
    kind: str  # "knob", "named", "control" or "finding"

    @property
    def protocol(self) -> protocol.Protocol:
        return protocol.get(self.base, dict(self.knobs))

    @property
    def expect(self) -> str:
        """What the row should show: "clean" (control), "move.result" (finding), "?"."""
        return {"control": "clean", "finding": "move.result"}.get(self.kind, "?")

    def matches(self, pattern: str) -> bool:
        return any(
            fnmatch.fnmatchcase(s, pattern) or pattern in s
            for s in (self.label, self.protocol.name)
        )


def strategies() -> tuple[str, ...]:
    """The strategies ``campaign.hunt`` implements in this build (``exhaustive`` too once
    the campaign has it)."""
    return tuple(campaign.STRATEGIES)


def settings() -> list[Setting]:
    """Every row of the table, in table order."""
    out = [Setting(f"{b} (control)", b, tuple(FIX.items()), "control") for b in BASES]
    out += [Setting(f"{b} (sticky -EAGAIN finding)", b, (), "finding") for b in BASES]
    out.append(Setting("patch2-only", "patch2-only", tuple(FIX.items()), "named"))
    for b in BASES:
        own = protocol.get(b).knobs
        for k in protocol.knobs():
            if k.name in FIX:
                continue
            for v in k.values:
                if v != own[k.name]:
                    label = f"{b} {k.name}={protocol._fmt(v)}"
                    out.append(Setting(label, b, (*FIX.items(), (k.name, v)), "knob"))
    return out


def select(patterns: Sequence[str]) -> list[Setting]:
    """The settings matching any of ``patterns`` (glob or substring of the label or of
    the protocol name); all of them if ``patterns`` is empty."""
    every = settings()
    if not patterns:
        return every
    return [s for s in every if any(s.matches(p) for p in patterns)]


# --------------------------------------------------------------------------- running


@attrs.frozen
class Task:
    index: int  # into the settings list
    base: str
    knobs: tuple[tuple[str, protocol.KnobValue], ...]
    strategy: str
    seed: int
    backend: str
    max_seconds: float
    max_schedules: int


def run_task(t: Task) -> dict[str, Any]:
    """One hunt, no minimization; what the table needs from it.  Runs in a worker."""
    proto = protocol.get(t.base, dict(t.knobs))
    err = io.StringIO()
    t0 = time.monotonic()
    with contextlib.redirect_stderr(err):
        res = campaign.hunt(
            proto,
            t.backend,
            t.strategy,
            t.max_seconds,
            t.max_schedules,
            t.seed,
            minimize_found=False,
        )
    wall = time.monotonic() - t0
    first = res.first_violation
    if res.verdict == "violation" and first is None:  # a strategy that does not count
        first = (res.schedules, res.seconds)
    out: dict[str, Any] = {
        "index": t.index,
        "strategy": t.strategy,
        "seed": t.seed,
        "verdict": res.verdict,
        "invariant": res.invariant,
        "schedules": res.schedules,
        "seconds": round(res.seconds, 3),
        "wall": round(wall, 3),
        "first_schedules": first[0] if first else None,
        "first_seconds": round(first[1], 4) if first else None,
    }
    if res.native_fraction is not None:
        out["native_fraction"] = round(res.native_fraction, 3)
    if res.found is not None:
        out["found_on"] = res.found.on
    stderr = err.getvalue().strip()
    if stderr:
        out["stderr"] = stderr.splitlines()[-1]
    return out


def _median(values: Sequence[float]) -> float:
    """The median, +inf allowed (a miss); nan for no values."""
    if not values:
        return math.nan
    s = sorted(values)
    n = len(s)
    if n % 2:
        return s[n // 2]
    lo, hi = s[n // 2 - 1], s[n // 2]
    return math.inf if math.inf in (lo, hi) else (lo + hi) / 2


@attrs.define
class Cell:
    """One (setting, strategy): the runs over the seeds."""

    strategy: str
    runs: list[dict[str, Any]] = attrs.field(factory=list)

    @property
    def caught(self) -> int:
        return sum(1 for r in self.runs if r["verdict"] == "violation")

    def _values(self, key: str) -> list[float]:
        return [
            float(r[key]) if r["verdict"] == "violation" else math.inf
            for r in sorted(self.runs, key=lambda r: r["seed"])
        ]

    @property
    def median_seconds(self) -> float:
        return _median(self._values("first_seconds"))

    @property
    def median_schedules(self) -> float:
        return _median(self._values("first_schedules"))

    @property
    def median_seconds_of_caught(self) -> float:
        return _median([v for v in self._values("first_seconds") if v != math.inf])

    @property
    def invariants(self) -> Counter[str]:
        return Counter(r["invariant"] for r in self.runs if r["verdict"] == "violation")

    def to_json(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if math.isinf(x) or math.isnan(x) else round(x, 4)

        return {
            "strategy": self.strategy,
            "seeds": len(self.runs),
            "caught": self.caught,
            "median_schedules": num(self.median_schedules),
            "median_seconds": num(self.median_seconds),
            "median_seconds_of_caught": num(self.median_seconds_of_caught),
            "invariants": dict(self.invariants),
            "runs": sorted(self.runs, key=lambda r: r["seed"]),
        }


@attrs.define
class Row:
    setting: Setting
    cells: dict[str, Cell]
    #: invariants recorded in the corpus as kernel findings of this row's own protocol
    known: dict[str, str] = attrs.field(factory=dict)
    #: invariants the base protocol (its control row, or a recorded kernel finding of it)
    #: violates: a knob row that finds only these has not shown that its knob matters
    baseline: frozenset[str] = frozenset()
    #: (runs that found a violation, runs) of the base's control row in this detection, if
    #: it ran: a row that finds only baseline invariants but significantly more often than
    #: the control has shown that its knob matters (a new bug with the same symptom)
    baseline_rate: tuple[int, int] | None = None

    @property
    def violating_runs(self) -> tuple[int, int]:
        runs = [r for c in self.cells.values() for r in c.runs]
        return sum(r["verdict"] == "violation" for r in runs), len(runs)

    @property
    def caught_by_any(self) -> bool:
        return any(c.caught for c in self.cells.values())

    @property
    def invariants(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for c in self.cells.values():
            total.update(c.invariants)
        return total

    @property
    def status(self) -> str:
        """Control rows: "ok" (clean), "known finding" (only kernel findings recorded in
        the corpus for this protocol) or "FAIL".  Finding rows: "ok" (move.result found) or
        "FAIL".  Other rows: "caught", "caught (= control)" (only invariants the base
        protocol violates too, and not significantly more often than its control row:
        one-sided Fisher exact test at ABOVE_CONTROL_P) or "never caught"."""
        inv = set(self.invariants)
        if self.setting.kind == "control":
            if not inv:
                return "ok"
            return "known finding" if inv <= set(self.known) else "FAIL"
        if self.setting.kind == "finding":
            return "ok" if "move.result" in inv else "FAIL"
        if not inv:
            return "never caught"
        if not inv <= self.baseline:
            return "caught"
        if self.baseline_rate is not None and above_control(
            self.violating_runs, self.baseline_rate
        ):
            return "caught"
        return "caught (= control)"

    def to_json(self) -> dict[str, Any]:
        out = {
            "setting": self.setting.label,
            "protocol": self.setting.protocol.name,
            "kind": self.setting.kind,
            "expect": self.setting.expect,
            "status": self.status,
            "invariants": dict(self.invariants),
            "cells": {s: c.to_json() for s, c in self.cells.items()},
        }
        if self.known:
            out["known_findings"] = self.known
        if self.baseline:
            out["baseline"] = sorted(self.baseline)
        return out


@attrs.define
class Detection:
    rows: list[Row]
    strategies: tuple[str, ...]
    seeds: int
    backend: str
    backend_note: str
    jobs: int
    max_seconds: float
    max_schedules: int
    wall_seconds: float
    started: str
    machine: str
    command: str

    @property
    def controls_clean(self) -> bool:
        """No control row has a violation that is not a recorded kernel finding."""
        return all(r.status != "FAIL" for r in self.rows if r.setting.kind == "control")

    def never_caught(self) -> list[Row]:
        return [r for r in self.rows if r.setting.kind in ("knob", "named") and not r.invariants]

    def criterion(self) -> tuple[str, list[str]]:
        """The done criterion: every setting some strategy caught (a real bug; rows whose
        violations the control row shows too are left out) is caught by the default
        strategy within CRITERION_SECONDS median.  Returns (verdict, the settings that fail
        or cannot be decided)."""
        if DEFAULT_STRATEGY not in self.strategies:
            return f"not measured ({DEFAULT_STRATEGY} was not run)", []
        failing: list[str] = []
        undecided: list[str] = []
        for r in self.rows:
            if r.setting.kind not in ("knob", "named") or r.status != "caught":
                continue
            m = r.cells[DEFAULT_STRATEGY].median_seconds
            if m <= CRITERION_SECONDS:
                continue
            if self.max_seconds < CRITERION_SECONDS:
                undecided.append(r.setting.label)
            else:
                failing.append(r.setting.label)
        if failing:
            return "fails", failing + undecided
        if undecided:
            return (
                f"undecided: not caught in a median <= {self.max_seconds:g} s (the budget); "
                f"rerun these with --max-seconds {CRITERION_SECONDS:g}",
                undecided,
            )
        return "holds", []

    def to_json(self) -> dict[str, Any]:
        verdict, which = self.criterion()
        return {
            "command": self.command,
            "started": self.started,
            "machine": self.machine,
            "backend": self.backend,
            "backend_note": self.backend_note,
            "jobs": self.jobs,
            "strategies": list(self.strategies),
            "seeds": self.seeds,
            "max_seconds": self.max_seconds,
            "max_schedules": self.max_schedules,
            "wall_seconds": round(self.wall_seconds, 1),
            "controls_clean": self.controls_clean,
            "never_caught": [r.setting.label for r in self.never_caught()],
            "caught_as_control": [
                r.setting.label for r in self.rows if r.status == "caught (= control)"
            ],
            "criterion": {
                "strategy": DEFAULT_STRATEGY,
                "seconds": CRITERION_SECONDS,
                "verdict": verdict,
                "settings": which,
            },
            "rows": [r.to_json() for r in self.rows],
        }

    def text(self) -> str:
        """A markdown report: header, the table, never caught, the criterion."""
        lines = [
            f"$ {self.command}",
            f"fuzzlock detection, started {self.started}, {self.wall_seconds:.0f} s wall",
            f"machine: {self.machine}",
            f"backend: {self.backend} ({self.backend_note})",
            f"jobs: {self.jobs} worker processes; strategies: {', '.join(self.strategies)}; "
            f"seeds 1..{self.seeds}; budget per run: {self.max_seconds:g} s or "
            f"{self.max_schedules:,} schedules",
            "every row but the finding rows has move.reset_err_on_retry=true on top",
            "",
            "cell: caught/seeds, median seconds (median schedules) to the first violation, "
            "a miss counting as +inf ('-' when fewer than half caught; then the median of "
            "the caught seeds is in brackets)",
            "",
        ]
        head = ["setting", *self.strategies, "invariants", "status"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("| --- | " + " | ".join("---:" for _ in self.strategies) + " | --- | --- |")
        for r in self.rows:
            cells = [_fmt_cell(r.cells[s]) for s in self.strategies]
            inv = ", ".join(f"{k} x{n}" for k, n in sorted(r.invariants.items())) or "-"
            lines.append(f"| {r.setting.label} | " + " | ".join(cells) + f" | {inv} | {r.status} |")
        never = self.never_caught()
        lines.append("")
        if never:
            lines.append(f"never caught by any strategy ({len(never)}):")
            lines += [f"  {r.setting.label}" for r in never]
        else:
            lines.append("every setting was caught by some strategy")
        same = [r for r in self.rows if r.status == "caught (= control)"]
        if same:
            lines.append(
                f"caught only with invariants the base protocol violates too ({len(same)}; "
                "that the knob matters is not shown):"
            )
            lines += [f"  {r.setting.label}" for r in same]
        for r in self.rows:
            for inv, where in sorted(r.known.items()) if r.setting.kind == "control" else ():
                lines.append(
                    f"recorded kernel finding of {r.setting.protocol.name}: {inv} ({where})"
                )
        lines.append(
            "controls: "
            + (
                "clean apart from recorded kernel findings"
                if self.controls_clean
                else "NOT CLEAN: a violation that is no recorded kernel finding (a model or "
                "kernel bug)"
            )
        )
        verdict, which = self.criterion()
        lines.append(
            f"criterion (every caught setting caught by {DEFAULT_STRATEGY} in a median "
            f"<= {CRITERION_SECONDS:g} s): {verdict}" + (f": {', '.join(which)}" if which else "")
        )
        return "\n".join(lines)


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


def _fmt_cell(c: Cell) -> str:
    n = len(c.runs)
    if not c.caught:
        return f"0/{n}"
    m = c.median_seconds
    if math.isinf(m):
        return f"{c.caught}/{n} - ({_secs(c.median_seconds_of_caught)})"
    return f"{c.caught}/{n} {_secs(m)} ({c.median_schedules:,.0f})"


def _secs(x: float) -> str:
    if x < 0.1:
        return f"{x:.3f} s"
    if x < 10:
        return f"{x:.2f} s"
    return f"{x:.1f} s"


def machine() -> str:
    cpus = os.cpu_count() or 1
    return f"{platform.node() or '?'}: {cpus} vCPU, {platform.machine()}, Python {platform.python_version()}"


def _backend_names() -> tuple[str, ...]:
    from fuzzlock import backends

    return backends.names()


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


#: one-sided Fisher exact test level for "this row fails more often than its control"
ABOVE_CONTROL_P = 0.01


def fisher_greater(a: tuple[int, int], b: tuple[int, int]) -> float:
    """One-sided Fisher exact p-value that the rate a[0]/a[1] exceeds b[0]/b[1] by chance:
    the probability, with both margins fixed, of a table at least as extreme as observed."""
    k, n = a
    kb, nb = b
    total, hits = n + nb, k + kb
    denom = math.comb(total, n)
    p = 0.0
    for x in range(k, min(n, hits) + 1):
        p += math.comb(hits, x) * math.comb(total - hits, n - x) / denom
    return min(1.0, p)


def above_control(row: tuple[int, int], control: tuple[int, int]) -> bool:
    """The row's runs violate significantly more often than the control row's."""
    if row[1] == 0 or control[1] == 0:
        return False
    return fisher_greater(row, control) < ABOVE_CONTROL_P


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


# --------------------------------------------------------------------------- command line


def add_arguments(parser: Any) -> None:
    from fuzzlock import argtypes

    parser.add_argument(
        "--setting",
        action="append",
        metavar="PATTERN",
        help="only settings whose label or protocol name matches (glob or substring; "
        "repeatable; default: all)",
    )
    parser.add_argument(
        "--strategy",
        action="append",
        metavar="NAME",
        help="only this strategy (repeatable; default: every strategy the campaign has)",
    )
    parser.add_argument(
        "--backend",
        choices=_backend_names(),
        default=None,
        help="model to hunt on (default: native where it is built)",
    )
    parser.add_argument(
        "--seeds",
        type=argtypes.positive_int,
        default=None,
        help=f"seeds 1..N (default {DEFAULT_SEEDS})",
    )
    parser.add_argument(
        "--max-seconds",
        type=argtypes.positive_seconds,
        default=None,
        help=f"wall seconds per run (default {DEFAULT_MAX_SECONDS:g})",
    )
    parser.add_argument(
        "--max-schedules",
        type=argtypes.positive_int,
        default=None,
        help=f"schedules per run (default {DEFAULT_MAX_SCHEDULES:,})",
    )
    parser.add_argument(
        "--jobs",
        type=argtypes.positive_int,
        default=None,
        help="worker processes (default: number of CPUs)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small defaults for tests: {QUICK_SEEDS} seeds, {QUICK_MAX_SECONDS:g} s or "
        f"{QUICK_MAX_SCHEDULES} schedules per run",
    )
    parser.add_argument(
        "--corpus",
        default="corpora",
        metavar="DIR",
        help="where recorded kernel findings are looked up (default corpora)",
    )
    parser.add_argument(
        "--from-json",
        action="append",
        metavar="FILE",
        help="print the report of a saved run (--json-out) instead of running; the statuses "
        "are judged against the corpus as it is now; repeatable: later runs replace the "
        "cells of the (setting, strategy) pairs they ran (same backend, seeds and budget) "
        "(default: run the campaign)",
    )
    parser.add_argument("--list", action="store_true", help="list the settings and exit")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--json-out",
        metavar="FILE",
        type=argtypes.output_file,
        help="also write the JSON object to FILE, with the text on stdout (default: not written)",
    )


class BadArgs(ValueError):
    pass


def check_args(args: Any) -> tuple[list[Setting], list[str], int, float, int, int]:
    """Validated (settings, strategies, seeds, max_seconds, max_schedules, jobs)."""
    chosen = select(args.setting or [])
    if not chosen:
        raise BadArgs(f"--setting {' '.join(args.setting)}: matches no setting (see --list)")
    have = strategies()
    strats = list(dict.fromkeys(args.strategy or have))
    for s in strats:
        if s not in have:
            raise BadArgs(f"--strategy {s}: not one of {', '.join(have)}")
    seeds = args.seeds if args.seeds is not None else QUICK_SEEDS if args.quick else DEFAULT_SEEDS
    secs = args.max_seconds
    if secs is None:
        secs = QUICK_MAX_SECONDS if args.quick else DEFAULT_MAX_SECONDS
    scheds = args.max_schedules
    if scheds is None:
        scheds = QUICK_MAX_SCHEDULES if args.quick else DEFAULT_MAX_SCHEDULES
    jobs = args.jobs if args.jobs is not None else os.cpu_count() or 1
    if seeds <= 0 or secs <= 0 or scheds <= 0 or jobs <= 0:
        raise BadArgs("--seeds, --max-seconds, --max-schedules and --jobs must be positive")
    return chosen, strats, seeds, secs, scheds, jobs


def canonical_command(
    args: Any, strats: Sequence[str], seeds: int, secs: float, scheds: int, jobs: int
) -> str:
    """The command line with every effective value spelled out."""
    import shlex

    parts = ["fuzzlock", "detection"]
    for p in args.setting or []:
        parts += ["--setting", p]
    if args.strategy:
        for s in strats:
            parts += ["--strategy", s]
    if args.backend:
        parts += ["--backend", args.backend]
    parts += ["--seeds", str(seeds), "--max-seconds", f"{secs:g}"]
    parts += ["--max-schedules", str(scheds), "--jobs", str(jobs)]
    if args.json:
        parts.append("--json")
    if args.corpus != "corpora":
        parts += ["--corpus", args.corpus]
    if args.json_out:
        parts += ["--json-out", args.json_out]
    return shlex.join(parts)


def main(args: Any) -> int:
    """``fuzzlock detection``: 0 = the control rows are clean (apart from kernel findings
    recorded in the corpus) and the finding rows caught, 1 = not, 2 = bad arguments."""
    import json

    if args.from_json:
        objs = []
        for path in args.from_json:
            try:
                with open(path) as f:
                    objs.append(json.load(f))
            except (OSError, ValueError) as e:
                print(f"fuzzlock: error: --from-json {path}: {e}", file=sys.stderr)
                return 2
        try:
            res = from_json(merge_json(objs), args.corpus)
        except (ValueError, KeyError, TypeError) as e:
            what = " ".join(args.from_json)
            print(f"fuzzlock: error: --from-json {what}: {e}", file=sys.stderr)
            return 2
        print(json.dumps(res.to_json(), indent=1) if args.json else res.text())
        return 1 if any(r.status == "FAIL" for r in res.rows) else 0
    try:
        chosen, strats, seeds, secs, scheds, jobs = check_args(args)
        choose_backend(args.backend)
    except (BadArgs, ValueError) as e:
        print(f"fuzzlock: error: {e}", file=sys.stderr)
        return 2
    if args.list:
        for s in chosen:
            print(f"{s.kind:8} {s.label:55} {s.protocol.name}")
        return 0
    tty = sys.stderr.isatty() and not args.json

    def progress(line: str) -> None:
        if tty:
            print(f"\r{line}\033[K", end="", file=sys.stderr, flush=True)

    command = canonical_command(args, strats, seeds, secs, scheds, jobs)
    res = run(
        chosen, strats, seeds, secs, scheds, jobs, args.backend, command, progress, args.corpus
    )
    if tty:
        print(file=sys.stderr)
    print(json.dumps(res.to_json(), indent=1) if args.json else res.text())
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(res.to_json(), f, indent=1)
    bad = [r for r in res.rows if r.status == "FAIL"]
    return 1 if bad else 0
