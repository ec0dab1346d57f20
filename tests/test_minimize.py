"""Delta debugging beyond Hypothesis: deterministic, replayable, and it really shrinks."""

from __future__ import annotations

from fuzzlock import model, protocol, scenario
from fuzzlock.minimize import minimize
from fuzzlock.sched import RandomChooser

PROTO = protocol.get("patch2-only", {"move.reset_err_on_retry": True})

BIG = scenario.from_json(
    {
        "setup": [
            {"op": "mmap", "mm": 0, "vma": "src", "start": 16, "pages": 4, "uffd": True},
            {"op": "mmap", "mm": 0, "vma": "dst", "start": 32, "pages": 4, "uffd": True},
            {"op": "write", "mm": 0, "addr": 16, "value": 7, "folio": "F"},
            {"op": "write", "mm": 0, "addr": 17, "value": 8, "folio": "G"},
        ],
        "threads": [
            {
                "name": "mover",
                "ops": [
                    {"op": "move", "mm": 0, "dst": 32, "src": 16, "len": 2},
                    {"op": "read", "mm": 0, "addr": 32},
                ],
            },
            {"name": "reader", "ops": [{"op": "read", "mm": 0, "addr": 17}]},
            {
                "name": "idle",
                "ops": [{"op": "page_idle", "folio": "G"}, {"op": "damon_mkold", "folio": "F"}],
            },
            {"name": "reclaim", "ops": [{"op": "shrink_active_list", "folio": "F"}]},
        ],
    }
)


def failing_run() -> model.ModelRun:
    for seed in range(500):
        r = model.run(BIG, PROTO, chooser=RandomChooser(seed, 0.3))
        if r.outcome == "walk.complete":
            return r
    raise AssertionError("no failing schedule in 500 seeds")


def test_minimize_keeps_the_invariant_and_replays_from_plain_decisions() -> None:
    r = failing_run()
    m = minimize(BIG, PROTO, r.result.trimmed_decisions(), "walk.complete")
    again = model.run(m.scenario, PROTO, decisions=m.decisions)
    assert again.outcome == "walk.complete"
    assert again.digest == m.digest


def test_minimize_deletes_threads_operations_and_preemptions() -> None:
    r = failing_run()
    m = minimize(BIG, PROTO, r.result.trimmed_decisions(), "walk.complete")
    assert len(m.scenario.threads) == 2  # the mover and one walker
    assert sum(len(ops) for _, ops in m.scenario.threads) == 2
    assert m.preemptions <= r.result.preemptions and m.preemptions <= 2
    assert len(m.scenario.setup) < len(BIG.setup)


def test_minimize_is_deterministic() -> None:
    r = failing_run()
    a = minimize(BIG, PROTO, r.result.trimmed_decisions(), "walk.complete")
    b = minimize(BIG, PROTO, r.result.trimmed_decisions(), "walk.complete")
    assert a.scenario == b.scenario and a.decisions == b.decisions and a.digest == b.digest


def test_minimize_refuses_an_entry_that_does_not_reproduce() -> None:
    import pytest

    with pytest.raises(ValueError, match="does not reproduce"):
        minimize(BIG, PROTO, [], "uaf")
