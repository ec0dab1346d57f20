"""Minimization beyond Hypothesis's shrinking: delta debugging on a failing run.

Deletes threads, operations, setup steps and preemptions, one candidate at a time in a
fixed order, keeping every candidate that still fails with the *same* invariant, until
nothing more can be removed (or the run budget is spent).  Deterministic: the same input
gives the same minimal entry.

Schedules are edited as *thread picks* (which thread ran at each decision point), not as
raw decisions: a raw decision is an index into the round-robin order, so deleting a
thread would re-target every later decision.  A pick that names a thread that is not
enabled means "no switch".  The result is stored as the raw decisions of its final run,
so it replays with the plain decision rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs

from fuzzlock import model, scenario
from fuzzlock.protocol import Protocol
from fuzzlock.sched import Replay


@attrs.define
class Minimized:
    scenario: scenario.Scenario
    decisions: list[int]
    runs: int
    digest: str
    preemptions: int
    #: False if ``stop`` cut the minimization short (the result still fails the same way)
    complete: bool = True


class PickChooser:
    """Replays thread picks; records the raw decisions and picks it made."""

    def __init__(self, picks: Sequence[int]) -> None:
        self.picks = list(picks)
        self.i = 0
        self.made: list[int] = []

    def choose(self, order: Sequence[int], current: int) -> int:
        want = self.picks[self.i] if self.i < len(self.picks) else current
        self.i += 1
        c = order.index(want) if want in order else 0
        self.made.append(order[c])
        return c


class _Recorder:
    def __init__(self, inner: Replay) -> None:
        self.inner = inner
        self.made: list[int] = []

    def choose(self, order: Sequence[int], current: int) -> int:
        c = self.inner.choose(order, current)
        self.made.append(order[c % len(order)])
        return c


def _run(sc: scenario.Scenario, proto: Protocol, chooser: Any) -> model.ModelRun | None:
    try:
        return model.run(sc, proto, chooser=chooser)
    except model.SetupError:
        return None


def minimize(
    sc: scenario.Scenario,
    proto: Protocol,
    decisions: list[int],
    expect: str,
    max_runs: int = 3000,
    stop: Callable[[], bool] | None = None,
    on_run: Callable[[int], None] | None = None,
) -> Minimized:
    """Shrink (scenario, decisions) while ``expect`` still happens.  ``stop`` (checked
    before each candidate run) ends it early with the smallest failure so far
    (``complete`` false); ``on_run(runs)`` is called after each run (progress)."""
    rec = _Recorder(Replay(decisions))
    r = _run(sc, proto, rec)
    if r is None or r.outcome != expect:
        got = "an invalid setup" if r is None else repr(r.outcome)
        raise ValueError(f"the entry does not reproduce {expect!r} (got {got})")
    cur_obj, picks, best = sc.to_json(), _trim_picks(rec.made, r), r
    runs = 1
    changed = True
    stopped = False
    while changed and runs < max_runs and not stopped:
        changed = False
        for obj, cand_picks in _candidates(cur_obj, picks):
            if runs >= max_runs:
                break
            if stop is not None and stop():
                stopped = True
                break
            try:
                cand = scenario.from_json(obj)
            except scenario.ScenarioError:
                continue
            runs += 1
            ch = PickChooser(cand_picks)
            res = _run(cand, proto, ch)
            if on_run is not None:
                on_run(runs)
            if res is not None and res.outcome == expect and _smaller(res, best, obj, cur_obj):
                cur_obj, picks, best = obj, _trim_picks(ch.made, res), res
                changed = True
                break
    decisions = best.result.trimmed_decisions()
    final = scenario.from_json(cur_obj)
    return Minimized(final, decisions, runs, best.digest, best.result.preemptions, not stopped)


def _size(obj: dict[str, Any]) -> tuple[int, int, int]:
    return (
        len(obj["threads"]),
        sum(len(t["ops"]) for t in obj["threads"]),
        len(obj["setup"]),
    )


def _smaller(
    res: model.ModelRun, best: model.ModelRun, obj: dict[str, Any], cur: dict[str, Any]
) -> bool:
    """Progress: a smaller scenario, or the same one with fewer preemptions or steps."""
    a, b = _size(obj), _size(cur)
    if a != b:
        return a < b
    ra, rb = res.result, best.result
    return (ra.preemptions, ra.steps, len(ra.trimmed_decisions())) < (
        rb.preemptions,
        rb.steps,
        len(rb.trimmed_decisions()),
    )


def _trim_picks(made: list[int], r: model.ModelRun) -> list[int]:
    """Picks up to the last one that switched threads (later ones just continue)."""
    picks = list(made)
    # the decision list already says where switches happen: keep picks up to the last
    # nonzero decision
    d = r.result.trimmed_decisions()
    return picks[: len(d)]


def _renumber(picks: list[int], gone: int) -> list[int]:
    return [p - 1 if p > gone else p for p in picks if p != gone]


def _candidates(
    obj: dict[str, Any], picks: list[int]
) -> Iterator[tuple[dict[str, Any], list[int]]]:
    """Smaller variants, biggest cuts first."""
    threads = obj["threads"]
    if len(threads) > 1:
        for i in range(len(threads)):
            yield {**obj, "threads": [*threads[:i], *threads[i + 1 :]]}, _renumber(picks, i)
    for i, t in enumerate(threads):
        if len(t["ops"]) > 1:
            for j in range(len(t["ops"])):
                nt = {**t, "ops": [*t["ops"][:j], *t["ops"][j + 1 :]]}
                yield {**obj, "threads": [*threads[:i], nt, *threads[i + 1 :]]}, picks
    # schedules: drop the tail, then remove single switches (the thread before goes on)
    if len(picks) > 1:
        yield obj, picks[: len(picks) // 2]
    for k in range(len(picks) - 1, 0, -1):
        if picks[k] != picks[k - 1]:
            yield obj, [*picks[:k], picks[k - 1], *picks[k + 1 :]]
    for k in range(len(picks)):
        yield obj, [*picks[:k], *picks[k + 1 :]]
    setup = obj["setup"]
    for i, op in enumerate(setup):
        if op["op"] != "mmap":
            yield {**obj, "setup": [*setup[:i], *setup[i + 1 :]]}, picks
