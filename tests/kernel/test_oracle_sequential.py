"""Sequential conformance of the model against the running kernel (issue 6; marker ``kernel``).

Random seeded sequences of UFFDIO_MOVE (single/multi-page, with/without ALLOW_SRC_HOLES),
stores, loads, fork (the child stores, loads or exits), MADV_DONTNEED/COLD/PAGEOUT (on a
swap file the oracle creates and removes) run on the live kernel (fuzzlock/oracle/harness.c)
and on the model, compared after every step (fuzzlock/oracle/README.md).  Skipped with one line where
userfaultfd, UFFD_FEATURE_MOVE, root, /proc/kpageflags or gcc is missing.
"""

from __future__ import annotations

from typing import Any

import pytest

from fuzzlock import model, oracle, protocol
from fuzzlock.cli import main
from fuzzlock.oracle import harness
from fuzzlock.oracle import sequential as sq

STEPS = 2000


def _skip_if_unavailable() -> None:
    reason = oracle.skip_reason()
    if reason:
        pytest.skip(reason)


def _w(mm: int, addr: int, value: int) -> dict[str, Any]:
    return {"op": "write", "mm": mm, "addr": addr, "value": value, "folio": ""}


def _r(mm: int, addr: int) -> dict[str, Any]:
    return {"op": "read", "mm": mm, "addr": addr, "folio": ""}


def _mv(dst: int, src: int, n: int = 1, holes: bool = False) -> dict[str, Any]:
    mode = ["ALLOW_SRC_HOLES"] if holes else []
    return {"op": "move", "mm": 0, "dst": dst, "src": src, "len": n, "mode": mode}


def _check(seq: sq.Sequence) -> sq.Mismatch | None:
    p = protocol.get(oracle.kernel_protocol())
    return sq.check_sequence(seq, p, harness.build(), harness.pick_cpu())[0]


# --- the random conformance run ----------------------------------------------------------------


@pytest.mark.kernel
def test_random_sequences_agree_with_the_kernel() -> None:
    """~2,000 random steps (seeded), zero mismatches, bounded time."""
    _skip_if_unavailable()
    s = oracle.run_sequential(steps=STEPS, seed=20261128, time_budget=50.0)
    assert not s.mismatches, "\n\n".join(m.report() for m in s.mismatches)
    assert s.steps >= STEPS, f"only {s.steps} steps in the time budget"
    assert s.seconds < 60


# --- the oracle observes what it claims to (so agreement is not vacuous) -----------------------


@pytest.mark.kernel
def test_fork_shares_frames_and_clears_exclusive_on_the_kernel() -> None:
    """A store, fork: parent and child map one frame, mapcount 2, not PageAnonExclusive;
    moving it is EBUSY; the child's CoW store gives it its own exclusive frame; a move of
    a page only the parent maps succeeds and keeps the frame and PAE."""
    _skip_if_unavailable()
    seq = sq.Sequence(
        4,
        [True, True, False],
        [(16, 7), (17, 8)],
        [
            {"op": "fork", "mm": 0, "child": 1},
            _mv(32, 16),
            _w(1, 16, 9),
            _r(1, 16),
            {"op": "exit", "mm": 1},
            _mv(33, 17),
        ],
    )
    p = protocol.get(oracle.kernel_protocol())
    snaps, violation = sq.model_steps(seq, p)
    assert violation is None
    assert [r for r, _ in snaps] == ["1", (-16, -16), "0", "9", "0", (-16, -16)]
    fork_state = snaps[0][1]
    assert fork_state[(0, 16)] == fork_state[(1, 16)] == ("present", "F0", 2, False)
    assert snaps[2][1][(1, 16)] == ("present", "F2", 1, True)
    assert _check(seq) is None


