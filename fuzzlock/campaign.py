"""``fuzzlock hunt``: search scenarios and schedules for a violation, within a budget.

Strategies (DESIGN "Command line"):

* ``hypothesis`` (default): Hypothesis draws the scenario and every scheduling decision
  lazily (generate phase only: no ``target()`` hill climbing, see ``_hunt_hypothesis``)
  and shrinks a failure; fuzzlock's delta debugging then minimizes it further;
* ``random``: seeded random scenarios and random-walk schedules;
* ``pct``: seeded random scenarios, PCT schedules (depth 2 and 3); prints the PCT bound.

Backends: ``python`` runs every schedule on the reference model; ``native`` runs the
``random`` and ``pct`` strategies on the C model (``fuzzlock.native.run_model``) whenever the
scenario is inside the C slice, and on Python otherwise (counted: ``native_fraction``).  The
C model takes a decision list, not a callback chooser, so its schedules are pre-drawn in
Python with the same decision rule (``order[c % len(order)]``, 0 = stay): ``random`` draws
each decision as "stay" with probability ``1 - preempt`` and else uniformly (modulo the
number of enabled threads); ``pct`` (which needs each decision point's ``order``) becomes a
preemption-bounded random schedule of the same depth: ``depth - 1`` preemptions at random
decision points among the first ``k``.  A violation found on C is replayed on the Python
model (same decisions); a different outcome is reported as the ``differential`` invariant
with the first differing event, the same outcome is minimized by the Python minimizer.  The
``hypothesis`` strategy always runs on Python (its chooser draws lazily from Hypothesis).

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
BACKENDS = ("python", "native")
DIFFERENTIAL = "differential"


def native_model_available() -> bool:
    """True iff the C library is built and has the C model (``fl_model_new``)."""
    from fuzzlock import native

    try:
        native._model_lib()
    except (native.NativeUnavailableError, OSError):
        return False
    return True


@attrs.define
class Found:
    scenario: scenario.Scenario
    decisions: list[int]
    outcome: str
    seed: int | None
    on: str = "python"  # the backend whose run found it ("native" = the C model)


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
    native_runs: int = 0  # schedules run on the C model (backend "native")
    python_runs: int = 0  # schedules of a native hunt that ran on Python (outside the slice)
    # (schedules, seconds) when the first violating schedule finished; the totals above
    # also count the hypothesis strategy's shrinking (fuzzlock.detection measures this)
    first_violation: tuple[int, float] | None = None

    @property
    def native_fraction(self) -> float | None:
        n = self.native_runs + self.python_runs
        return self.native_runs / n if n else None

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
        if self.backend == "native":
            nf = self.native_fraction
            out["native_fraction"] = round(nf, 4) if nf is not None else None
            out["native_schedules"] = self.native_runs
            out["python_schedules"] = self.python_runs
        if self.found is not None:
            out["found_on"] = self.found.on
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
        self.first_violation: tuple[int, float] | None = None

    def add(self, r: model.ModelRun) -> None:
        self.add_raw(r.result.steps, r.digest, r.violation is not None)

    def add_raw(self, steps: int, digest: str, violation: bool) -> None:
        self.schedules += 1
        self.steps += steps
        self.digests.add(digest)
        now = time.monotonic()
        if violation:
            self.violations += 1
            if self.first_violation is None:
                self.first_violation = (self.schedules, now - self.start)
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
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if backend == "native" and not native_model_available():
        from fuzzlock import native

        why = native.unavailable_reason() or "the C library has no model (fl_model_new)"
        raise ValueError(f"backend 'native' is not available: {why}")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy {strategy!r}: expected one of {', '.join(STRATEGIES)}")
    stats = _Stats(progress)
    notes: list[str] = []
    counts = [0, 0]  # schedules run on C, on Python (native backend only)
    budget = max_schedules if max_schedules is not None else 10**9
    diff: _Differential | None = None
    if strategy == "hypothesis":
        if backend == "native":
            notes.append(
                "strategy hypothesis runs on the Python model (its chooser draws lazily from "
                "Hypothesis, which the C model cannot call back); use --strategy random or "
                "pct for the C model"
            )
        found = _hunt_hypothesis(proto, seed, budget, max_seconds, stats)
        if backend == "native":
            counts[1] = stats.schedules
    elif backend == "native":
        found, diff = _hunt_native(proto, strategy, seed, budget, max_seconds, stats, notes, counts)
    else:
        found = _hunt_seeded(proto, strategy, seed, budget, max_seconds, stats, notes)
    if diff is not None:
        # the backends disagree: report that, unminimized (the Python replay is the truth)
        notes.append(diff.message)
        found = diff.found
    res = HuntResult(
        "violation" if found else "clean",
        DIFFERENTIAL if diff is not None else (found.outcome if found else None),
        proto,
        backend,
        strategy,
        stats.schedules,
        stats.steps,
        stats.seconds,
        len(stats.digests),
        found,
        report=diff.message if diff is not None else None,
        notes=notes,
        native_runs=counts[0],
        python_runs=counts[1],
        first_violation=stats.first_violation,
    )
    if found is not None and diff is None:
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


#: Pre-drawn decisions are uniform in [0, _LCM): lcm(1..16), so ``c % len(order)`` is
#: uniform for up to 16 enabled threads.
_LCM = 720720


@attrs.define
class _Differential:
    found: Found
    message: str


def first_difference(a: list[Any], b: list[Any]) -> str:
    """One line naming the first event where traces ``a`` (Python) and ``b`` (C) differ."""
    from fuzzlock import trace

    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return (
                f"event {i}: python {trace.canonical([x]).strip()!r}, "
                f"C {trace.canonical([y]).strip()!r}"
            )
    if len(a) != len(b):
        return f"event {min(len(a), len(b))}: python has {len(a)} events, C {len(b)}"
    return "the traces are equal"


def predraw_random(rng: random.Random, n: int, preempt: float) -> list[int]:
    """``n`` decisions of the random chooser's rule without ``order``: 0 (stay) with
    probability ``1 - preempt``, else uniform."""
    if preempt >= 1.0:
        return [rng.randrange(_LCM) for _ in range(n)]
    return [rng.randrange(_LCM) if rng.random() < preempt else 0 for _ in range(n)]


def predraw_pct(rng: random.Random, n: int, n_threads: int, depth: int, k: int) -> list[int]:
    """A preemption-bounded schedule of PCT's depth: a random first thread, then ``depth - 1``
    preemptions at random decision points among the first ``k``."""
    out = [0] * max(n, 1)
    out[0] = rng.randrange(_LCM)
    for p in rng.sample(range(1, max(k, depth) + 1), depth - 1):
        if p < len(out):
            out[p] = rng.randrange(1, max(n_threads, 2))
    return out


def run_native(
    sc: scenario.Scenario, proto: Protocol, decisions: list[int]
) -> tuple[str, list[Any], list[int], bool]:
    """Run one schedule on the C model: ``(outcome, events, decisions, violation?)``.
    Raises native.NativeSetupError / native.NativeError like ``native.run_model``."""
    from fuzzlock import native

    outcome, events, decs, _pre, viol = native.run_model(sc, proto.knobs, decisions)
    return outcome, events, decs, viol is not None


def confirm_on_python(
    sc: scenario.Scenario, proto: Protocol, decisions: list[int], outcome: str, events: list[Any]
) -> str | None:
    """Replay a C run's decisions on the Python model; None if the outcome is the same,
    else a one-line ``differential`` message with the first differing event."""
    try:
        r = model.run(sc, proto, decisions=decisions)
    except model.SetupError as e:
        return f"differential: C ran the schedule to {outcome}, python's setup failed: {e}"
    if r.outcome == outcome:
        return None
    return (
        f"differential: C outcome {outcome}, python outcome {r.outcome}; first difference: "
        f"{first_difference(r.result.events, events)}"
    )


def _hunt_native(
    proto: Protocol,
    strategy: str,
    seed: int,
    budget: int,
    max_seconds: float,
    stats: _Stats,
    notes: list[str],
    counts: list[int],
) -> tuple[Found | None, _Differential | None]:
    """``_hunt_seeded`` on the C model: the same scenarios (same seed), pre-drawn
    schedules; a scenario outside the C slice runs on Python with the Python chooser."""
    from fuzzlock import native, trace

    rng = random.Random(seed)
    pct_k: list[int] = []
    recent = 64  # decision points of recent C runs: how many decisions to pre-draw
    outside: dict[str, int] = {}
    found: Found | None = None
    diff: _Differential | None = None
    while stats.schedules < budget and stats.seconds < max_seconds:
        sc_seed = rng.randrange(2**32)
        sc = strategies.gen_scenario(strategies.RandomSource(random.Random(sc_seed)))
        run_seed = rng.randrange(2**32)
        n_pre = min(sc.max_steps, 2 * recent + 16)
        if strategy == "random":
            preempt = rng.choice((0.05, 0.2, 0.5, 1.0))
            chooser: Any = RandomChooser(run_seed, preempt=preempt)
            pre = predraw_random(random.Random(run_seed), n_pre, preempt)
        else:
            depth = rng.choice((2, 3))
            k = max(pct_k[-50:], default=60) if pct_k else 60
            chooser = PCTChooser(run_seed, len(sc.threads), depth=depth, k=max(k, 1))
            pre = predraw_pct(random.Random(run_seed), n_pre, len(sc.threads), depth, max(k, 1))
        try:
            outcome, events, decs, violated = run_native(sc, proto, pre)
        except native.NativeSetupError:
            continue
        except native.NativeError as e:
            key = str(e).split(": ", 1)[-1]
            outside[key] = outside.get(key, 0) + 1
            try:
                r = model.run(sc, proto, chooser=chooser)
            except model.SetupError:
                continue
            counts[1] += 1
            stats.add(r)
            if strategy == "pct":
                pct_k.append(len(r.result.decisions))
            if r.violation is not None:
                found = Found(sc, r.result.trimmed_decisions(), r.outcome, seed)
                break
            continue
        counts[0] += 1
        recent = max(16, (recent + len(decs)) // 2) if len(decs) < recent else len(decs)
        stats.add_raw(len(events), trace.digest(events), violated)
        if strategy == "pct":
            pct_k.append(len(decs))
        if violated:
            dec = list(decs)
            while dec and dec[-1] == 0:
                dec.pop()
            msg = confirm_on_python(sc, proto, dec, outcome, events)
            if msg is not None:
                diff = _Differential(Found(sc, dec, DIFFERENTIAL, seed, "native"), msg)
            else:
                found = Found(sc, dec, outcome, seed, "native")
            break
    _pct_note(strategy, pct_k, stats, notes)
    if strategy == "pct":
        notes.append(
            "native pct: schedules are pre-drawn (the C model takes a decision list), so C "
            "runs are preemption-bounded random schedules of PCT's depth; the bound above "
            "holds for the schedules that ran on Python"
        )
    if outside:
        top = sorted(outside.items(), key=lambda kv: -kv[1])[:3]
        notes.append(
            "ran on Python (outside the C slice): " + "; ".join(f"{n}x {why}" for why, n in top)
        )
    return found, diff


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
    from hypothesis import HealthCheck, Phase, given, reject, settings
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
        # no Phase.target: with max_examples this large its first hill-climbing pass may
        # take up to max_examples // 8 examples; targeting "preemptions in critical
        # sections" spent whole budgets polishing one scenario and caught fewer knob
        # bugs than plain generation (docs/detection.md)
        phases=[Phase.generate, Phase.shrink],
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
