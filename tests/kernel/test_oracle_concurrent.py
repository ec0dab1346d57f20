"""Concurrent mode of the live-kernel oracle (issue 6; marker ``kernel`` where it runs on
the kernel): threads racing on the live kernel (fuzzlock/oracle/concurrent.py), each
observed outcome checked for an interleaving of the same ops the model reproduces.

The model-only tests at the top need no kernel: they check the translation (op orders,
the harness spec) and the classification on outcomes the model itself produced.  The
live-kernel ones race ALLOW_SRC_HOLES moves, which can livelock a CPU in the kernel
(docs/findings/holes-livelock.md): they are also marked ``kernel_repro`` and run only with
``--fuzzlock-kernel-repro`` or ``FUZZLOCK_KERNEL_REPRO=1`` (tests/conftest.py).
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from fuzzlock import oracle, protocol
from fuzzlock.cli import main
from fuzzlock.oracle import concurrent as cc
from fuzzlock.oracle import harness, programs

RUNS = 100
PROTO = protocol.get("v6.18")


def _skip_if_unavailable() -> None:
    reason = oracle.skip_reason()
    if reason:
        pytest.skip(reason)


def _mv(dst: int, src: int, n: int = 1, holes: bool = False) -> dict[str, Any]:
    mode = ["ALLOW_SRC_HOLES"] if holes else []
    return {"op": "move", "mm": 0, "dst": dst, "src": src, "len": n, "mode": mode}


def _observed_from_model(prog: programs.Program, chooser: Any) -> cc.Observed:
    """An 'observed' outcome the model itself produced under ``chooser``."""
    a = cc.model_attempt(prog, PROTO, chooser)
    return cc.Observed(1, a.results, cc.model_initial_state(prog, PROTO), a.state)


# --- model only: translation and classification -----------------------------------------------


def test_op_orders_keep_program_order_thread_serial_first() -> None:
    prog = programs.Program(4, [True, True, False], [], [[_mv(32, 16)] * 2, [_mv(33, 17)]])
    orders = cc.op_orders(prog, 100)
    assert sorted(orders) == [(0, 0, 1), (0, 1, 0), (1, 0, 0)]
    assert set(orders[:2]) == {(0, 0, 1), (1, 0, 0)}  # thread-serial first


def test_spec_is_the_harness_line() -> None:
    prog = programs.Program(
        4,
        [True, True, False],
        [(16, 5)],
        [
            [_mv(32, 16, 2, holes=True), {"op": "write", "mm": 0, "addr": 48, "value": 9}],
            [{"op": "madvise_cold", "mm": 0, "addr": 16, "pages": 1}],
        ],
    )
    assert prog.spec() == "M:32:16:2:2,W:48:9|A:16:1:20"
    assert programs.Program.from_json(json.loads(json.dumps(prog.to_json()))) == prog


def test_random_programs_store_only_where_no_missing_fault_blocks() -> None:
    rng = random.Random(5)
    for _ in range(200):
        prog = programs.random_program(rng)
        assert 2 <= len(prog.threads) <= 3
        values = [v for _, v in prog.init]
        for ops in prog.threads:
            for o in ops:
                if o["op"] == "write":
                    assert 48 <= o["addr"] < 52  # the unregistered region
                    values.append(o["value"])
                if o["op"] == "move":
                    assert 16 <= o["dst"] < 20 or 32 <= o["dst"] < 36
        assert len(values) == len(set(values))  # a value names its frame


def test_every_model_outcome_is_reproduced_by_the_search() -> None:
    """Outcomes the model produced under random schedules are found again: 'ok'."""
    rng = random.Random(11)
    for i in range(15):
        prog = programs.random_program(rng)
        obs = _observed_from_model(prog, cc.RandomChooser(i))
        a = cc.model_attempt(prog, PROTO, cc.RandomChooser(i))
        if a.violations:
            continue
        out = cc.classify(prog, obs, PROTO, budget=400, seed=i)
        assert out.cls == "ok", out.report()


def test_an_impossible_outcome_is_not_reproduced() -> None:
    prog = programs.Program(4, [True, True, False], [(16, 7)], [[_mv(32, 16)], [_mv(33, 17)]])
    obs = _observed_from_model(prog, cc.OpOrder((0, 1)))
    assert obs.results == [[(0, 1)], [(-2, -2)]]
    obs.results = [[(0, 1)], [(0, 1)]]  # the second move cannot succeed: 17 is a hole
    out = cc.classify(prog, obs, PROTO, budget=100)
    assert out.cls == "not-reproduced"
    assert "NOT reproduced" in out.report() and "reproducer: gcc" in out.report()


def test_sticky_eagain_outcome_is_classified_as_move_result_model_only() -> None:
    """EEXIST with the page moved (docs/findings/sticky-eagain.md), as observed here."""
    prog = programs.sticky_program(17, 34)
    init = cc.model_initial_state(prog, PROTO)
    after = dict(init)
    after[17], after[34] = ("none",), init[17]
    obs = cc.Observed(1, [[(-17, -17)], ["0"]], init, after)
    out = cc.classify(prog, obs, PROTO, budget=600)
    assert out.cls == "violation", out.report()
    assert out.violation is not None and out.violation.startswith("move.result")
    assert out.decisions  # a (minimized) interleaving to replay
    again = cc.model_attempt(prog, PROTO, cc.Replay(out.decisions))
    assert cc.matches(prog, obs, again) and "move.result" in again.violation_ids


def test_holes_livelock_is_classified_as_move_result_model_only() -> None:
    """A kernel LIVELOCK report (docs/findings/holes-livelock.md) is matched by the model's
    I16 livelock."""
    prog = programs.Program(
        4, [True, True, False], [(16, 3)], [[_mv(32, 16)], [_mv(33, 16, holes=True)]]
    )
    init = cc.model_initial_state(prog, PROTO)
    obs = cc.Observed(1, None, init, None, (1, 0))
    out = cc.classify(prog, obs, PROTO, budget=2000)
    assert out.cls == "violation", out.report()
    assert out.violation is not None and "livelock" in out.violation


def test_concurrent_flag_skips_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(oracle, "skip_reason", lambda: "no userfaultfd (testing)")
    assert main(["kernel-check", "--concurrent", "--runs", "3"]) == 0
    assert capsys.readouterr().out == "kernel-check skipped: no userfaultfd (testing)\n"


def test_concurrent_flag_rejects_knobs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kernel-check", "--concurrent", "--knob", "move.reset_err_on_retry=true"]) == 2
    assert main(["kernel-check", "--concurrent", "--runs", "0"]) == 2


# --- on the live kernel -----------------------------------------------------------------------


@pytest.mark.kernel
@pytest.mark.kernel_repro
def test_concurrent_campaign_has_no_unreproduced_outcome() -> None:
    """~100 racing programs (seeded), every outcome reproduced by some model schedule
    (cleanly, or through an invariant violation: a kernel finding), bounded time."""
    _skip_if_unavailable()
    s = cc.run_concurrent(runs=RUNS, seed=20261128, time_budget=50.0)
    bad = [f for f in s.findings if f.cls in ("not-reproduced", "setup-mismatch")]
    assert not bad, "\n\n".join(f.report() for f in bad)
    for f in s.findings:  # kernel findings: only the known sticky -EAGAIN (I16)
        assert f.cls == "violation" and f.violation and f.violation.startswith("move.result")
    assert s.runs >= RUNS // 2, f"only {s.runs} runs in the time budget"
    assert s.seconds < 60


@pytest.mark.kernel
@pytest.mark.kernel_repro
def test_sticky_eagain_when_observed_is_move_result() -> None:
    """Hunt the sticky -EAGAIN on the kernel (a move racing MADV_COLD on its source,
    regions rebuilt between rounds); when observed, it is classified as reproduced only
    through move.result."""
    _skip_if_unavailable()
    prog = programs.sticky_program()
    obs = cc.hunt_sticky_eagain(harness.build(), repeat=300_000)
    assert obs.results is not None
    if obs.results[0][0] != (-17, -17):
        pytest.skip(f"the race did not show in {obs.iterations} rounds")
    assert obs.after is not None and obs.after[34][0] == "present"  # it did move
    out = cc.classify(prog, obs, protocol.get(oracle.kernel_protocol()))
    assert out.cls == "violation", out.report()
    assert out.violation is not None and out.violation.startswith("move.result")


@pytest.mark.kernel
@pytest.mark.kernel_repro
def test_kernel_check_concurrent_command_runs(capsys: pytest.CaptureFixture[str]) -> None:
    _skip_if_unavailable()
    rc = main(["kernel-check", "--concurrent", "--runs", "10", "--seed", "3", "--json"])
    d = json.loads(capsys.readouterr().out)
    assert d["mode"] == "concurrent" and d["runs"] == 10
    assert rc == (1 if d["counts"]["not-reproduced"] or d["counts"]["setup-mismatch"] else 0)
    assert d["counts"]["not-reproduced"] == 0


def _state(prog: programs.Program, present: dict[int, int]) -> cc.State:
    return {
        a: ("present", present[a], 1, True) if a in present else ("none",) for a in prog.addrs()
    }


def test_two_ops_inside_one_move_are_found_model_only() -> None:
    """Observed here (seed 3 of a 500-run campaign): T0's ALLOW_SRC_HOLES move of 48 got
    -EAGAIN because T1's MADV_DONTNEED unmapped the folio it had locked
    (folio_get_anon_vma() == NULL) and T2's store refilled 48 before the retry; the
    retry moved the new page and the sticky -EAGAIN made the ioctl report EEXIST.  Two
    whole ops inside a third: the search's ``OpOrder(insert=(i, j, 2))``."""
    prog = programs.Program.from_json(
        {
            "pages": 4,
            "uffd": [True, True, False],
            "init": [
                [16, 24],
                [17, 139],
                [19, 235],
                [33, 248],
                [34, 40],
                [35, 64],
                [48, 138],
                [49, 164],
                [50, 215],
                [51, 226],
            ],
            "threads": [
                [_mv(34, 18, 2), _mv(32, 18, 2), _mv(32, 48, 1, holes=True)],
                [{"op": "madvise_dontneed", "mm": 0, "addr": 48, "pages": 1}],
                [
                    {"op": "write", "mm": 0, "addr": 48, "value": 129, "folio": ""},
                    _mv(18, 34, 2, holes=True),
                    {"op": "write", "mm": 0, "addr": 48, "value": 63, "folio": ""},
                ],
            ],
        }
    )
    after = _state(
        prog,
        {
            16: 24,
            17: 139,
            18: 40,
            19: 235,
            32: 129,
            33: 248,
            35: 64,
            48: 63,
            49: 164,
            50: 215,
            51: 226,
        },
    )
    results: list[list[Any]] = [[(-17, -17), (-2, -2), (-17, -17)], ["0"], ["0", (-11, 1), "0"]]
    obs = cc.Observed(1, results, cc.model_initial_state(prog, PROTO), after)
    out = cc.classify(prog, obs, PROTO, budget=2000)
    assert out.cls == "violation", out.report()
    assert out.violation is not None and out.violation.startswith("move.result")


@pytest.mark.kernel
@pytest.mark.kernel_repro
def test_holes_livelock_with_one_mover_and_dontneed() -> None:
    """Seen by the concurrent mode: one ALLOW_SRC_HOLES move racing MADV_DONTNEED of its
    source page livelocks (a simpler trigger than docs/findings/holes-livelock.md's two
    movers); the harness's watchdog reports it and the model reproduces it only through
    the move.result livelock (I16)."""
    _skip_if_unavailable()
    prog = programs.Program(
        4,
        [True, True, False],
        [(48, 85)],
        [
            [{"op": "madvise_dontneed", "mm": 0, "addr": 48, "pages": 1}],
            [_mv(32, 48, holes=True)],
        ],
    )
    obs = cc.run_kernel(prog, harness.build(), repeat=200_000, stop=99)
    if obs.livelock is None:
        pytest.skip(f"no livelock in {obs.iterations} rounds (kernel fixed, or not hit)")
    assert obs.livelock == (1, 0)
    out = cc.classify(prog, obs, protocol.get(oracle.kernel_protocol()))
    assert out.cls == "violation", out.report()
    assert out.violation is not None and "livelock" in out.violation
