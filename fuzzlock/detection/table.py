"""The detection table: one ``Cell`` per (setting, strategy), one ``Row`` per setting,
the ``Detection`` table with its text and JSON, and the statistics that compare a row with
its control row."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import attrs

from fuzzlock.detection import CRITERION_SECONDS, DEFAULT_STRATEGY, Setting


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
