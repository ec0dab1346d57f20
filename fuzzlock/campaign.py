"""``fuzzlock hunt``: search scenarios and schedules for a violation, within a budget.

Strategies (docs/design.md#strategies):

* ``hypothesis`` (default): Hypothesis draws the scenario and every scheduling decision
  lazily (generate phase only: no ``target()`` hill climbing, see ``_hunt_hypothesis``)
  and shrinks a failure; fuzzlock's delta debugging then minimizes it further;
* ``random``: seeded random scenarios and random-walk schedules;
* ``pct``: seeded random scenarios, PCT schedules (depth 2 and 3); prints the PCT bound.

Backends: ``python`` runs every schedule on the reference model; ``native`` runs the
``random`` and ``pct`` strategies on the C model whenever the C model can run the scenario
(it implements every scenario op; only a scenario beyond its fixed capacities, e.g. more
than 8 mms, is refused) and on Python otherwise (counted: ``native_fraction``, 1.0 for every
scenario family of ``fuzzlock.strategies``).  Per generated scenario one C call
(``fuzzlock.native.hunt``, native/hunt.c) runs a batch of ``NATIVE_BATCH`` schedules (fewer
under a small schedule budget: ``BUDGET_SCENARIOS``) and stops at the first violation; the decisions are drawn in C at each decision point with the
same decision rule (``order[c % len(order)]``, 0 = stay): ``random`` draws each decision as
"stay" with probability ``1 - preempt`` (``preempt`` drawn per schedule) and else uniformly
among the enabled threads; ``pct`` runs ``choosers.PCTChooser`` itself (its C port, bit for
bit).  Distinct traces are counted by ``trace.hash64`` (computed in C) instead of the sha256
digest: the same traces, up to 64-bit collisions.  A violation found on C is replayed on the
Python model (same decisions); a different outcome is reported as the ``differential``
invariant with the first differing event, the same outcome is minimized by the Python
minimizer.  The ``hypothesis`` strategy runs on C too: the C model calls its chooser back
at each decision point (Hypothesis draws lazily); violations are confirmed on Python the
same way.

A violation comes back as a minimized corpus entry plus its text report.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from fuzzlock import model, scenario, strategies
from fuzzlock.protocol import Protocol
from fuzzlock.sched import PCTChooser, RandomChooser

STRATEGIES = ("hypothesis", "random", "pct", "exhaustive")
BACKENDS = ("python", "native")
DIFFERENTIAL = "differential"


def native_model_available() -> bool:
    """True iff the C library is built and has the C model (``fl_model_new``)."""
    from fuzzlock import native

    try:
        native.load_library()
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
    certificates: list[dict[str, Any]] = attrs.field(factory=list)  # strategy exhaustive
    cpu_seconds: float = 0.0  # process CPU time of the search (not in --json)
    # (schedules, seconds) when the first violating schedule finished; the totals above
    # also count the hypothesis strategy's shrinking (fuzzlock.detection measures this)
    first_violation: tuple[int, float] | None = None
    # the recorded kernel finding the minimized violation is (fuzzlock.findings.Match)
    finding: Any = None
    # the search ended because ``stop`` asked (a signal), not because the budget was spent
    # or a violation was found
    stopped: bool = False
    # False if ``stop`` cut the entry's minimization short (None: no entry)
    minimized: bool | None = None
    # the entry's run (a sched.RunResult), to render its report again (``render_report``)
    result: Any = None

    def render_report(self, replay: str) -> str:
        """The violation's text report with ``replay`` as its replay line."""
        from fuzzlock import report

        if self.result is None:
            raise ValueError("no violation to report")
        return report.render_text(self.result, protocol=self.protocol.name, replay=replay)

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
        if self.finding is not None:
            f = self.finding.finding
            out["known_finding"] = {"id": f.id, "doc": f.doc, "knob": self.finding.knob}
        if self.strategy == "exhaustive":
            out["certificates"] = self.certificates
        return out


