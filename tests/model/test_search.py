"""A Hypothesis-driven search over scenarios and schedules tells the protocols apart.

patch2-only (the move drops the anon_vma lock, walkers still walk without the folio
lock) must be caught: some walker misses a mapping (``walk.complete``).  The same search
with the same budget finds nothing on v6.18 and v6.19.  Both real protocols are run with
``move.reset_err_on_retry=true`` (the later upstream fix of move_pages' sticky -EAGAIN):
without it this search finds that kernel bug instead (``move.result``; see
tests/model/test_races.py and docs/kernel-notes/move.md), which is a separate finding.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzzlock import model, protocol, scenario
from fuzzlock.sched import HypothesisChooser

WALKERS = ["shrink_active_list", "page_idle", "damon_mkold", "damon_young", "memory_failure"]


@st.composite
def mover_vs_walker(draw: st.DrawFn) -> scenario.Scenario:
    """A mover and one or two walkers on the folios it moves (the R2/R3 shape)."""
    npages = draw(st.integers(1, 2))
    setup: list[dict[str, Any]] = [
        {"op": "mmap", "mm": 0, "vma": "src", "start": 16, "pages": 4, "uffd": True},
        {"op": "mmap", "mm": 0, "vma": "dst", "start": 32, "pages": 4, "uffd": True},
    ]
    for i in range(npages):
        setup.append({"op": "write", "mm": 0, "addr": 16 + i, "value": 10 + i, "folio": f"F{i}"})
    threads = [
        {"name": "mover", "ops": [{"op": "move", "mm": 0, "dst": 32, "src": 16, "len": npages}]}
    ]
    for k in range(draw(st.integers(1, 2))):
        walker = draw(st.sampled_from(WALKERS))
        folio = f"F{draw(st.integers(0, npages - 1))}"
        threads.append({"name": f"{walker}{k}", "ops": [{"op": walker, "folio": folio}]})
    return scenario.from_json({"setup": setup, "threads": threads})


def search(proto: protocol.Protocol, examples: int) -> list[str]:
    found: list[str] = []

    @settings(
        max_examples=examples,
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mover_vs_walker(), st.data())
    def prop(sc: scenario.Scenario, data: st.DataObject) -> None:
        r = model.run(sc, proto, chooser=HypothesisChooser(data, n_threads=len(sc.threads)))
        if r.violation is not None:
            found.append(r.outcome)
        assert r.violation is None, r.violation.one_line()

    with contextlib.suppress(AssertionError):
        prop()
    return found


BUDGET = 300


def test_hypothesis_search_catches_patch2_only_walker_missing_a_mapping() -> None:
    found = search(protocol.get("patch2-only", {"move.reset_err_on_retry": True}), BUDGET)
    assert found, "patch2-only was not caught"
    assert found[-1] == "walk.complete"


@pytest.mark.parametrize("name", ["v6.18", "v6.19"])
def test_same_search_finds_nothing_on_the_real_protocols(name: str) -> None:
    assert search(protocol.get(name, {"move.reset_err_on_retry": True}), BUDGET) == []