@pytest.mark.kernel
def test_pageout_swaps_and_swap_in_agrees() -> None:
    """PAGEOUT of an exclusive page gives a swap PTE; fork shares the slot; a read
    swap-in maps it non-exclusive in the parent; a move of the shared swap PTE is EBUSY."""
    _skip_if_unavailable()
    seq = sq.Sequence(
        4,
        [True, True, False],
        [(48, 3), (16, 4)],
        [
            {"op": "madvise_pageout", "mm": 0, "addr": 48, "pages": 1},
            {"op": "madvise_pageout", "mm": 0, "addr": 16, "pages": 1},
            {"op": "fork", "mm": 0, "child": 1},
            _mv(32, 16),
            _r(0, 48),
            _r(1, 48),
            {"op": "exit", "mm": 1},
            _mv(33, 16),
            _w(0, 48, 5),
        ],
    )
    p = protocol.get(oracle.kernel_protocol())
    snaps, _ = sq.model_steps(seq, p)
    assert snaps[0][1][(0, 48)] == ("swap", "S0")
    assert snaps[3][0] == (-16, -16)
    with oracle.env.swap_file() as swap:
        if swap is None:
            pytest.skip("swapon impossible here")
        m = _check(seq)
    assert m is None, m.report()


@pytest.mark.kernel
@pytest.mark.parametrize("knob", ["fork.clear_exclusive=false", "move.check_exclusive=false"])
def test_the_oracle_catches_a_wrong_model(knob: str) -> None:
    """A model variant the kernel contradicts is caught within a few hundred steps."""
    _skip_if_unavailable()
    k, v = protocol.parse_knob_arg(knob)
    s = oracle.run_sequential(steps=1000, seed=1, knobs={k: v}, minimize=False, max_mismatches=1)
    assert s.mismatches, f"{knob}: no mismatch in {s.steps} steps"


# --- the stepwise model runner is the model ----------------------------------------------------


def test_stepwise_model_matches_model_run_on_every_prefix() -> None:
    """The oracle snapshots the world after each op of one run; the results must be those
    of ``model.run`` on the scenario of every prefix (no kernel needed)."""
    import random

    p = protocol.get("v6.18")
    rng = random.Random(5)
    for _ in range(5):
        seq = sq.random_sequence(rng, 12, pageout=True)
        snaps, violation = sq.model_steps(seq, p)
        assert violation is None
        for k in range(1, len(seq.ops) + 1):
            r = model.run(seq.scenario(upto=k), p)
            assert r.violation is None
            want = [sq.fmt_result(o, s[0]) for o, s in zip(seq.ops[:k], snaps[:k])]
            assert r.results[0] == want
            got = sq.normalize(sq._model_state(r.world, seq.addrs()))
            assert got == sq.canonical(snaps[k - 1][1])


# --- model gaps the oracle found, now fixed (fuzzlock/oracle/README.md) ----------------------------


@pytest.mark.kernel
def test_gap_fork_skips_vma_without_anon_vma() -> None:
    """G1: the kernel does not copy a VMA without anon_vma at fork (vma_needs_copy): the
    child has no PTE where the parent had a zero page."""
    _skip_if_unavailable()
    seq = sq.Sequence(4, [True, True, False], [], [_r(0, 49), {"op": "fork", "mm": 0, "child": 1}])
    m = _check(seq)
    assert m is None, m.report()


@pytest.mark.kernel
def test_gap_dontneed_does_not_allocate_page_tables() -> None:
    """G2: MADV_DONTNEED's zap skips a none PMD and allocates nothing, so a later move from
    there is ENOENT (src PMD checked first), not EEXIST.  Without keeper pages."""
    _skip_if_unavailable()
    seq = sq.Sequence(
        4,
        [True, True, False],
        [(17, 5)],
        [{"op": "madvise_dontneed", "mm": 0, "addr": 33, "pages": 1}, _mv(17, 34)],
        keepers=False,
    )
    m = _check(seq)
    assert m is None, m.report()


# --- the command -------------------------------------------------------------------------------


def test_kernel_check_skips_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(oracle, "skip_reason", lambda: "no userfaultfd (testing)")
    assert main(["kernel-check", "--steps", "10"]) == 0
    out = capsys.readouterr().out
    assert out == "kernel-check skipped: no userfaultfd (testing)\n"


@pytest.mark.kernel
def test_kernel_check_command_runs(capsys: pytest.CaptureFixture[str]) -> None:
    _skip_if_unavailable()
    assert main(["kernel-check", "--steps", "100", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "100 steps" in out and "0 mismatch(es)" in out