class _Stats:
    def __init__(
        self, progress: Callable[[str], None] | None, stop: Callable[[], bool] | None = None
    ) -> None:
        self.stop = stop
        self.schedules = 0
        self.steps = 0
        self.digests: set[str | int] = set()  # trace.digest, or trace.hash64 (native)
        self.violations = 0
        self.start = time.monotonic()
        self.start_cpu = time.process_time()
        self.progress = progress
        self.last = self.start
        self.first_violation: tuple[int, float] | None = None

    def add(self, r: model.ModelRun) -> None:
        self.add_raw(r.result.steps, r.digest, r.violation is not None)

    def add_raw(self, steps: int, digest: str | int, violation: bool) -> None:
        self.add_batch(1, steps, (digest,), violation)

    def add_batch(
        self, runs: int, steps: int, digests: Iterable[str | int], violation: bool
    ) -> None:
        """``runs`` schedules with ``steps`` steps in all (a violation: the last one)."""
        self.schedules += runs
        self.steps += steps
        self.digests.update(digests)
        now = time.monotonic()
        if violation:
            self.violations += 1
            if self.first_violation is None:
                self.first_violation = (self.schedules, now - self.start)
        if self.progress is not None and now - self.last >= 0.5:
            self.last = now
            el = now - self.start
            self.progress(
                f"{el:.0f} s  schedules {self.schedules}  {self.schedules / el:,.0f}/s  "
                f"distinct traces {len(self.digests)}  violations {self.violations}"
            )

    @property
    def stopped(self) -> bool:
        """True once ``stop`` asks the search to end (every loop checks it with its budget)."""
        return self.stop is not None and self.stop()

    def spent(self, budget: int, max_seconds: float) -> bool:
        """The budget is spent, or a stop was asked for."""
        return self.schedules >= budget or self.seconds >= max_seconds or self.stopped

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.start

    @property
    def cpu_seconds(self) -> float:
        return time.process_time() - self.start_cpu


