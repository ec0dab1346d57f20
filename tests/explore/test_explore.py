"""The exhaustive explorer: source-DPOR against naive enumeration, on toy programs and on
the model (fuzzlock.explore)."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from fuzzlock import explore, model, protocol, scenario
from fuzzlock.sched import Replay, RWSem, Scheduler, ops
from fuzzlock.sched.footprint import Recorder, independent, tracking
from fuzzlock.search import exhaustive as search_exhaustive
from tests.explore.naive import (
    Model,
    PyToy,
    check_against_naive,
    check_covers,
    explored,
    same_as_naive,
)
from tests.sched import toy

SCENARIOS = Path(__file__).resolve().parents[2] / "docs" / "scenarios"
FIX = {"move.reset_err_on_retry": True}


def load(name: str) -> scenario.Scenario:
    return scenario.from_json(json.loads((SCENARIOS / name).read_text()))


def critical_sections(k: int) -> toy.Program:
    """Two threads, each with ``k`` critical sections of mutex L0 that read var0 and write
    their own value to it: every interleaving of the 2k sections is a class of its own,
    C(2k, k) of them, each with its own end state (what each thread read)."""
    return [
        [
            a
            for i in range(k)
            for a in (("lock", 0), ("read", 0), ("write", 0, 10 * t + i), ("unlock", 0))
        ]
        for t in range(2)
    ]


@pytest.mark.parametrize("bound", [None, 0, 1, 2])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_two_threads_with_k_critical_sections_reach_every_class_of_naive_enumeration(
    k: int, bound: int | None
) -> None:
    """The sleep sets of the unbounded search wake when a step that conflicts with the
    sleeping thread's next step runs: footprints recorded in one run must name the cells
    of the next run's objects (the locks are rebuilt in every run)."""
    naive, _dpor = check_against_naive(PyToy(critical_sections(k)), bound)
    if bound is None:
        assert naive.cert.classes == len(naive.ends) == math.comb(2 * k, k)


@pytest.mark.parametrize("k", [0, 1, 2, None])
def test_dpor_reaches_every_class_and_end_state_naive_enumeration_reaches(k: int | None) -> None:
    """Over random toy programs (locks, rwsems, spinlocks, RCU, shared variables), the
    source-DPOR search reaches exactly the Mazurkiewicz classes and end states (values,
    what each thread did and saw, deadlocks, violation ids) that naive enumeration under
    the same bound reaches."""
    total_naive = total_dpor = 0
    for seed in range(60):
        prog = toy.random_program(random.Random(seed), max_threads=3, max_actions=5)
        target = PyToy(prog, f"toy seed {seed}")
        naive = explored(target, k, False, 800)
        if not naive.cert.complete:
            continue  # unbounded naive enumeration can be too large to finish
        dpor = explored(target, k, True, None)
        same_as_naive(naive, dpor, f"seed {seed}, bound {k}")
        total_naive += naive.cert.schedules
        total_dpor += dpor.cert.schedules
    if k != 0:  # with no preemption there is little to reduce
        assert total_dpor * 2 < total_naive


#: programs the bounded search once missed a class of (with 1 and 2 preemptions): the
#: class needs the reversal of a pair of steps that is ordered through a third one (in
#: the first, T2's read of var0 after T1's increment orders T2's down_read after T1's
#: first down_write), and the execution that reverses that third pair first needs one
#: preemption more than the class itself
BOUNDED_MISSES: list[tuple[int, toy.Program]] = [
    (
        1,
        [
            [("lock", 0), ("write", 1, 2), ("unlock", 0), ("down_read_trylock", 0),
             ("down_write", 0), ("inc", 0), ("up_write", 0)],
            [("read", 1), ("down_write", 0), ("inc", 0), ("up_write", 0),
             ("down_write", 0), ("inc", 0), ("up_write", 0)],
            [("lock", 0), ("read", 0), ("unlock", 0), ("down_read", 0), ("read", 0),
             ("up_read", 0)],
        ],
    ),
    (
        2,
        [
            [("down_read", 0), ("read", 1), ("up_read", 0), ("trylock", 0), ("inc", 1),
             ("down_write", 0), ("inc", 0), ("up_write", 0)],
            [("down_write", 0), ("inc", 0), ("up_write", 0), ("trylock", 0),
             ("down_read", 0), ("read", 1), ("up_read", 0), ("read", 1)],
            [("down_read", 0), ("read", 1), ("up_read", 0)],
        ],
    ),
]  # fmt: skip


def bounded_programs() -> list[tuple[str, toy.Program]]:
    rng = random.Random(20261209)
    return [(f"known miss {i}", p) for i, (_k, p) in enumerate(BOUNDED_MISSES)] + [
        (f"small program {i}", toy.small_program(rng)) for i in range(40)
    ]


