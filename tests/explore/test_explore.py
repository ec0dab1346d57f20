"""The exhaustive explorer: source-DPOR against naive enumeration, on toy programs and on
the model (fuzzlock.explore)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from fuzzlock import explore, protocol, scenario
from fuzzlock.explore import Execution
from fuzzlock.sched import Replay
from fuzzlock.sched.footprint import Recorder, independent
from tests.sched import toy

FINAL = ("finished", "deadlock")


def toy_runner(prog: toy.Program, finals: set[Any]) -> Callable[[Any], Execution]:
    """Runs of a toy program; each run's end state goes into ``finals`` (the shared
    variables and what each thread read, or just the violation id: a run cut short by a
    violation stops at a schedule-dependent point)."""

    def run(decisions: Any) -> Execution:
        s, w = toy.build(prog, max_steps=500)
        s.recorder = Recorder()
        s.mem_object_cells = True
        r = s.run(Replay(decisions))
        reads = tuple(tuple(v for t, v in w.log if t == i) for i in range(len(prog)))
        finals.add((r.outcome, tuple(w.vars), reads) if r.outcome in FINAL else (r.outcome,))
        return Execution(s.step_infos, r.decisions, r.outcome, r.violation, r.events)

    return run


def both(prog: toy.Program, k: int | None) -> tuple[Any, Any, set[Any], set[Any]]:
    fa: set[Any] = set()
    fb: set[Any] = set()
    naive = explore.explore(
        toy_runner(prog, fa), k, por=False, stop_on_violation=False, max_schedules=800
    )
    dpor = explore.explore(toy_runner(prog, fb), k, por=True, stop_on_violation=False)
    return naive, dpor, fa, fb


@pytest.mark.parametrize("k", [0, 1, 2, None])
def test_dpor_reaches_every_end_state_naive_enumeration_reaches(k: int | None) -> None:
    """Over random toy programs (locks, rwsems, spinlocks, RCU, shared variables), the
    bounded source-DPOR search reaches exactly the end states (values, what each thread
    read, deadlocks, violation ids) that naive enumeration under the same bound reaches,
    and the same number of Mazurkiewicz classes when no run is cut short."""
    total_naive = total_dpor = 0
    for seed in range(60):
        prog = toy.random_program(random.Random(seed), max_threads=3, max_actions=5)
        naive, dpor, fa, fb = both(prog, k)
        if not naive.complete:
            continue  # unbounded naive enumeration can be too large to finish
        assert dpor.complete
        assert fa == fb, f"seed {seed}: dpor missed {fa - fb}, extra {fb - fa}"
        total_naive += naive.schedules
        total_dpor += dpor.schedules
    if k != 0:  # with no preemption there is little to reduce
        assert total_dpor * 2 < total_naive


def test_sleep_sets_are_off_under_a_bound_because_they_lose_classes() -> None:
    """Why bounded search runs without sleep sets: in this program (toy seed 136) the
    class where T2 reads after T0's write is covered, in the sleep-set argument, by a
    sibling subtree that needs one preemption more than the bound allows."""
    prog = toy.random_program(random.Random(136), max_threads=3, max_actions=5)
    fa: set[Any] = set()
    explore.explore(toy_runner(prog, fa), 1, por=False, stop_on_violation=False)
    fb: set[Any] = set()
    cert = explore.explore(toy_runner(prog, fb), 1, por=True, stop_on_violation=False)
    assert not cert.sleep_sets and fa == fb
    # forcing sleep sets on under the bound misses end states
    fc: set[Any] = set()
    forced = explore.explore(toy_runner(prog, fc), 1, stop_on_violation=False, sleep_sets=True)
    assert forced.complete and fc < fa


def test_sleep_sets_without_a_bound_block_redundant_runs() -> None:
    blocked = 0
    for seed in range(30):
        prog = toy.random_program(random.Random(seed), max_threads=3, max_actions=5)
        fa: set[Any] = set()
        fb: set[Any] = set()
        plain = explore.explore(toy_runner(prog, fa), 50, por=True, stop_on_violation=False)
        free = explore.explore(toy_runner(prog, fb), None, por=True, stop_on_violation=False)
        assert free.sleep_sets and fa == fb
        assert free.schedules <= plain.schedules
        blocked += free.blocked
    assert blocked > 0


def test_independent_steps_commute_and_dependent_ones_are_reordered() -> None:
    """Two threads writing different variables: one class, one schedule; the same
    variable: two classes (both orders)."""
    apart = [[("write", 0, 1)], [("write", 1, 2)]]
    same = [[("write", 0, 1)], [("write", 0, 2)]]
    fa: set[Any] = set()
    c = explore.explore(toy_runner(apart, fa), None)
    assert (c.schedules, c.classes, len(fa)) == (1, 1, 1)
    fb: set[Any] = set()
    c = explore.explore(toy_runner(same, fb), None)
    assert (c.classes, len(fb)) == (2, 2)


def test_footprint_independence_is_symmetric_read_read_commutes() -> None:
    a, b = frozenset({"x"}), frozenset({"y"})
    e: frozenset[Any] = frozenset()
    assert independent(a, e, a, e)  # read/read
    assert not independent(a, e, e, a)  # read/write
    assert not independent(e, a, e, a)  # write/write
    assert independent(e, a, e, b)


MOVER_WALKER = {
    "setup": [
        {"op": "mmap", "mm": 0, "vma": "src", "start": 16, "pages": 4, "uffd": True},
        {"op": "mmap", "mm": 0, "vma": "dst", "start": 32, "pages": 4, "uffd": True},
        {"op": "write", "mm": 0, "addr": 16, "value": 100, "folio": "F0"},
    ],
    "threads": [
        {"name": "mover", "ops": [{"op": "move", "mm": 0, "dst": 32, "src": 16, "len": 1}]},
        {"name": "walker", "ops": [{"op": "damon_young", "folio": "F0"}]},
    ],
}


def _model_finals(sc: Any, proto: Any, por: bool) -> tuple[Any, set[Any]]:
    finals: set[Any] = set()

    def keep(ex: Execution) -> None:
        r = ex.payload
        finals.add(
            (ex.outcome, tuple(map(tuple, r.results))) if ex.outcome in FINAL else (ex.outcome,)
        )

    cert = explore.explore_scenario(sc, proto, "python", 2, por=por, on_execution=keep)
    return cert, finals


@pytest.mark.parametrize("name", ["v6.18", "v6.19"])
def test_model_certificate_covers_the_classes_of_naive_enumeration(name: str) -> None:
    """Mover vs DAMON walker, 2 preemptions: source-DPOR certifies it clean with the same
    Mazurkiewicz classes and thread results as naive enumeration, in far fewer runs."""
    sc = scenario.from_json(MOVER_WALKER)
    proto = protocol.get(name, {"move.reset_err_on_retry": True})
    dpor, fd = _model_finals(sc, proto, True)
    naive, fn = _model_finals(sc, proto, False)
    assert dpor.complete and naive.complete
    assert dpor.verdict == naive.verdict == "clean"
    assert dpor.classes == naive.classes and fd == fn
    assert naive.schedules >= 5 * dpor.schedules
    assert "clean" in dpor.text() and "Mazurkiewicz classes" in dpor.text()


def test_model_exhaustive_finds_patch2_only_walk_complete() -> None:
    sc = scenario.from_json(MOVER_WALKER)
    proto = protocol.get("patch2-only", {"move.reset_err_on_retry": True})
    cert = explore.explore_scenario(sc, proto, "python", 1)
    assert cert.verdict == "violation" and cert.violation is not None
    assert cert.violation.outcome == "walk.complete"
    # the decisions replay the violation on the ordinary model run
    from fuzzlock import model

    r = model.run(sc, proto, decisions=cert.violation.decisions)
    assert r.outcome == "walk.complete"


def test_generated_exhaustive_hunt_raises_the_bound_per_scenario_and_caps_each_one() -> None:
    """A hunt over generated scenarios explores each with 0, 1, 2 preemptions in turn
    (iterative context bounding) and gives no scenario more than its share of the budget,
    so one huge state space cannot eat the run; on v6.19 every exploration is clean."""
    from fuzzlock import campaign

    proto = protocol.get("v6.19", {"move.reset_err_on_retry": True})
    res = campaign.hunt_exhaustive(
        proto, "python", 2, max_seconds=3.0, seed=1, minimize_found=False
    )
    assert res.verdict == "clean"
    certs = res.certificates
    assert len({c["scenario"] for c in certs}) >= 2, "the first scenario ate the budget"
    for c in certs:
        assert c["verdict"] == "clean"
        cap = max(
            campaign.EXHAUSTIVE_SCENARIO_MIN_SECONDS, 3.0 * campaign.EXHAUSTIVE_SCENARIO_SHARE
        )
        assert c["seconds"] <= cap + 0.5
        if not c["complete"]:
            # the budget ran out at this bound: a lower bound that finished is kept
            lower = [d for d in certs if d["scenario"] == c["scenario"] and d["complete"]]
            assert all(d["preemptions"] < c["preemptions"] for d in lower)
    assert any(c["complete"] and c["preemptions"] == 2 for c in certs)