def hunt(
    proto: Protocol,
    backend: str = "python",
    strategy: str = "hypothesis",
    max_seconds: float = 60.0,
    max_schedules: int | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    minimize_found: bool = True,
    stop: Callable[[], bool] | None = None,
    replay: str | None = None,
) -> HuntResult:
    """Search for a violation within ``max_seconds`` and ``max_schedules``.

    ``stop`` (e.g. set by a signal handler) is checked with the budget: when it returns
    true the search ends as if the budget were spent (``HuntResult.stopped``), and the
    minimization of a violation found so far ends with the smallest failure it has
    (``HuntResult.minimized`` false).  ``replay`` is the report's replay line (default:
    a note that the entry is not saved)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if backend == "native" and not native_model_available():
        from fuzzlock import native

        why = native.unavailable_reason() or "the C library has no model (fl_model_new)"
        raise ValueError(f"backend 'native' is not available: {why}")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy {strategy!r}: expected one of {', '.join(STRATEGIES)}")
    if strategy == "exhaustive":  # generated scenarios, 2 preemptions (hunt_exhaustive)
        return hunt_exhaustive(
            proto,
            backend,
            2,
            None,
            max_seconds,
            max_schedules,
            seed,
            progress=progress,
            minimize_found=minimize_found,
            stop=stop,
            replay=replay,
        )
    stats = _Stats(progress, stop)
    notes: list[str] = []
    counts = [0, 0]  # schedules run on C, on Python (native backend only)
    budget = max_schedules if max_schedules is not None else 10**9
    diff: _Differential | None = None
    if strategy == "hypothesis":
        found, diff = _hunt_hypothesis(proto, seed, budget, max_seconds, stats, backend)
        if backend == "native":
            counts[0] = stats.schedules
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
        cpu_seconds=stats.cpu_seconds,
        first_violation=stats.first_violation,
        stopped=stats.stopped,
    )
    if found is not None and diff is None:
        _finish_into(res, found, minimize_found, stop, progress, replay)
    return res


#: the replay line of a report whose entry was not saved (``hunt(replay=...)`` overrides)
NOT_SAVED = "not saved (fuzzlock hunt --save DIR, or corpus.store.write_entry, writes the entry)"


@attrs.define
class Finished:
    """A minimized failure: its corpus entry, its run and its text report."""

    entry: Any  # corpus.Entry
    result: Any  # sched.RunResult of the entry's decisions
    report: str
    complete: bool  # False if ``stop`` cut the minimization short


def finish(
    found: Found,
    proto: Protocol,
    strategy: str,
    do_minimize: bool,
    stop: Callable[[], bool] | None = None,
    progress: Callable[[str], None] | None = None,
    replay: str | None = None,
) -> Finished:
    """Minimize a failure (until ``stop`` asks to end it) and turn it into a corpus entry
    plus its report (``replay`` as its replay line)."""
    from fuzzlock import corpus, report
    from fuzzlock.minimize import minimize

    sc, dec, minimized, complete = found.scenario, found.decisions, False, True
    if do_minimize:
        last = [0.0]

        def on_run(runs: int) -> None:
            now = time.monotonic()
            if progress is not None and now - last[0] >= 0.5:
                last[0] = now
                progress(f"minimizing the {found.outcome} violation: {runs} runs")

        if progress is not None:
            progress(f"minimizing the {found.outcome} violation")
        m = minimize(sc, proto, dec, found.outcome, stop=stop, on_run=on_run)
        sc, dec, minimized, complete = m.scenario, m.decisions, m.complete, m.complete
    r = model.run(sc, proto, decisions=dec)
    note = f"{found.outcome} found by {strategy}"
    if not complete:
        note += " (minimization cut short)"
    entry = corpus.entry_from_run(
        sc, proto, r, strategy=strategy, seed=found.seed, minimized=minimized, note=note
    )
    text = report.render_text(r.result, protocol=proto.name, replay=replay or NOT_SAVED)
    return Finished(entry, r.result, text, complete)


def _finish_into(
    res: HuntResult,
    found: Found,
    do_minimize: bool,
    stop: Callable[[], bool] | None,
    progress: Callable[[str], None] | None,
    replay: str | None,
) -> None:
    f = finish(found, res.protocol, res.strategy, do_minimize, stop, progress, replay)
    res.entry, res.report, res.result, res.minimized = f.entry, f.report, f.result, f.complete
    recognise(res)


def recognise(res: HuntResult) -> None:
    """If the violation's entry is a recorded kernel finding (``fuzzlock.findings``, matched
    on its trace, not on the invariant id), say which in ``res.notes`` (name, docs page,
    the knob that searches past it) and keep the match in ``res.finding``."""
    from fuzzlock import findings

    if res.entry is None:
        return
    m = findings.match_entry(res.entry)
    if m is not None:
        res.finding = m
        res.notes.append(m.note())


def replay_command(entry: Any, path: Any = None) -> str:
    """The command that replays ``entry`` saved at ``path`` (without a path: a note that
    it is not saved; naming where it would go would name a file that does not exist)."""
    import shlex

    if path is None:
        return NOT_SAVED
    return f"fuzzlock replay {shlex.quote(str(path))}"


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
    while not stats.spent(budget, max_seconds):
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


#: Schedules per generated scenario in a native hunt (``random``/``pct``): one C call
#: (``fuzzlock.native.hunt``) runs them.  Larger batches amortize generating, encoding and
#: loading a scenario (~0.3 ms, several C runs' worth); smaller ones keep scenarios
#: diverse.  Batches of 4 to 32 caught patch2-only and the single-knob settings of the
#: corpus equally fast (64 and more slower; README "Performance"); 32 runs the most steps/s.
NATIVE_BATCH = 32
#: Under a schedule budget (``max_schedules``) a batch is at most budget / this many
#: schedules, so a hunt of N schedules still tries ~min(N, 1000) scenarios: a budget counts
#: schedules, and some bugs need the right scenario more than the right interleaving.
BUDGET_SCENARIOS = 1000
#: Seeded random schedules the C model runs after each native Hypothesis example (see
#: ``_hunt_hypothesis``): about as long as Hypothesis's own work per example.  Measured
#: (scripts/hypothesis_batch.py, 3 seeds, median seconds to the first violation, one run
#: on the shared 2-vCPU VM): v6.19 free_handshake=false none in 30 s / 13.5 s / 4.5 s for
#: batch 0 / 32 / 128; v6.18 recheck_src_after_sleep=false 10.0 / 0.48 / 0.20 s; v6.19
#: cow.reuse_lock=none 3.19 / 0.23 / 0.30 s; v6.19 recheck_dst_under_ptl=false 2.90 /
#: 1.50 / 2.05 s.
HYPOTHESIS_NATIVE_BATCH = 128
#: The random strategy's preemption probabilities (one drawn per schedule).
RANDOM_PREEMPTS = (0.05, 0.2, 0.5, 1.0)
#: PCT depths (one drawn per schedule).
PCT_DEPTHS = (2, 3)


def _hunt_native(
    proto: Protocol,
    strategy: str,
    seed: int,
    budget: int,
    max_seconds: float,
    stats: _Stats,
    notes: list[str],
    counts: list[int],
    batch: int | None = None,
) -> tuple[Found | None, _Differential | None]:
    """``_hunt_seeded`` on the C model: the same scenario generator, and per scenario a
    batch of up to ``batch`` (default ``NATIVE_BATCH``, at most ``budget //
    BUDGET_SCENARIOS`` and at least 1) schedules in one C call
    (``fuzzlock.native.hunt``), whose decisions are drawn in C: ``random`` by the rule of
    ``predraw_random``, ``pct`` by ``PCTChooser``'s C port (``predraw_pct``'s rule on a
    library without it).  The batch stops at the first violation, which
    is replayed on Python (``differential`` on disagreement).  A scenario outside the C
    slice runs its schedules on Python with the Python chooser.

    Distinct traces are counted by ``trace.hash64`` (computed in C for C runs, in Python
    for the Python fallback): the same traces as the sha256 digest, up to 64-bit
    collisions."""
    from fuzzlock import native
    from fuzzlock.native import hunt as native_hunt

    per = batch if batch is not None else min(NATIVE_BATCH, max(1, budget // BUDGET_SCENARIOS))
    if per < 1:
        raise ValueError(f"batch {per}: expected >= 1")
    # pct: PCTChooser's C port; the preemption-bounded variant only for a library without it
    exact_pct = bool(native_hunt.strategies_built() & (1 << native_hunt.STRATEGY_PCT))
    code = native_hunt.STRATEGY_RANDOM
    if strategy == "pct":
        code = native_hunt.STRATEGY_PCT if exact_pct else native_hunt.STRATEGY_PCT_BOUNDED
    rng = random.Random(seed)
    pct_k: list[int] = []
    outside: dict[str, int] = {}
    found: Found | None = None
    diff: _Differential | None = None
    deadline = stats.start + max_seconds
    ns: native_hunt.NativeScenario | None = None  # one C model, reloaded per scenario
    try:
        while found is None and diff is None and not stats.spent(budget, max_seconds):
            sc_seed = rng.randrange(2**32)
            sc = strategies.gen_scenario(strategies.RandomSource(random.Random(sc_seed)))
            run_seed = rng.randrange(2**32)
            k = max(max(pct_k[-50:], default=60), 1)
            n = min(per, budget - stats.schedules)
            why = ""
            try:
                ns = native_hunt.NativeScenario(sc, proto.knobs, reuse=ns)
                b = ns.hunt(
                    run_seed,
                    code,
                    n,
                    preempts=RANDOM_PREEMPTS,
                    depths=PCT_DEPTHS,
                    pct_k=k,
                    deadline=deadline,
                )
            except native.NativeSetupError:
                continue
            except native.NativeError as e:
                why = str(e).split(": ", 1)[-1]
            else:
                counts[0] += b.runs
                stats.add_batch(b.runs, b.steps, b.hashes, b.violation is not None)
                if strategy == "pct":
                    pct_k.extend(b.ndecisions)
                if b.violation is not None:
                    v = b.violation
                    dec = _trimmed(v.decisions)
                    msg = confirm_on_python(sc, proto, dec, v.outcome, v.events)
                    if msg is not None:
                        diff = _Differential(Found(sc, dec, DIFFERENTIAL, seed, "native"), msg)
                    else:
                        found = Found(sc, dec, v.outcome, seed, "native")
                    break
                if b.error is None:
                    continue
                why = b.error.split(": ", 1)[-1]
                n -= b.runs
            # outside the C slice: this scenario's (remaining) schedules run on Python
            outside[why] = outside.get(why, 0) + 1
            found, ndec = _python_batch(
                sc, proto, strategy, run_seed, n, k, budget, max_seconds, stats
            )
            counts[1] += len(ndec)
            if found is not None:
                found.seed = seed
            if strategy == "pct":
                pct_k.extend(ndec)
    finally:
        if ns is not None:
            ns.close()
    _pct_note(strategy, pct_k, stats, notes)
    if strategy == "pct" and not exact_pct:
        notes.append(
            "native pct: the C loop draws preemption-bounded random schedules of PCT's "
            "depth (not PCT's priority schedules), so the bound above holds for the "
            "schedules that ran on Python"
        )
    if outside:
        top = sorted(outside.items(), key=lambda kv: -kv[1])[:3]
        notes.append(
            "ran on Python (outside the C slice): " + "; ".join(f"{n}x {why}" for why, n in top)
        )
    return found, diff


def _trimmed(decisions: Sequence[int]) -> list[int]:
    """A C run's decisions without trailing zeros (``RunResult.trimmed_decisions``)."""
    d = list(decisions)
    while d and d[-1] == 0:
        d.pop()
    return d