@pytest.mark.parametrize("bound", [1, 2])
def test_bounded_search_reaches_every_class_of_rwsem_and_trylock_programs(bound: int) -> None:
    """Small programs heavy on one mutex and one rwsem with read and write trylocks: the
    bounded search offers the initials of every conflicting pair, not only of the races
    that are not ordered through other steps, and reaches every class naive enumeration
    reaches under the bound."""
    for name, prog in bounded_programs():
        target = PyToy(prog, name)
        naive = explored(target, bound, False, 3000)
        if naive.cert.complete:
            same_as_naive(naive, explored(target, bound, True, None), f"{name}, bound {bound}")


def test_sleep_sets_are_off_under_a_bound_because_they_lose_classes() -> None:
    """Why bounded search runs without sleep sets: in this program (toy seed 136) the
    class where T2 reads after T0's write is covered, in the sleep-set argument, by a
    sibling subtree that needs one preemption more than the bound allows."""
    prog = toy.random_program(random.Random(136), max_threads=3, max_actions=5)
    naive, dpor = check_against_naive(PyToy(prog), 1)
    assert not dpor.cert.sleep_sets
    # forcing sleep sets on under the bound misses end states
    with PyToy(prog).session() as (runner, end):
        fc: set[Any] = set()
        forced = explore.explore(
            runner,
            1,
            stop_on_violation=False,
            sleep_sets=True,
            on_execution=lambda e: fc.add(end(e)),
        )
    assert forced.complete and fc < naive.ends


def test_sleep_sets_without_a_bound_block_redundant_runs() -> None:
    blocked = 0
    for seed in range(30):
        prog = toy.random_program(random.Random(seed), max_threads=3, max_actions=5)
        plain = explored(PyToy(prog), 50, True, None)
        free = explored(PyToy(prog), None, True, None)
        assert free.cert.sleep_sets and not plain.cert.sleep_sets
        assert (free.classes, free.ends) == (plain.classes, plain.ends)
        assert free.cert.schedules <= plain.cert.schedules
        blocked += free.cert.blocked
    assert blocked > 0


def test_independent_steps_commute_and_dependent_ones_are_reordered() -> None:
    """Two threads writing different variables: one class, one schedule; the same
    variable: two classes (both orders)."""
    apart = [[("write", 0, 1)], [("write", 1, 2)]]
    same = [[("write", 0, 1)], [("write", 0, 2)]]
    _naive, dpor = check_against_naive(PyToy(apart), None)
    assert (dpor.cert.schedules, dpor.cert.classes, len(dpor.ends)) == (1, 1, 1)
    _naive, dpor = check_against_naive(PyToy(same), None)
    assert (dpor.cert.classes, len(dpor.ends)) == (2, 2)


def test_footprints_of_one_schedule_name_the_same_cells_in_every_run() -> None:
    """The explorer compares a step's footprint from one run with the steps of later runs
    (sleep sets), whose objects are all rebuilt: cells must name state, not objects."""
    sc = load("mover-two-walkers.json")
    proto = protocol.get("v6.19", FIX)
    decisions = [1, 0, 2, 1, 1, 0, 2] * 6
    rec = Recorder()
    with tracking(rec):
        first = model.run(sc, proto, decisions=decisions, recorder=rec)
        keep = [model.run(sc, proto, decisions=[], recorder=rec) for _ in range(3)]
        again = model.run(sc, proto, decisions=decisions, recorder=rec)
    assert keep and len(first.step_infos) > 50
    assert again.step_infos == first.step_infos
    # a lock's cell is its name
    assert any(("lock", "folio:0") in s.writes for s in first.step_infos)


def test_a_step_that_a_violation_cuts_short_has_a_footprint_too() -> None:
    """The explorer races the violating step against the others like any step (reordering
    it is what avoids or causes the violation), so the Python scheduler records one
    footprint per trace event, the violating one included, as the C one does."""
    s, _w = toy.build([[("write", 0, 1), ("lock", 0)], [("read", 0), ("unlock", 0)]])
    s.recorder = Recorder()
    s.mem_object_cells = True
    r = s.run(Replay([1, 0]))  # T1 reads var0 and unlocks L0, which it does not hold
    assert r.outcome == "unlock-not-held" and r.events[-1][3:] == ("unlock", "L0", "!")
    assert len(s.step_infos) == len(r.events)
    assert ("lock", "L0") in s.step_infos[-1].writes
    # and on the model: walk.complete is raised in the walker's step
    sc = load("mover-walker.json")
    cert = explore.explore_scenario(sc, protocol.get("patch2-only", FIX), "python", 1)
    assert cert.violation is not None and cert.violation.outcome == "walk.complete"
    assert len(cert.violation.steps) == len(cert.violation.events)


