"""Scenario families of fuzzlock.scenarios: each family reaches the race it is for.

``fork_teardown`` exists for R5 (``anon_vma.free_handshake=false``), which no other family
reached (docs/detection.md, "Never caught"): a seeded random search over the family finds
the use-after-free within a few hundred schedules on both protocol versions, and the same
schedules are clean with the handshake.
"""

from __future__ import annotations

import random

import pytest

from fuzzlock import model, protocol, scenarios
from fuzzlock.sched import RandomChooser

REAL = ("v6.18", "v6.19")
#: schedules the seeded search below may take (the first hit is at 138 on v6.18, at 101
#: on v6.19; each schedule is seed ``i``'s scenario with ``RandomChooser(i, 0.3)``)
BUDGET = 400


def family_runs(base: str, knobs: dict[str, object], n: int) -> list[model.ModelRun]:
    p = protocol.get(base, {"move.reset_err_on_retry": True, **knobs})
    runs = []
    for i in range(n):
        sc = scenarios.gen_scenario(scenarios.RandomSource(random.Random(i)), "fork_teardown")
        r = model.run(sc, p, chooser=RandomChooser(i, preempt=0.3))
        runs.append(r)
        if r.violation is not None:
            break
    return runs


def test_fork_teardown_shape() -> None:
    rng = random.Random(0)
    for _ in range(50):
        sc = scenarios.gen_scenario(scenarios.RandomSource(rng), "fork_teardown")
        assert sc.setup[-1] == {"op": "fork", "mm": 0, "child": 1}
        names = sc.thread_names
        assert names[:2] == ["child", "parent"] and "mover" not in names
        assert sc.threads[0][1][0]["mm"] == 1 and sc.threads[1][1][0]["mm"] == 0
        walkers = [ops[0]["op"] for _, ops in sc.threads[2:]]
        assert walkers[0] == "memory_failure" and 1 <= len(walkers) <= 2
        assert set(walkers) <= set(scenarios.BLOCKING_WALKERS)


def test_fork_teardown_is_one_of_the_families_every_strategy_draws() -> None:
    assert "fork_teardown" in scenarios.FAMILIES


@pytest.mark.parametrize("base", REAL)
def test_fork_teardown_catches_the_missing_free_handshake(base: str) -> None:
    runs = family_runs(base, {"anon_vma.free_handshake": False}, BUDGET)
    last = runs[-1]
    assert last.violation is not None, f"not caught in {BUDGET} schedules"
    assert last.outcome == "uaf" and "anon_vma" in last.violation.message


@pytest.mark.parametrize("base", REAL)
def test_fork_teardown_is_clean_on_the_real_protocol(base: str) -> None:
    runs = family_runs(base, {}, BUDGET)
    assert len(runs) == BUDGET
    bad = [r for r in runs if r.outcome != "finished"]
    assert not bad, bad[0].violation.one_line() if bad[0].violation else bad[0].outcome