def _python_batch(
    sc: scenario.Scenario,
    proto: Protocol,
    strategy: str,
    run_seed: int,
    n: int,
    k: int,
    budget: int,
    max_seconds: float,
    stats: _Stats,
) -> tuple[Found | None, list[int]]:
    """Up to ``n`` schedules of ``sc`` on the Python model with the Python choosers (a
    native hunt's scenario outside the C slice), counted by ``trace.hash64`` like C runs:
    the violation found, if any, and each run's number of decisions."""
    from fuzzlock import trace

    rng = random.Random(run_seed)
    ndec: list[int] = []
    for _ in range(n):
        if stats.spent(budget, max_seconds):
            break
        s = rng.randrange(2**32)
        if strategy == "random":
            chooser: Any = RandomChooser(s, preempt=rng.choice(RANDOM_PREEMPTS))
        else:
            chooser = PCTChooser(s, len(sc.threads), depth=rng.choice(PCT_DEPTHS), k=k)
        try:
            r = model.run(sc, proto, chooser=chooser)
        except model.SetupError:
            break
        ndec.append(len(r.result.decisions))
        stats.add_raw(r.result.steps, trace.hash64(r.result.events), r.violation is not None)
        if r.violation is not None:
            return Found(sc, r.result.trimmed_decisions(), r.outcome, None), ndec
    return None, ndec


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