def test_model_code_looking_at_a_lock_reads_its_cell() -> None:
    """anon_vma_free's handshake asks whether the root rwsem is locked (``is_free()``):
    that step depends on another thread's down_read, which changes the answer (a
    read-side acquisition writes the lock's cell, as on the C side)."""
    sem = RWSem("anon_vma:0", "anon_vma->rwsem")

    def reader() -> Any:
        yield ops.down_read("walker", sem)
        yield ops.up_read("walker", sem)

    def freer() -> Any:
        yield ops.read("anon_vma_free", "anon_vma:0.rwsem", lambda: not sem.is_free())

    rec = Recorder()
    with tracking(rec):
        s = Scheduler()
        s.spawn("walker", reader())
        s.spawn("free", freer())
        s.recorder = rec
        r = s.run(Replay([0, 1]))  # down_read, then the handshake's look
    assert [e[3] for e in r.events] == ["down_read", "read", "up_read"] and r.events[1][5] == "1"
    down, look = s.step_infos[0], s.step_infos[1]
    assert ("lock", "anon_vma:0") in down.writes and ("lock", "anon_vma:0") in look.reads
    assert not independent(down.reads, down.writes, look.reads, look.writes)


def test_footprint_independence_is_symmetric_read_read_commutes() -> None:
    a, b = frozenset({"x"}), frozenset({"y"})
    e: frozenset[Any] = frozenset()
    assert independent(a, e, a, e)  # read/read
    assert not independent(a, e, e, a)  # read/write
    assert not independent(e, a, e, a)  # write/write
    assert independent(e, a, e, b)


@pytest.mark.parametrize("name", ["v6.18", "v6.19"])
def test_model_certificate_covers_the_classes_of_naive_enumeration(name: str) -> None:
    """Mover vs DAMON walker (docs/scenarios/mover-walker.json): source-DPOR finds the
    classes and end states of naive enumeration with 0, 1 and 2 preemptions, in far fewer
    runs, and the unbounded search (sleep sets) reaches every one of them."""
    target = Model(load("mover-walker.json"), protocol.get(name, FIX), "python")
    for bound in (0, 1, 2):
        naive, dpor = check_against_naive(target, bound)
        assert dpor.cert.verdict == naive.cert.verdict == "clean"
    assert naive.cert.schedules >= 4 * dpor.cert.schedules
    assert "clean" in dpor.cert.text() and "Mazurkiewicz classes" in dpor.cert.text()
    check_covers(naive, target)


def test_three_thread_scenario_classes_are_those_of_naive_enumeration() -> None:
    """docs/scenarios/mover-two-walkers.json on the Python model, up to 1 preemption (2
    takes minutes on Python; tests/explore/test_explore_native.py goes to 2 on C)."""
    target = Model(load("mover-two-walkers.json"), protocol.get("v6.19", FIX), "python")
    naive, dpor = check_against_naive(target, 1)
    assert naive.cert.schedules >= 2 * dpor.cert.schedules


#: fork while another thread reads the child: between the copy of the page table and the
#: copy of the ghost user data (a step of its own) a read sees 7 where the sequential
#: history says 0 (user.data); a read that faults the page in before the copy sees 0
FORK_AND_READ_CHILD = {
    "setup": [
        {"op": "mmap", "mm": 0, "vma": "a", "start": 16, "pages": 2},
        {"op": "write", "mm": 0, "addr": 16, "value": 7},
    ],
    "threads": [
        {"name": "fork", "ops": [{"op": "fork", "mm": 0, "child": 1}]},
        {
            "name": "reader",
            "ops": [
                *[{"op": "read", "mm": 0, "addr": 17}] * 3,
                {"op": "read", "mm": 1, "addr": 16},
            ],
        },
    ],
}


def test_fork_and_a_reader_of_the_child_reach_the_end_states_of_naive_enumeration() -> None:
    """Both the user.data violation (needs the ghost data in the footprints: the read
    compares with it and fork copies it in a step of its own) and the read that faults
    the page in before the copy (needs the footprint of the violating read: its race
    with the copy is what reorders it) are reached, with 3 preemptions and unbounded."""
    sc = scenario.from_json(FORK_AND_READ_CHILD)
    target = Model(sc, protocol.get("v6.19", FIX), "python")
    naive, _dpor = check_against_naive(target, 3)
    assert ("user.data",) in naive.ends
    assert any(e[1][1][-1] == "0" for e in naive.ends if e[0] == "finished")
    check_covers(naive, target)


def test_model_exhaustive_finds_patch2_only_walk_complete() -> None:
    sc = load("mover-walker.json")
    proto = protocol.get("patch2-only", FIX)
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
            search_exhaustive.EXHAUSTIVE_SCENARIO_MIN_SECONDS,
            3.0 * search_exhaustive.EXHAUSTIVE_SCENARIO_SHARE,
        )
        assert c["seconds"] <= cap + 0.5
        if not c["complete"]:
            # the budget ran out at this bound: a lower bound that finished is kept
            lower = [d for d in certs if d["scenario"] == c["scenario"] and d["complete"]]
            assert all(d["preemptions"] < c["preemptions"] for d in lower)
    assert any(c["complete"] and c["preemptions"] == 2 for c in certs)
