"""The races of docs/protocol.md#races (R1-R12), one by one, on the Python model (R5 at the walk's
end on the C model too).

For each race the model can express, two things are checked:

(a) with the knob that removes the protection, an explicit, hard-coded schedule (a decision
    list, docs/design.md#decision-rule) breaks the invariant the race is about.  Each list
    was found with ``RandomChooser`` (or a small preemption-bounded search) and then shrunk
    (trailing zeros dropped, entries deleted or zeroed while the outcome stayed);
(b) on the real protocols, the same scenario is clean: the explicit lists plus ``SEEDS``
    random schedules all finish without a violation.

"Real" here means v6.18 and v6.19 with ``move.reset_err_on_retry=true``, the later upstream
fix of ``move_pages``' sticky -EAGAIN.  Without it, a move that races with anything that
changes its src PTE (a walker clearing the young bit is enough) moves the page but returns
-EEXIST: a kernel finding, not a model bug (docs/kernel-notes/move.md), shown on its own by
``test_kernel_finding_sticky_eagain_makes_a_move_report_eexist_after_moving_the_page``.
All knob tests use the fix too, so the knob under test is the only difference from the real
protocol.

Not modelled, so not here: KSM (R11's KSM half), VMA split/merge/mremap (R6's second
half).  R7 is shown with migration when the model has the ``migrate`` op, and always with
the other walkers of the same anon_vma tree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import pytest

from fuzzlock import model, native, protocol, scenario
from fuzzlock.model import ModelRun
from fuzzlock.protocol import Protocol
from fuzzlock.scenario import Scenario
from fuzzlock.sched import RandomChooser
from fuzzlock.trace import render_table
from tests.native_required import require_native_model

SEEDS = 200  # random schedules per scenario and real protocol
PREEMPT = 0.3
REAL = ("v6.18", "v6.19")
FINISHED = "finished"


# --- helpers -----------------------------------------------------------------------------------


def proto(base: str, knobs: dict[str, Any] | None = None) -> Protocol:
    """``base`` with the sticky -EAGAIN fix and ``knobs``."""
    return protocol.get(base, {"move.reset_err_on_retry": True, **(knobs or {})})


def build(setup: list[dict[str, Any]], *threads: tuple[str, list[dict[str, Any]]]) -> Scenario:
    return scenario.from_json(
        {"setup": setup, "threads": [{"name": n, "ops": ops} for n, ops in threads]}
    )


def explain(r: ModelRun) -> str:
    v = r.violation
    head = v.one_line() if v is not None else r.outcome
    table = render_table(
        r.result.events, r.result.thread_names, highlight_step=v.step if v is not None else None
    )
    return f"{head}\nresults {r.results}\ndecisions {r.result.decisions}\n{table}"


def replay(sc: Scenario, p: Protocol, decisions: Sequence[int], want: str) -> ModelRun:
    r = model.run(sc, p, decisions=list(decisions))
    assert r.outcome == want, f"{p.name}: expected {want}, got {r.outcome}\n{explain(r)}"
    return r


def assert_clean(
    sc: Scenario, p: Protocol, explicit: Iterable[Sequence[int]] = (), seeds: int = SEEDS
) -> list[ModelRun]:
    """Every explicit decision list and ``seeds`` random schedules finish cleanly."""
    runs = []
    for d in explicit:
        r = model.run(sc, p, decisions=list(d))
        assert r.outcome == FINISHED, f"{p.name}, decisions {list(d)}:\n{explain(r)}"
        runs.append(r)
    for seed in range(seeds):
        r = model.run(sc, p, chooser=RandomChooser(seed, preempt=PREEMPT))
        assert r.outcome == FINISHED, f"{p.name}, RandomChooser({seed}):\n{explain(r)}"
        runs.append(r)
    return runs


# --- scenarios -----------------------------------------------------------------------------------

SRC = {"op": "mmap", "mm": 0, "vma": "src", "start": 16, "pages": 4}
SRC_UFFD = {**SRC, "uffd": True}
DST = {"op": "mmap", "mm": 0, "vma": "dst", "start": 32, "pages": 4, "uffd": True}
X = {"op": "mmap", "mm": 0, "vma": "x", "start": 48, "pages": 4, "uffd": True}
WRITE_F = {"op": "write", "mm": 0, "addr": 16, "value": 7, "folio": "F"}
WRITE_G = {"op": "write", "mm": 0, "addr": 17, "value": 8, "folio": "G"}
MOVE = {"op": "move", "mm": 0, "dst": 32, "src": 16, "len": 1}
MUNMAP_SRC = {"op": "munmap", "mm": 0, "addr": 16, "pages": 4}
FORK = {"op": "fork", "mm": 0, "child": 1}


def mover_vs(walker: str) -> Scenario:
    """One page moved from src to dst (different anon_vma roots) while ``walker`` walks F."""
    return build(
        [SRC_UFFD, DST, WRITE_F], ("mover", [MOVE]), ("walker", [{"op": walker, "folio": "F"}])
    )


def unmap_vs(walker: str) -> Scenario:
    """munmap of src (zap, unlink, free the anon_vma) while ``walker`` walks F."""
    return build(
        [SRC, WRITE_F], ("unmapper", [MUNMAP_SRC]), ("walker", [{"op": walker, "folio": "F"}])
    )


FORK_VS_MF = build(
    [SRC, WRITE_F], ("fork", [FORK]), ("mf", [{"op": "memory_failure", "folio": "F"}])
)
HAS_MIGRATE = "migrate" in scenario.OPS  # migration is being added to the model
FORK_VS_MIGRATE = (
    build([SRC, WRITE_F], ("fork", [FORK]), ("migrate", [{"op": "migrate", "folio": "F"}]))
    if HAS_MIGRATE
    else None
)
FORK_VS_RECLAIM = build(
    [SRC, WRITE_F],
    ("fork", [FORK]),
    ("reclaim", [{"op": "shrink_folio_list", "folio": "F", "ignore_references": True}]),
)
TWO_MOVERS_SAME_DST = build(
    [SRC, DST, WRITE_F, WRITE_G],
    ("moverA", [MOVE]),
    ("moverB", [{"op": "move", "mm": 0, "dst": 32, "src": 17, "len": 1}]),
)
# mover sleeps on F's lock while mover2 moves F away (src -> x) and then G into src
SRC_REFILLED = build(
    [SRC_UFFD, DST, X, WRITE_F, WRITE_G],
    ("mover", [MOVE]),
    (
        "mover2",
        [
            {"op": "move", "mm": 0, "dst": 48, "src": 16, "len": 1},
            {"op": "move", "mm": 0, "dst": 16, "src": 17, "len": 1},
        ],
    ),
)
MOVE_VS_PIN = build(
    [SRC, DST, WRITE_F],
    ("mover", [MOVE]),
    ("pinner", [{"op": "pin", "mm": 0, "addr": 16}, {"op": "unpin"}]),
)
COW_REUSE = build(
    [SRC, WRITE_F, FORK],
    ("exit", [{"op": "exit", "mm": 1}]),
    ("writer", [{"op": "write", "mm": 0, "addr": 16, "value": 9}]),
    ("reclaim", [{"op": "shrink_folio_list", "folio": "F"}]),
)
R5_FORK_TEARDOWN = build(
    [SRC, WRITE_F, FORK],
    ("child", [{"op": "exit", "mm": 1}]),
    ("parent", [MUNMAP_SRC]),
    ("mf", [{"op": "memory_failure", "folio": "F"}]),
)
# R5 at the walk's end: the same teardown against the walkers that walk without a reference
R5_UNLOCK_WALKERS = ("page_idle", "damon_mkold", "damon_young")
R5_TEARDOWN_VS = {
    walker: build(
        [SRC, WRITE_F, FORK],
        ("child", [{"op": "exit", "mm": 1}]),
        ("parent", [MUNMAP_SRC]),
        ("walker", [{"op": walker, "folio": "F"}]),
    )
    for walker in R5_UNLOCK_WALKERS
}
MOVE_VS_FORK = build([SRC, DST, WRITE_F], ("mover", [MOVE]), ("fork", [FORK]))
MOVE_VS_RECLAIM = build(
    [SRC, DST, WRITE_F], ("mover", [MOVE]), ("reclaim", [{"op": "shrink_folio_list", "folio": "F"}])
)
MOVE_VS_UNMAP_RECLAIM = build(
    [SRC, DST, WRITE_F],
    ("mover", [MOVE]),
    ("reclaim", [{"op": "shrink_folio_list", "folio": "F", "ignore_references": True}]),
)
MOVE_VS_UNMAP_RECLAIM_VS_IDLE = build(
    [SRC, DST, WRITE_F],
    ("mover", [MOVE]),
    ("reclaim", [{"op": "shrink_folio_list", "folio": "F", "ignore_references": True}]),
    ("idle", [{"op": "page_idle", "folio": "F"}]),
)
MOVE_VS_PAGEOUT = build(
    [SRC, DST, WRITE_F],
    ("pageout", [{"op": "madvise_pageout", "mm": 0, "addr": 16, "pages": 1}]),
    ("mover", [MOVE]),
    ("idle", [{"op": "page_idle", "folio": "F"}]),
)

# --- the hard-coded counterexamples ------------------------------------------------------------

D_R1 = [1, 1, 1, 0, 0, 0, 1]
D_R2 = [1] * 16
D_R3 = {
    ("shrink_active_list", "walk.referenced_active_lock"): [1] * 10,
    ("page_idle", "walk.page_idle_lock"): [1] * 10,
    ("damon_mkold", "walk.damon_lock"): [1] * 10,
    ("damon_young", "walk.damon_lock"): [1] * 10,
    ("memory_failure", "walk.memory_failure_lock"): [1] * 6,
}
D_R3_TRYLOCK_FAILS = [0] * 23 + [1]
D_R4 = {"v6.18": [1, 0, 0, 0, 1], "v6.19": [1, 0, 0, 0, 0, 1]}
D_R5 = {
    "v6.18": [1] + [0] * 7 + [1] + [0] * 17 + [1, 0, 0, 1],
    "v6.19": [1, 1, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 1] + [0] * 12 + [1, 0, 1],
}
D_R5_UNLOCK = {
    "v6.18": [2, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1]
    + [0] * 14
    + [1, 0, 0, 0, 1]
    + [0] * 6
    + [1],
    "v6.19": [1, 0, 0, 0, 0, 0, 1, 0, 1, 2, 0, 0, 2, 0, 2, 2, 0, 0, 0, 0, 0, 2, 0, 0, 1]
    + [0] * 6
    + [1, 0, 0, 0, 1]
    + [0] * 6
    + [1],
}
D_R7 = [0, 0, 0, 0, 0, 0, 1, 1, 0, 1]
D_R7_MIGRATE = {
    "v6.18": [1] + [0] * 13 + [1, 1, 1, 1] + [0] * 7 + [1],
    "v6.19": [1] + [0] * 13 + [1, 1, 1, 1] + [0] * 6 + [1],
}
D_R8 = {
    "v6.18": [0] * 12 + [1, 1, 0, 0, 0, 0, 0, 0, 1],
    "v6.19": [0, 0, 0, 0, 0, 0, 1, 1, 1] + [0] * 8 + [1],
}
D_R9 = [1] + [0] * 21 + [1] + [0] * 18 + [1]
D_R10 = {"v6.18": [0] * 35 + [1, 0, 1], "v6.19": [0] * 28 + [1, 0, 1]}
D_R11: list[int] = []
D_R12_FORK = [1]
D_STICKY = [1, 0, 0, 0, 0, 0, 0, 0, 1]
D_SLEEP = [1] * 8
D_LOCK_ORDER = [1, 1, 1, 1]
D_SWAP = {"v6.18": [1] * 15, "v6.19": [1, 1, 1]}


# --- R1 ------------------------------------------------------------------------------------------


def test_r1_without_mapping_recheck_walker_walks_the_stale_anon_vma_and_misses_the_moved_page() -> (
    None
):
    """R1 (v6.18, ``walk.recheck_mapping=false``): folio_referenced reads ``mapping`` = AVs
    under RCU; the move completes (F now at dst, mapping AVd); the walker trylocks AVs's
    root, F is still mapped, and without the recheck it walks AVs at the new index and
    misses the mapping at dst.  docs/protocol.md#r1's version adds a munmap and slab reuse of AVs;
    the model needs neither: a stale anon_vma already loses the mapping (``walk.complete``).
    """
    r = replay(
        mover_vs("shrink_active_list"),
        proto("v6.18", {"walk.recheck_mapping": False}),
        D_R1,
        "walk.complete",
    )
    assert "dst" in r.violation.message
    assert r.results[0] == ["ret=0,move=1"]


# --- R2 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "p",
    [proto("v6.18", {"move.anon_vma_lock": False}), proto("patch2-only")],
    ids=["v6.18+move.anon_vma_lock=false", "patch2-only"],
)
def test_r2_without_the_movers_root_write_lock_a_walker_past_the_recheck_misses_the_page(
    p: Protocol,
) -> None:
    """R2: memory-failure's folio_lock_anon_vma_read read-locks AVs's root and passes the
    recheck (mapping = AVs); the move, no longer blocked by the root write lock, sets
    mapping = AVd and index = idx_d and moves the PTE; the walker reads the new index, walks
    AVs at it and misses the page at dst: that task would not be killed (``walk.complete``).
    The same schedule does it on patch2-only (v6.18 plus patch 2: this change and the
    dropped batch anon_vma check)."""
    r = replay(mover_vs("memory_failure"), p, D_R2, "walk.complete")
    assert r.violation.fn == "collect_procs_anon"


# --- R3 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("walker", "knob"), list(D_R3), ids=[f"{w}-{k}" for w, k in D_R3])
def test_r3_v619_walker_without_its_folio_lock_misses_the_moved_page(
    walker: str, knob: str
) -> None:
    """R3: v6.19 dropped both the mapping recheck and the mover's anon_vma lock; the folio
    lock on every walker is what covers R1 and R2.  Remove it from one walker and that
    walker loses the page the move relocates (``walk.complete``)."""
    replay(mover_vs(walker), proto("v6.19", {knob: "none"}), D_R3[(walker, knob)], "walk.complete")


def test_r3_v619_walker_trylock_fails_while_the_mover_holds_the_folio_and_reports_referenced() -> (
    None
):
    """R3 the other way round, on v6.19 itself: the mover holds F's lock, folio_referenced's
    trylock fails and it returns ``walk.trylock_fail_result`` (1) without walking."""
    r = replay(mover_vs("shrink_active_list"), proto("v6.19"), D_R3_TRYLOCK_FAILS, FINISHED)
    walker_trylocks = [e for e in r.result.events if e[1] == 1 and e[3] == "trylock"]
    assert walker_trylocks and walker_trylocks[0][4] == "folio:0" and walker_trylocks[0][5] == "0"
    assert not any(e[1] == 1 and e[2] == "rmap_walk_anon" for e in r.result.events)
    assert r.results == [["ret=0,move=1"], ["1"]]


# --- R4 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("base", REAL)
def test_r4_without_the_mapped_check_after_lock_walker_uses_a_freed_anon_vma(base: str) -> None:
    """R4 (``walk.check_mapped_after_lock=false``): memory-failure reads ``mapping`` = AV
    while F is mapped; munmap zaps the last PTE, unlinks and frees AV; the walker's trylock
    on the dead root succeeds, it does not notice F is unmapped, leaves RCU and walks the
    freed anon_vma's tree (``uaf``).  Same on both versions: v6.19's folio lock does not
    stop a zap."""
    r = replay(
        unmap_vs("memory_failure"),
        proto(base, {"walk.check_mapped_after_lock": False}),
        D_R4[base],
        "uaf",
    )
    assert "anon_vma:0" in r.violation.message


# --- R5 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("base", REAL)
def test_r5_without_the_free_handshake_a_walker_that_slept_on_the_root_walks_a_freed_anon_vma(
    base: str,
) -> None:
    """R5 (``anon_vma.free_handshake=false``).  F is shared with a forked child.  The
    parent's munmap zaps its PTE and holds the root write lock in ``unlink_anon_vmas``;
    memory-failure's ``folio_lock_anon_vma_read`` fails its trylock, pins the anon_vma,
    sees F still mapped (by the child) and sleeps in ``anon_vma_lock_read``.  The child's
    exit zaps the last PTE and unlinks; the walker gets the read lock and drops its pin
    (not the last reference: the child's unlink still holds one); then the child's
    ``put_anon_vma`` frees the anon_vma while the walker holds its rwsem with neither a
    reference nor RCU, and the walk touches freed memory (``uaf``).  The handshake (take
    and drop the write lock when the rwsem is locked) makes the free wait for the walker:
    that slow path returns with only the read lock held and no mapped recheck, so the
    handshake is what keeps the anon_vma alive ("holding the mutex ensures that it will
    not go away, see anon_vma_free()").  Found by the ``fork_teardown`` scenario family."""
    r = replay(R5_FORK_TEARDOWN, proto(base, {"anon_vma.free_handshake": False}), D_R5[base], "uaf")
    assert "anon_vma:0" in r.violation.message
    assert r.violation.fn == "collect_procs_anon"


BACKENDS = ("python", "native")


def run_on(backend: str, sc: Scenario, p: Protocol, decisions: Sequence[int]) -> tuple[str, list]:
    """(outcome, events) of one replay on ``backend``; the native one is skipped when the C
    model is unavailable (a failure under FUZZLOCK_REQUIRE_NATIVE)."""
    if backend == "python":
        r = model.run(sc, p, decisions=list(decisions))
        return r.outcome, [tuple(e) for e in r.result.events]
    require_native_model()
    outcome, events, *_ = native.run_model(sc.dumps(), p.knobs, list(decisions))
    return outcome, [tuple(e) for e in events]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("base", REAL)
@pytest.mark.parametrize("walker", R5_UNLOCK_WALKERS)
def test_r5_without_the_free_handshake_the_anon_vma_is_freed_before_the_walkers_up_read(
    walker: str, base: str, backend: str
) -> None:
    """R5 at the end of the walk (``anon_vma.free_handshake=false``).  As in the test
    above, the walker (page_idle or DAMON: ``rmap_walk_anon`` without a reference) sleeps
    in ``anon_vma_lock_read``, gets the rwsem and drops its pin; its next step reads the
    folio index and walks the (by now empty) tree.  Only then does the child's
    ``put_anon_vma`` free the anon_vma, and the walker's very next step is
    ``anon_vma_unlock_read``: ``up_read(&anon_vma->root->rwsem)`` on freed memory
    (``uaf`` on that step, on both backends).  The liveness check belongs to the up_read
    step itself: checked at the end of the walker's previous step, before the free, this
    interleaving finished clean.  With the handshake the free waits for the up_read."""
    sc = R5_TEARDOWN_VS[walker]
    d = D_R5_UNLOCK[base]
    outcome, events = run_on(backend, sc, proto(base, {"anon_vma.free_handshake": False}), d)
    assert outcome == "uaf", f"{backend} {base} {walker}: {outcome}\n{events}"
    assert events[-1][1:] == (2, "rmap_walk_anon", "up_read", "anon_vma:0", "!")
    # the free falls exactly between the walker's previous step and its up_read
    assert events[-2][1:5] == (0, "anon_vma_free", "write", "anon_vma:0")
    walker_steps = [e for e in events[:-1] if e[1] == 2]
    assert walker_steps[-1][2:5] == ("rmap_walk_anon", "read", "folio:0.index")
    assert walker_steps[-1][0] < min(e[0] for e in events if e[2] == "anon_vma_free")
    # and the walker held the rwsem across it
    assert ("folio_lock_anon_vma_read", "down_read", "anon_vma:0") in [e[2:5] for e in events]

    outcome, events = run_on(backend, sc, proto(base), d)
    assert outcome == FINISHED, f"{backend} {base} {walker} with the handshake:\n{events}"


# --- R6 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("base", REAL)
def test_r6_fork_vs_walker_is_clean_and_the_walker_sees_the_child_before_or_after(
    base: str,
) -> None:
    """R6: anon_vma_clone/anon_vma_fork change the tree only under the root write lock, so
    memory-failure, holding the root read lock, sees the tree before or after the child is
    linked, never half-way.  The schedules really interleave: across them the walker's kill
    list is sometimes only the parent (mm 0) and sometimes parent and child (mm 0 and 1)."""
    runs = assert_clean(FORK_VS_MF, proto(base), [D_R7])
    kills = Counter(r.results[1][0] for r in runs)
    assert set(kills) == {"0", "0,1"}, kills


# --- R7 ------------------------------------------------------------------------------------------


def test_r7_fork_copying_ptes_before_linking_hides_the_child_mapping_from_walkers() -> None:
    """R7 (``fork.link_before_copy=false``): fork copies F's PTE into the child before the
    child VMA is linked into the anon_vma tree.  Besides migration (next test), two other
    walkers of the same tree show the same hole: memory-failure and reclaim's try_to_unmap
    walk in the window and miss the child's mapping (``walk.complete``: the child would not
    be killed / would keep F mapped; with migration it would keep a migration entry to a
    freed folio).  With no walker at all, the state check already sees the window: the
    child's PTE is not reachable from F's anon_vma (``rmap.reachable``)."""
    p = proto("v6.18", {"fork.link_before_copy": False})
    r = replay(FORK_VS_MF, p, D_R7, "walk.complete")
    assert "src.c1" in r.violation.message
    replay(FORK_VS_RECLAIM, p, D_R7, "walk.complete")
    r = replay(FORK_VS_MF, p, [], "rmap.reachable")
    assert "src.c1" in r.violation.message


@pytest.mark.skipif(not HAS_MIGRATE, reason="the model has no migrate op")
@pytest.mark.parametrize("base", REAL)
def test_r7_fork_copying_ptes_before_linking_leaves_a_migration_entry_unreachable(
    base: str,
) -> None:
    """R7 itself (``fork.link_before_copy=false``): migration locks F and replaces the
    parent's PTE with a migration entry; fork copies that entry into the child before the
    child VMA is linked into F's anon_vma, so ``remove_migration_ptes`` could not reach it
    (``migration.reachable``, I13)."""
    assert FORK_VS_MIGRATE is not None
    p = proto(base, {"fork.link_before_copy": False})
    r = replay(FORK_VS_MIGRATE, p, D_R7_MIGRATE[base], "migration.reachable")
    assert "src.c1" in r.violation.message


# --- R8 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("base", REAL)
def test_r8_without_dst_recheck_two_movers_to_one_dst_leak_a_folio_mapcount(base: str) -> None:
    """R8 (``move.recheck_dst_under_ptl=false``): both movers see dst none; A installs
    its page, B installs over it; A's folio keeps mapcount 1 with no PTE (``folio.mapcount``)."""
    r = replay(
        TWO_MOVERS_SAME_DST,
        proto(base, {"move.recheck_dst_under_ptl": False}),
        D_R8[base],
        "folio.mapcount",
    )
    assert "mapcount 1 but 0 PTE(s)" in r.violation.message


# --- R9 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "want"), [("v6.19", "rmap.reachable"), ("v6.18", "lock.write-discipline")]
)
def test_r9_without_src_recheck_after_sleep_the_mover_moves_another_folios_pte(
    base: str, want: str
) -> None:
    """R9 (``move.recheck_src_after_sleep=false``): the mover reads src -> F, F's trylock
    fails (mover2 holds it) and it sleeps; mover2 moves F away to x and moves G into src;
    the mover wakes holding F, and without the pte_same recheck moves G's PTE to dst while
    rewriting F's mapping/index.  v6.19: F, mapped at x, now points at dst's anon_vma
    (``rmap.reachable``).  v6.18 stops one step earlier: that store changes F's root without
    the old root's write lock (``lock.write-discipline``, I8's pre-patch rule).

    docs/protocol.md#r9's own shape (MADV_DONTNEED src, then a write fault maps a new folio there
    while the mover sleeps on F's lock held by reclaim) is found by the ``move_refault``
    scenario family of fuzzlock.scenarios."""
    r = replay(SRC_REFILLED, proto(base, {"move.recheck_src_after_sleep": False}), D_R9, want)
    assert "folio:0" in r.violation.message


# --- R10 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("base", REAL)
def test_r10_rmap_update_before_the_pin_check_changes_src_of_a_failed_move(
    base: str,
) -> None:
    """R10 (``move.pin_check_before_rmap_update=false``, the order before Qi Zheng's 2024
    fix): GUP-fast pins F between the move's first pin check and the one after clearing the
    src PTE; the move has already pointed F's mapping/index at dst, then sees the pin, puts
    the src PTE back and fails with -EBUSY.  I11 ("on any error return, src is unchanged")
    catches it at the rollback, before the broken rmap (F mapped at src, rmap saying dst)
    would show as ``rmap.reachable`` once the PTLs are dropped."""
    r = replay(
        MOVE_VS_PIN,
        proto(base, {"move.pin_check_before_rmap_update": False}),
        D_R10[base],
        "move.post-state",
    )
    assert "failed but changed it" in r.violation.message


# --- R11 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("base", REAL)
def test_r11_cow_reuse_without_the_folio_lock_moves_the_rmap_unlocked(base: str) -> None:
    """R11 (``cow.reuse_lock=none``): after fork the page is shared read-only; once the child
    exits, the parent's write fault reuses it (refcount 1) and ``folio_move_anon_rmap``
    stores ``mapping`` without the folio lock (``lock.write-discipline``), while reclaim may
    hold that lock with F in the swap cache.  No preemption is needed: every reuse breaks I8.
    The KSM half of R11 is not modelled."""
    r = replay(COW_REUSE, proto(base, {"cow.reuse_lock": "none"}), D_R11, "lock.write-discipline")
    assert r.violation.fn == "wp_can_reuse_anon_folio"


# --- R12 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("base", REAL)
def test_r12_fork_without_clearing_exclusive_leaves_a_shared_page_exclusive(base: str) -> None:
    """R12 / I5 (``fork.clear_exclusive=false``): after fork F is mapped by parent and child
    but still PageAnonExclusive (``folio.exclusive``)."""
    replay(MOVE_VS_FORK, proto(base, {"fork.clear_exclusive": False}), [], "folio.exclusive")


@pytest.mark.parametrize("base", REAL)
def test_r12_move_without_exclusive_check_maps_a_shared_page_writable(base: str) -> None:
    """R12 (``move.check_exclusive=false``): fork runs first (move is serialized against it,
    so it sees the post-fork state); the real move would fail with -EBUSY on the !PAE page,
    without the check it moves the shared page and maps it writable at dst
    (``folio.exclusive``: writable implies PAE)."""
    r = replay(
        MOVE_VS_FORK, proto(base, {"move.check_exclusive": False}), D_R12_FORK, "folio.exclusive"
    )
    assert "dst" in r.violation.message


# --- other knobs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("base", REAL)
def test_move_sleeping_on_the_folio_lock_with_ptes_mapped_is_sleep_in_atomic(base: str) -> None:
    """``move.unmap_before_sleep=false``: reclaim holds F's lock, the mover's trylock fails
    and it sleeps in folio_lock between pte_offset_map and pte_unmap (``sleep-in-atomic``)."""
    replay(
        MOVE_VS_RECLAIM, proto(base, {"move.unmap_before_sleep": False}), D_SLEEP, "sleep-in-atomic"
    )


def test_move_taking_the_anon_vma_before_the_folio_lock_deadlocks_with_reclaim() -> None:
    """``move.lock_order=anon-vma-first`` (v6.18): the mover write-locks the root and waits
    for F's lock; reclaim holds F and waits for the root in try_to_unmap (``deadlock``).
    The cycle also shows without a deadlock (lockdep's ``lock.order``) when page_idle makes
    the mover retry (``move-vs-reclaim-unmap-vs-idle``), but only in about 1 of 2000 random
    schedules, with an 80-decision list too brittle to hard-code here."""
    r = replay(
        MOVE_VS_UNMAP_RECLAIM,
        proto("v6.18", {"move.lock_order": "anon-vma-first"}),
        D_LOCK_ORDER,
        "deadlock",
    )
    assert "folio:0" in r.violation.message and "anon_vma:0" in r.violation.message


@pytest.mark.parametrize("base", REAL)
def test_swap_move_without_moving_the_rmap_breaks_the_swap_cache_check(base: str) -> None:
    """``move.swap_moves_rmap=false``: the page is swapped out but its folio stays in the
    swap cache (page_idle holds a reference); the move carries the swap entry to dst but
    leaves the folio's mapping/index at src, so the next swap-in at dst would BUG in
    ``__page_check_anon_rmap`` (``swap.rmap``)."""
    r = replay(
        MOVE_VS_PAGEOUT, proto(base, {"move.swap_moves_rmap": False}), D_SWAP[base], "swap.rmap"
    )
    assert "dst" in r.violation.message


def test_unlinking_before_zapping_leaves_mapped_pages_unreachable() -> None:
    """``unmap.zap_before_unlink=false``: munmap removes src from the anon_vma tree while
    its PTE still maps F.  The first invariant to break is I1 (``rmap.reachable``), right
    after the unlink and before the anon_vma is freed (which would be
    ``anon_vma.lifetime``); no preemption is needed."""
    r = replay(
        unmap_vs("shrink_active_list"),
        proto("v6.18", {"unmap.zap_before_unlink": False}),
        [],
        "rmap.reachable",
    )
    assert "src:0x10" in r.violation.message


# --- the kernel finding --------------------------------------------------------------------------


@pytest.mark.parametrize("base", REAL)
def test_kernel_finding_sticky_eagain_makes_a_move_report_eexist_after_moving_the_page(
    base: str,
) -> None:
    """A kernel finding on plain v6.18 and v6.19 (docs/kernel-notes/move.md, "sticky
    -EAGAIN"), kept as an explicit interleaving.  page_idle clears F's young bit while the
    mover waits for F (v6.19: page_idle holds F's lock; v6.18: the mover re-reads the
    changed PTE), so ``move_pages_ptes`` returns -EAGAIN; the retry moves the page but
    ``move_pages`` never resets ``err``, loops again at the same address, finds dst
    populated and returns -EEXIST with ``move`` = -EEXIST although the page moved
    (``move.result``).  With the later upstream fix (``move.reset_err_on_retry=true``) the
    same schedule returns 0, move = 1."""
    sc = mover_vs("page_idle")
    r = replay(sc, protocol.get(base), D_STICKY, "move.result")
    assert "EEXIST" in r.violation.message
    fixed = replay(sc, proto(base), D_STICKY, FINISHED)
    assert fixed.results[0] == ["ret=0,move=1"]


# --- (b): every race scenario is clean on the real protocols -----------------------------------

CLEAN = {
    "R1-referenced-vs-move": (mover_vs("shrink_active_list"), [D_R1, D_R3_TRYLOCK_FAILS]),
    "R2-memory-failure-vs-move": (mover_vs("memory_failure"), [D_R2]),
    "R3-page-idle-vs-move": (
        mover_vs("page_idle"),
        [D_R3[("page_idle", "walk.page_idle_lock")], D_STICKY],
    ),
    "R3-damon-mkold-vs-move": (mover_vs("damon_mkold"), [D_R3[("damon_mkold", "walk.damon_lock")]]),
    "R3-damon-young-vs-move": (mover_vs("damon_young"), [D_R3[("damon_young", "walk.damon_lock")]]),
    "R4-munmap-vs-memory-failure": (unmap_vs("memory_failure"), list(D_R4.values())),
    "R4-munmap-vs-referenced": (unmap_vs("shrink_active_list"), []),
    "R5-fork-teardown-vs-memory-failure": (R5_FORK_TEARDOWN, list(D_R5.values())),
    **{
        f"R5-fork-teardown-vs-{walker}": (R5_TEARDOWN_VS[walker], list(D_R5_UNLOCK.values()))
        for walker in R5_UNLOCK_WALKERS
    },
    "R7-fork-vs-reclaim-unmap": (FORK_VS_RECLAIM, [D_R7]),
    **(
        {"R7-fork-vs-migrate": (FORK_VS_MIGRATE, list(D_R7_MIGRATE.values()))}
        if FORK_VS_MIGRATE is not None
        else {}
    ),
    "R8-two-movers-one-dst": (TWO_MOVERS_SAME_DST, list(D_R8.values())),
    "R9-mover-vs-src-refilled": (SRC_REFILLED, [D_R9]),
    "R10-move-vs-gup-fast-pin": (MOVE_VS_PIN, list(D_R10.values())),
    "R11-cow-reuse-vs-reclaim": (COW_REUSE, [D_R11]),
    "R12-move-vs-fork": (MOVE_VS_FORK, [D_R12_FORK, []]),
    "move-vs-reclaim": (MOVE_VS_RECLAIM, [D_SLEEP]),
    "move-vs-reclaim-unmap": (MOVE_VS_UNMAP_RECLAIM, [D_LOCK_ORDER]),
    "move-vs-reclaim-unmap-vs-idle": (MOVE_VS_UNMAP_RECLAIM_VS_IDLE, []),
    "move-vs-pageout": (MOVE_VS_PAGEOUT, list(D_SWAP.values())),
}


@pytest.mark.parametrize("base", REAL)
@pytest.mark.parametrize("name", list(CLEAN))
def test_race_scenario_has_no_violation_on_the_real_protocol(name: str, base: str) -> None:
    """The real protocol (with the sticky -EAGAIN fix) protects every race above: the
    explicit counterexample schedules and ``SEEDS`` random schedules all finish cleanly."""
    sc, explicit = CLEAN[name]
    assert_clean(sc, proto(base), explicit)
