"""The Python API a test uses: one scenario + protocol + decisions -> outcome, trace, digest."""

from __future__ import annotations

from fuzzlock import model, protocol, scenario
from fuzzlock.sched import RandomChooser

SC = scenario.from_json(
    {
        "setup": [
            {"op": "mmap", "mm": 0, "vma": "src", "start": 16, "pages": 4, "uffd": True},
            {"op": "mmap", "mm": 0, "vma": "dst", "start": 32, "pages": 4, "uffd": True},
            {"op": "write", "mm": 0, "addr": 16, "value": 7, "folio": "F"},
        ],
        "threads": [
            {"name": "mover", "ops": [{"op": "move", "mm": 0, "dst": 32, "src": 16, "len": 1}]},
            {"name": "reclaim", "ops": [{"op": "shrink_active_list", "folio": "F"}]},
        ],
    }
)


def test_run_gives_outcome_trace_digest_and_thread_results() -> None:
    r = model.run(SC, protocol.get("v6.19"), decisions=[])
    assert r.outcome == "finished" and r.violation is None
    assert r.results[0] == ["ret=0,move=1"]
    assert len(r.digest) == 64 and r.result.events
    step, tid, fn = r.result.events[0][:3]
    assert (step, tid, fn) == (0, 0, "userfaultfd_move")


def test_same_scenario_protocol_and_decisions_give_the_same_digest() -> None:
    for seed in range(30):
        a = model.run(SC, protocol.get("patch2-only"), chooser=RandomChooser(seed, 0.3))
        b = model.run(SC, protocol.get("patch2-only"), decisions=a.result.decisions)
        c = model.run(SC, protocol.get("patch2-only"), decisions=a.result.decisions)
        assert a.digest == b.digest == c.digest and a.outcome == b.outcome


def test_protocols_change_the_trace() -> None:
    a = model.run(SC, protocol.get("v6.18"))
    b = model.run(SC, protocol.get("v6.19"))
    assert a.digest != b.digest
    ops18 = {(e[2], e[3]) for e in a.result.events}
    ops19 = {(e[2], e[3]) for e in b.result.events}
    assert ("move_pages_ptes", "down_write_trylock") in ops18 - ops19  # the root write lock
    assert ("folio_referenced", "trylock") in ops19 - ops18  # patch 1's folio trylock
