"""``fuzzlock hunt``: search scenarios and schedules for a violation, within a budget.

Strategies (DESIGN "Command line"):

* ``hypothesis`` (default): Hypothesis draws the scenario and every scheduling decision
  lazily, guided by ``target()`` toward preemptions inside critical sections, and shrinks
  a failure; fuzzlock's delta debugging then minimizes it further;
* ``random``: seeded random scenarios and random-walk schedules;
* ``pct``: seeded random scenarios, PCT schedules (depth 2 and 3); prints the PCT bound.

A violation comes back as a minimized corpus entry plus its text report.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from typing import Any

import attrs

from fuzzlock import model, scenario, strategies
from fuzzlock.protocol import Protocol
from fuzzlock.sched import PCTChooser, RandomChooser

STRATEGIES = ("hypothesis", "random", "pct")


@attrs.define
class Found:
    scenario: scenario.Scenario
    decisions: list[int]
    outcome: str
    seed: int | None


@attrs.define
class HuntResult:
    verdict: str  # "violation" or "clean"
    invariant: str | None
    protocol: Protocol
    backend: str
    strategy: str
    schedules: int
    steps: int
    seconds: float
    distinct: int
    found: Found | None = None
    entry: Any = None  # corpus.Entry of the minimized violation
    report: str | None = None
    notes: list[str] = attrs.field(factory=list)

    @property
    def schedules_per_second(self) -> float:
        return self.schedules / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verdict": self.verdict,
            "invariant": self.invariant,
            "protocol": self.protocol.to_json(),
            "backend": self.backend,
            "strategy": self.strategy,
            "schedules": self.schedules,
            "steps": self.steps,
            "seconds": round(self.seconds, 3),
            "schedules_per_second": round(self.schedules_per_second, 1),
            "distinct_traces": self.distinct,
        }
        if self.entry is not None:
            out["entry"] = self.entry.to_json()
            out["report"] = self.report
        if self.notes:
            out["notes"] = self.notes
        return out


class _Stats:
    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.schedules = 0
        self.steps = 0
        self.digests: set[str] = set()
        self.violations = 0
        self.start = time.monotonic()
        self.progress = progress
        self.last = self.start

    def add(self, r: model.ModelRun) -> None:
        self.schedules += 1
        self.steps += r.result.steps
        self.digests.add(r.digest)
        if r.violation is not None:
            self.violations += 1
        now = time.monotonic()
        if self.progress is not None and now - self.last >= 0.5:
            self.last = now
            el = now - self.start
            self.progress(
                f"schedules {self.schedules}  {self.schedules / el:,.0f}/s  "
                f"distinct traces {len(self.digests)}  violations {self.violations}"
            )

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.start


def hunt(
    proto: Protocol,
    backend: str = "python",
    strategy: str = "hypothesis",
    max_seconds: float = 60.0,
    max_schedules: int | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    minimize_found: bool = True,
) -> HuntResult:
    if backend != "python":
        raise ValueError(f"backend {backend!r} is not available (the C port is not built yet)")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy {strategy!r}: expected one of {', '.join(STRATEGIES)}")
    stats = _Stats(progress)
    notes: list[str] = []
    budget = max_schedules if max_schedules is not None else 10**9
    if strategy == "hypothesis":
        found = _hunt_hypothesis(proto, seed, budget, max_seconds, stats)
    else:
        found = _hunt_seeded(proto, strategy, seed, budget, max_seconds, stats, notes)
    res = HuntResult(
        "violation" if found else "clean",
        found.outcome if found else None,
        proto,
        backend,
        strategy,
        stats.schedules,
        stats.steps,
        stats.seconds,
        len(stats.digests),
        found,
        notes=notes,
    )
    if found is not None:
        res.entry, res.report = finish(found, proto, strategy, minimize_found)
    return res


def finish(found: Found, proto: Protocol, strategy: str, do_minimize: bool) -> tuple[Any, str]:
    """Minimize a failure and turn it into a corpus entry plus its report."""
    from fuzzlock import corpus, report
    from fuzzlock.minimize import minimize

    sc, dec, minimized = found.scenario, found.decisions, False
    if do_minimize:
        m = minimize(sc, proto, dec, found.outcome)
        sc, dec, minimized = m.scenario, m.decisions, True
    r = model.run(sc, proto, decisions=dec)
    entry = corpus.entry_from_run(
        sc,
        proto,
        r,
        strategy=strategy,
        seed=found.seed,
        minimized=minimized,
        note=f"{found.outcome} found by {strategy}",
    )
    text = report.render_text(r.result, protocol=proto.name, replay=replay_command(entry))
    return entry, text


def replay_command(entry: Any, path: Any = None) -> str:
    """The command that replays ``entry`` (saved at ``path``, or where ``--save corpora``
    would put it)."""
    from fuzzlock import corpus

    where = path if path is not None else corpus.entry_path("corpora", entry)
    return f"fuzzlock replay {where}"


def _hunt_seeded(
    proto: Protocol,
    strategy: str,
    seed: int,
    budget: int,
    max_seconds: float,
    stats: _Stats,
    notes: list[str],
) -> Found | None:
    rng = random.Random(seed)
    pct_k: list[int] = []
    while stats.schedules < budget and stats.seconds < max_seconds:
        sc_seed = rng.randrange(2**32)
        sc = strategies.gen_scenario(strategies.RandomSource(random.Random(sc_seed)))
        run_seed = rng.randrange(2**32)
        if strategy == "random":
            chooser: Any = RandomChooser(run_seed, preempt=rng.choice((0.05, 0.2, 0.5, 1.0)))
        else:
            depth = rng.choice((2, 3))
            k = max(pct_k[-50:], default=60) if pct_k else 60
            chooser = PCTChooser(run_seed, len(sc.threads), depth=depth, k=max(k, 1))
        try:
            r = model.run(sc, proto, chooser=chooser)
        except model.SetupError:
            # the setup alone breaks this protocol (a knob broken even sequentially):
            # no interleaving to explore; the threads' ops will show it
            continue
        stats.add(r)
        if strategy == "pct":
            pct_k.append(len(r.result.decisions))
        if r.violation is not None:
            _pct_note(strategy, pct_k, stats, notes)
            return Found(sc, r.result.trimmed_decisions(), r.outcome, seed)
    _pct_note(strategy, pct_k, stats, notes)
    return None


def _pct_note(strategy: str, pct_k: list[int], stats: _Stats, notes: list[str]) -> None:
    if strategy != "pct" or not pct_k:
        return
    k = max(pct_k)
    n = 6
    for d in (2, 3):
        p = PCTChooser.miss_probability_bound(n, k, d)
        miss = (1 - p) ** (stats.schedules / 2)
        notes.append(
            f"PCT depth {d}: per-run bound 1/(n k^(d-1)) = 1/({n}*{k}^{d - 1}) = {p:.2e}; "
            f"a depth-{d} bug in one scenario is missed in {stats.schedules // 2} runs with "
            f"probability <= {miss:.3f}"
        )


class _Stop(Exception):
    pass


def _hunt_hypothesis(
    proto: Protocol, seed: int, budget: int, max_seconds: float, stats: _Stats
) -> Found | None:
    from hypothesis import HealthCheck, Phase, given, reject, settings, target
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    from fuzzlock.sched import HypothesisChooser

    failures: list[Found] = []
    deadline = time.monotonic() + max_seconds

    @settings(
        max_examples=min(budget, 10**6),
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate, Phase.target, Phase.shrink],
        report_multiple_bugs=False,
    )
    @hseed(seed)
    @given(st.data())
    def prop(data: st.DataObject) -> None:
        if not failures and (time.monotonic() > deadline or stats.schedules >= budget):
            raise _Stop
        sc = strategies.gen_scenario(strategies.HypothesisSource(data))
        try:
            r = model.run(sc, proto, chooser=HypothesisChooser(data, n_threads=len(sc.threads)))
        except model.SetupError:
            reject()
        if not failures or len(failures) < 10_000:
            stats.add(r)
        target(float(strategies.contention(r.result)), label="preemptions in critical sections")
        if r.violation is not None:
            failures.append(Found(sc, r.result.trimmed_decisions(), r.outcome, seed))
            raise AssertionError(r.outcome)

    try:
        prop()
    except _Stop:
        return None
    except AssertionError:
        pass
    except Exception as e:  # a Hypothesis wrapper of _Stop (e.g. flaky) ends the hunt too
        if not failures:
            print(f"fuzzlock: hypothesis ended the search: {type(e).__name__}", file=sys.stderr)
            return None
    if not failures:
        return None
    # Hypothesis replays the shrunk example last; keep the original invariant
    first = failures[0].outcome
    same = [f for f in failures if f.outcome == first]
    return same[-1]