class _Interrupted(KeyboardInterrupt):
    """Raised inside a search (Hypothesis's test function, an exploration's callback) when
    ``stop`` asks to end it: a KeyboardInterrupt, which Hypothesis lets through at once
    (any other exception it would shrink, or replay as a failure, or call flaky)."""


def _hunt_hypothesis(
    proto: Protocol,
    seed: int,
    budget: int,
    max_seconds: float,
    stats: _Stats,
    backend: str = "python",
) -> tuple[Found | None, _Differential | None]:
    """Hypothesis draws the scenario and, lazily, every decision.  On ``native`` the C
    model calls the HypothesisChooser back at each decision point, and then runs a batch
    of ``HYPOTHESIS_NATIVE_BATCH`` seeded random schedules of the same scenario in one C
    call (the seed is drawn by Hypothesis too, so the example stays deterministic and
    shrinks); a violation found there is confirmed on the Python model like the other
    native strategies'.

    Why the batch: Hypothesis spends ~5 ms of its own per example, which capped the
    strategy at ~170 schedules/s on native while the C model runs ~20,000; bugs that need
    one interleaving in thousands (R5, ``anon_vma.free_handshake=false``) were caught by
    ``random`` in under a second and by ``hypothesis`` not in 30 s (docs/detection.md)."""
    from hypothesis import HealthCheck, Phase, given, reject, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    from fuzzlock import native  # the library itself loads on first use
    from fuzzlock.native import hunt as native_hunt
    from fuzzlock.sched import HypothesisChooser, RunResult

    failures: list[Found] = []
    deadline = time.monotonic() + max_seconds
    # the batch after each native example (at most budget / BUDGET_SCENARIOS schedules, as
    # in _hunt_native, so a small schedule budget still tries many scenarios)
    per = min(HYPOTHESIS_NATIVE_BATCH, max(0, budget // BUDGET_SCENARIOS - 1))
    ns: list[Any] = [None]  # one C model for the batches, reloaded per example

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
        if stats.stopped:  # also while shrinking: the last failure so far is kept
            raise _Interrupted
        if not failures and (time.monotonic() > deadline or stats.schedules >= budget):
            raise _Stop
        sc = strategies.gen_scenario(strategies.HypothesisSource(data))
        chooser = HypothesisChooser(data, n_threads=len(sc.threads))
        if backend == "native":
            try:
                res = native.run_model_results(sc, proto.knobs, chooser=chooser)
            except native.NativeSetupError:
                reject()
            outcome, events, decs, pre, viol = res.run
            result = RunResult(outcome, None, events, len(events), list(decs), list(pre), [])
            violated = viol is not None
            if not violated and per > 0:
                stats.add_raw(result.steps, result.digest, False)
                run_seed = data.draw(st.integers(0, 2**64 - 1), label="batch seed")
                try:
                    ns[0] = native_hunt.NativeScenario(sc, proto.knobs, reuse=ns[0])
                    b = ns[0].hunt(run_seed, native_hunt.STRATEGY_RANDOM, per, RANDOM_PREEMPTS)
                except native.NativeError:
                    return  # outside the C slice: the chooser's schedule was the example
                stats.add_batch(b.runs, b.steps, b.hashes, b.violation is not None)
                if b.violation is None:
                    return
                v = b.violation
                failures.append(Found(sc, _trimmed(v.decisions), v.outcome, seed, "native"))
                raise AssertionError(v.outcome)
        else:
            try:
                r = model.run(sc, proto, chooser=chooser)
            except model.SetupError:
                reject()
            result, outcome, violated = r.result, r.outcome, r.violation is not None
        if not failures or len(failures) < 10_000:
            stats.add_raw(result.steps, result.digest, violated)
        if violated:
            on = "native" if backend == "native" else "python"
            failures.append(Found(sc, result.trimmed_decisions(), outcome, seed, on))
            raise AssertionError(outcome)

    try:
        prop()
    except _Stop:
        return None, None
    except (AssertionError, _Interrupted):
        pass
    except Exception as e:  # a Hypothesis wrapper of _Stop (e.g. flaky) ends the hunt too
        if not failures:
            spent = time.monotonic() > deadline or stats.schedules >= budget
            if not spent:  # the budget did not end it: say what did
                print(f"fuzzlock: hypothesis ended the search: {type(e).__name__}", file=sys.stderr)
            return None, None
    finally:
        if ns[0] is not None:
            ns[0].close()
    if not failures:
        return None, None
    # Hypothesis replays the shrunk example last; keep the original invariant
    first = failures[0].outcome
    same = [f for f in failures if f.outcome == first]
    found = same[-1]
    if found.on == "native":
        res = native.run_model_results(found.scenario, proto.knobs, found.decisions)
        msg = confirm_on_python(found.scenario, proto, found.decisions, found.outcome, res.run[1])
        if msg is not None:
            f = Found(found.scenario, found.decisions, DIFFERENTIAL, seed, "native")
            return None, _Differential(f, msg)
    return found, None


# --- exhaustive ------------------------------------------------------------------------------

#: a generated scenario gets at most this share of an exhaustive hunt's budget ...
EXHAUSTIVE_SCENARIO_SHARE = 0.1
#: ... but never less than this (small budgets: tests, ``detection --quick``)
EXHAUSTIVE_SCENARIO_MIN_SECONDS = 0.5
EXHAUSTIVE_SCENARIO_MIN_SCHEDULES = 200


def load_scenario_file(path: str) -> scenario.Scenario:
    """A scenario from a JSON file: a bare scenario or a corpus entry (its scenario).
    Raises ValueError with one line naming the file and what is wrong."""
    from fuzzlock import corpus

    obj = corpus.read_json(path, path)  # a CorpusError is a one-line ValueError
    if isinstance(obj, dict) and "scenario" in obj and "threads" not in obj:
        obj = obj["scenario"]
    try:
        return scenario.from_json(obj)
    except scenario.ScenarioError as e:
        raise ValueError(f"{path}: {e}") from None


def hunt_exhaustive(
    proto: Protocol,
    backend: str,
    preemptions: int | None,
    scenarios: list[scenario.Scenario] | None = None,
    max_seconds: float = 60.0,
    max_schedules: int | None = None,
    seed: int = 0,
    naive: bool = False,
    compare_naive: bool = False,
    progress: Callable[[str], None] | None = None,
    minimize_found: bool = True,
    stop: Callable[[], bool] | None = None,
    replay: str | None = None,
) -> HuntResult:
    """``--strategy exhaustive``: explore each scenario (given, or drawn from the seeded
    generator until the budget ends) up to ``preemptions`` preemptions; every finished
    exploration is a certificate (``HuntResult.certificates``).

    Given scenarios are explored at the bound with the whole budget.  Generated scenarios
    are a hunt, so they use iterative context bounding (CHESS): each is explored with
    0, 1, ... up to ``preemptions`` preemptions, and gets at most a share of the budget
    (``EXHAUSTIVE_SCENARIO_SHARE``): one scenario whose bound-2 state space is too big
    for the budget would otherwise eat the whole run while bugs that need fewer
    preemptions in the next scenarios go unseen.  Such a scenario keeps the certificate
    of the highest bound it finished.  ``stop`` and ``replay``: as in ``hunt``."""
    from fuzzlock import explore

    stats = _Stats(progress, stop)
    notes: list[str] = []
    certs: list[explore.Certificate] = []
    found: Found | None = None
    rng = random.Random(seed)
    budget = max_schedules if max_schedules is not None else 10**9
    queue = list(scenarios) if scenarios is not None else None
    index = 0
    while not stats.spent(budget, max_seconds):
        if queue is not None:
            if index >= len(queue):
                break
            sc, name = queue[index], f"scenario {index}"
            bounds: list[int | None] = [preemptions]
            cap_s, cap_n = max_seconds, budget
        else:
            sc_seed = rng.randrange(2**32)
            sc = strategies.gen_scenario(strategies.RandomSource(random.Random(sc_seed)))
            name = f"generated scenario (seed {sc_seed})"
            bounds = [preemptions] if preemptions is None else list(range(preemptions + 1))
            cap_s = max(EXHAUSTIVE_SCENARIO_MIN_SECONDS, max_seconds * EXHAUSTIVE_SCENARIO_SHARE)
            cap_n = max(EXHAUSTIVE_SCENARIO_MIN_SCHEDULES, int(budget * EXHAUSTIVE_SCENARIO_SHARE))
        index += 1
        start_s, start_n = stats.seconds, stats.schedules

        def count(ex: explore.Execution) -> None:
            stats.add_raw(len(ex.steps), _digest(ex), ex.violation is not None)
            if stats.stopped and ex.violation is None:
                raise _Interrupted  # an unfinished exploration: no certificate

        def check_stop(ex: explore.Execution) -> None:
            if stats.stopped:
                raise _Interrupted

        last_complete: explore.Certificate | None = None
        cert: explore.Certificate | None = None
        try:
            for k in bounds:
                left_s = min(max_seconds - stats.seconds, cap_s - (stats.seconds - start_s))
                left_n = min(budget - stats.schedules, cap_n - (stats.schedules - start_n))
                if left_s <= 0 or left_n <= 0:
                    break
                cert = explore.explore_scenario(
                    sc,
                    proto,
                    backend,
                    k,
                    por=not naive,
                    max_seconds=left_s,
                    max_schedules=left_n,
                    name=name,
                    on_execution=count,
                )
                if cert.violation is not None or not cert.complete:
                    break
                last_complete = cert
        except model.SetupError:
            continue
        except _Interrupted:
            if last_complete is not None:
                certs.append(last_complete)
            break
        if last_complete is not None and last_complete is not cert:
            certs.append(last_complete)
        if cert is not None:
            certs.append(cert)
        if cert is not None and cert.violation is not None:
            ex = cert.violation
            found = Found(sc, list(ex.decisions), ex.outcome, seed, on=backend)
            break
        if compare_naive and not naive and cert is not None and cert.complete:
            try:
                base = explore.explore_scenario(
                    sc,
                    proto,
                    backend,
                    cert.preemptions,
                    por=False,
                    name=name + " (naive)",
                    on_execution=check_stop,
                )
            except _Interrupted:
                break
            certs.append(base)
            if base.complete and cert.schedules:
                notes.append(
                    f"{name}: source-DPOR {cert.schedules} schedules vs naive "
                    f"{base.schedules} ({base.schedules / cert.schedules:.1f}x fewer), "
                    f"classes {cert.classes} vs {base.classes}"
                )
    for c in certs:
        notes.append(f"{c.scenario}: {c.text()}")
    res = HuntResult(
        "violation" if found else "clean",
        found.outcome if found else None,
        proto,
        backend,
        "exhaustive",
        stats.schedules,
        stats.steps,
        stats.seconds,
        len(stats.digests),
        found,
        notes=notes,
        native_runs=stats.schedules if backend == "native" else 0,
        first_violation=stats.first_violation,
        stopped=stats.stopped,
    )
    res.certificates = [c.to_json() for c in certs]
    if found is not None:
        _finish_into(res, found, minimize_found, stop, progress, replay)
    return res


def _digest(ex: Any) -> str:
    from fuzzlock import trace

    return trace.digest(ex.events)
