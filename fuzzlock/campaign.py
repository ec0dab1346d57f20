"""``fuzzlock hunt``: search scenarios and schedules for a violation, within a budget.

One loop runs any search strategy (fuzzlock.search: ``hypothesis``, ``random``, ``pct``,
``exhaustive``; docs/design.md#strategies) on any backend (fuzzlock.backends: ``python``,
the reference model, or ``native``, its C port): the strategy yields after each scenario
it tried, the loop stops it when the budget (schedules, seconds, or a ``stop`` request) is
spent or it found a violation.  A violation found on another backend than the reference
has been replayed on the reference (same decisions) by the strategy: a different outcome
is reported as the ``differential`` invariant with the first differing event, unminimized;
the same outcome is minimized by the Python minimizer.

A violation comes back as a minimized corpus entry plus its text report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from fuzzlock import backends, scenario, search
from fuzzlock.protocol import Protocol
from fuzzlock.search.base import DIFFERENTIAL, Context, Found, Stats, Strategy
from fuzzlock.search.finish import NOT_SAVED, finish, recognise

__all__ = [
    "DIFFERENTIAL",
    "HuntResult",
    "hunt",
    "hunt_exhaustive",
    "load_scenario_file",
    "replay_command",
]

STRATEGIES = search.names()
BACKENDS = backends.names()


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


def hunt(
    proto: Protocol,
    backend: str = "python",
    strategy: str | Strategy = "hypothesis",
    max_seconds: float = 60.0,
    max_schedules: int | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    minimize_found: bool = True,
    stop: Callable[[], bool] | None = None,
    replay: str | None = None,
) -> HuntResult:
    """Search for a violation within ``max_seconds`` and ``max_schedules``.

    ``strategy`` is a name of ``fuzzlock.search`` or a ``Strategy`` (with its options).
    ``stop`` (e.g. set by a signal handler) is checked with the budget: when it returns
    true the search ends as if the budget were spent (``HuntResult.stopped``), and the
    minimization of a violation found so far ends with the smallest failure it has
    (``HuntResult.minimized`` false).  ``replay`` is the report's replay line (default:
    a note that the entry is not saved)."""
    if backend not in backends.names():
        raise ValueError(f"backend {backend!r}: expected one of {', '.join(backends.names())}")
    b = backends.get(backend)
    if not b.available():
        raise ValueError(f"backend {backend!r} is not available: {b.unavailable_reason()}")
    strat = search.get(strategy) if isinstance(strategy, str) else strategy
    budget = max_schedules if max_schedules is not None else 10**9
    stats = Stats(budget, max_seconds, progress, stop)
    ctx = Context(proto, b, seed, stats)
    found: Found | None = None
    rounds = strat.rounds(ctx)
    while found is None and not stats.spent():  # the one search loop
        try:
            found = next(rounds)
        except StopIteration:
            break
    rounds.close()
    strat.finish(ctx)
    diff = found is not None and found.outcome == DIFFERENTIAL
    if diff:  # the backends disagree: report that, unminimized (the reference is the truth)
        assert found is not None and found.message is not None
        ctx.notes.append(found.message)
    on_backend = backend != backends.REFERENCE
    res = HuntResult(
        "violation" if found else "clean",
        found.outcome if found else None,
        proto,
        backend,
        strat.name,
        stats.schedules,
        stats.steps,
        stats.seconds,
        len(stats.digests),
        found,
        report=found.message if found is not None and diff else None,
        notes=ctx.notes,
        native_runs=stats.schedules - stats.fallback if on_backend else 0,
        python_runs=stats.fallback,
        certificates=strat.to_json().get("certificates", []),
        cpu_seconds=stats.cpu_seconds,
        first_violation=stats.first_violation,
        stopped=stats.stopped,
    )
    if found is not None and not diff:
        _finish_into(res, found, minimize_found, stop, progress, replay)
    return res


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


def replay_command(entry: Any, path: Any = None) -> str:
    """The command that replays ``entry`` saved at ``path`` (without a path: a note that
    it is not saved; naming where it would go would name a file that does not exist)."""
    import shlex

    if path is None:
        return NOT_SAVED
    return f"fuzzlock replay {shlex.quote(str(path))}"


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
    """``hunt`` with ``--strategy exhaustive``'s options (fuzzlock.search.exhaustive):
    ``scenarios`` to explore (default: generated until the budget ends) up to
    ``preemptions``; ``naive`` explores without partial-order reduction, ``compare_naive``
    also explores each finished scenario naively and notes the reduction."""
    strat = search.get(
        "exhaustive",
        preemptions=preemptions,
        scenarios=scenarios,
        naive=naive,
        compare_naive=compare_naive,
    )
    return hunt(
        proto,
        backend,
        strat,
        max_seconds,
        max_schedules,
        seed,
        progress=progress,
        minimize_found=minimize_found,
        stop=stop,
        replay=replay,
    )
