"""Scenario generators: scenario families that make the protocol's races likely.

One generator serves every search strategy: it draws from a ``Source``, which is either
Hypothesis's ``data`` (so Hypothesis shrinks scenarios as well as schedules) or a seeded
``random.Random`` (the ``random`` and ``pct`` strategies).  Families (threads ≤ 6, ops
per thread ≤ 8, a few VMAs and pages):

* ``mover_walker``  a mover and rmap walkers on the folios it moves (R1-R3);
* ``fork_cow_move`` fork, CoW writes and a move in one mm (R11, R12);
* ``reclaim_move``  reclaim (swap-out, pageout) and moves of the same VMA (I12);
* ``unmap_walker``  munmap/exit/MADV_DONTNEED racing walkers and a mover (R4, R5, R9);
* ``pin_move``      GUP-fast pins racing moves (R10);
* ``movers``        several movers on pages of one VMA (R8);
* ``move_refault``  a mover that sleeps on a folio lock held by reclaim or a walker while
  MADV_DONTNEED and a write fault replace the src page (R9);
* ``fork_teardown`` (no mover) the pages are shared with a child forked in the setup; the
  child's exit or munmap and the parent's munmap or exit tear the anon_vma down while
  walkers that block on its root rwsem walk it (R5: a walker that slept in
  ``folio_lock_anon_vma_read`` holds the root read lock without a reference, and only
  ``anon_vma_free``'s lock/unlock handshake keeps the anon_vma alive under it).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from fuzzlock import scenario

T = TypeVar("T")

WALKERS = (
    "shrink_active_list",
    "page_idle",
    "damon_mkold",
    "damon_young",
    "memory_failure",
    "shrink_folio_list",
)
FAMILIES = (
    "mover_walker",
    "fork_cow_move",
    "reclaim_move",
    "unmap_walker",
    "pin_move",
    "movers",
    "move_refault",
    "fork_teardown",
)
#: walkers that sleep on the root rwsem when its trylock fails (``rwc->try_lock`` unset)
BLOCKING_WALKERS = ("page_idle", "damon_mkold", "damon_young", "memory_failure")

SRC, DST, PAGES = 16, 32, 4


class Source(Protocol):
    def integer(self, lo: int, hi: int) -> int: ...
    def choice(self, seq: Sequence[T]) -> T: ...
    def boolean(self) -> bool: ...


class RandomSource:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self.rng.randrange(len(seq))]

    def boolean(self) -> bool:
        return self.rng.random() < 0.5


class HypothesisSource:
    """Draws through ``data.draw`` so Hypothesis can shrink the scenario."""

    def __init__(self, data: Any) -> None:
        from hypothesis import strategies as st

        self.data = data
        self.st = st

    def integer(self, lo: int, hi: int) -> int:
        return int(self.data.draw(self.st.integers(lo, hi)))

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self.integer(0, len(seq) - 1)]

    def boolean(self) -> bool:
        return bool(self.data.draw(self.st.booleans()))


def _mmap(vma: str, start: int, mm: int = 0, uffd: bool = True) -> dict[str, Any]:
    return {"op": "mmap", "mm": mm, "vma": vma, "start": start, "pages": PAGES, "uffd": uffd}


def _base(src: Source, npages: int, src_uffd: bool = True) -> list[dict[str, Any]]:
    # only dst must be registered; an unregistered src lets write faults refill it
    setup = [_mmap("src", SRC, uffd=src_uffd), _mmap("dst", DST)]
    for i in range(npages):
        setup.append({"op": "write", "mm": 0, "addr": SRC + i, "value": 100 + i, "folio": f"F{i}"})
    return setup


def _move(src: Source, npages: int, src_off: int = 0, dst_off: int = 0) -> dict[str, Any]:
    length = src.integer(1, max(1, npages - src_off))
    mode = ["ALLOW_SRC_HOLES"] if src.integer(0, 3) == 0 else []
    return {
        "op": "move",
        "mm": 0,
        "dst": DST + dst_off,
        "src": SRC + src_off,
        "len": length,
        "mode": mode,
    }


def _walker(src: Source, npages: int) -> dict[str, Any]:
    op: dict[str, Any] = {"op": src.choice(WALKERS), "folio": f"F{src.integer(0, npages - 1)}"}
    if op["op"] == "shrink_folio_list":
        op["ignore_references"] = src.boolean()
    return op


def gen_scenario(src: Source, family: str | None = None) -> scenario.Scenario:
    """One scenario of ``family`` (drawn if None)."""
    fam = family or src.choice(FAMILIES)
    npages = src.integer(1, 3)
    setup = _base(src, npages, src_uffd=fam != "move_refault")
    threads: list[dict[str, Any]] = []
    if fam == "fork_teardown":
        return _fork_teardown(src, npages, setup)
    mover_ops = [_move(src, npages)]
    if src.boolean():
        mover_ops.append({"op": "read", "mm": 0, "addr": DST})
    threads.append({"name": "mover", "ops": mover_ops})
    if fam == "mover_walker":
        for k in range(src.integer(1, 3)):
            ops = [_walker(src, npages) for _ in range(src.integer(1, 2))]
            threads.append({"name": f"walker{k}", "ops": ops})
    elif fam == "fork_cow_move":
        forker = [{"op": "fork", "mm": 0, "child": 1}]
        if src.boolean():
            forker.append({"op": "write", "mm": 1, "addr": SRC, "value": 7})
        if src.boolean():
            forker.append({"op": "exit", "mm": 1})
        threads.append({"name": "fork", "ops": forker})
        threads.append(
            {
                "name": "cow",
                "ops": [
                    {"op": "write", "mm": 0, "addr": SRC + src.integer(0, npages - 1), "value": 9}
                ],
            }
        )
        if src.boolean():
            threads.append({"name": "walker", "ops": [_walker(src, npages)]})
    elif fam == "reclaim_move":
        if src.boolean():
            setup.append({"op": "madvise_pageout", "mm": 0, "addr": SRC, "pages": 1})
        threads.append(
            {
                "name": "reclaim",
                "ops": [
                    {
                        "op": src.choice(("madvise_pageout", "madvise_cold")),
                        "mm": 0,
                        "addr": SRC,
                        "pages": npages,
                    }
                ],
            }
        )
        threads.append(
            {"name": "reader", "ops": [{"op": "read", "mm": 0, "addr": src.choice((SRC, DST))}]}
        )
        if src.boolean():
            threads.append({"name": "walker", "ops": [_walker(src, npages)]})
    elif fam == "unmap_walker":
        kill = src.choice(("munmap", "exit", "madvise_dontneed"))
        if kill == "munmap":
            op = {"op": "munmap", "mm": 0, "addr": SRC, "pages": PAGES}
        elif kill == "exit":
            op = {"op": "exit", "mm": 0}
        else:
            op = {"op": "madvise_dontneed", "mm": 0, "addr": SRC, "pages": npages}
        unmapper = [op]
        if kill == "madvise_dontneed" and src.boolean():
            unmapper.append({"op": "write", "mm": 0, "addr": SRC, "value": 5})
        threads.append({"name": kill, "ops": unmapper})
        for k in range(src.integer(1, 2)):
            threads.append({"name": f"walker{k}", "ops": [_walker(src, npages)]})
    elif fam == "pin_move":
        pinner = [{"op": "pin", "mm": 0, "addr": SRC + src.integer(0, npages - 1)}]
        if src.boolean():
            pinner.append({"op": "unpin"})
        threads.append({"name": "gup", "ops": pinner})
        if src.boolean():
            threads.append({"name": "walker", "ops": [_walker(src, npages)]})
    elif fam == "move_refault":
        holder = src.choice(("shrink_folio_list", "page_idle", "memory_failure", "migrate"))
        threads.append({"name": "locker", "ops": [{"op": holder, "folio": "F0"}]})
        threads.append(
            {
                "name": "refault",
                "ops": [
                    {"op": "madvise_dontneed", "mm": 0, "addr": SRC, "pages": 1},
                    {"op": "write", "mm": 0, "addr": SRC, "value": 9},
                ],
            }
        )
    else:  # movers
        for k in range(src.integer(1, 2)):
            off = src.integer(0, npages - 1)
            dst_off = 0 if src.boolean() else off
            threads.append({"name": f"mover{k + 1}", "ops": [_move(src, npages, off, dst_off)]})
        if src.boolean():
            threads.append({"name": "walker", "ops": [_walker(src, npages)]})
    return scenario.from_json({"setup": setup, "threads": threads})


def _fork_teardown(src: Source, npages: int, setup: list[dict[str, Any]]) -> scenario.Scenario:
    """R5's shape.  The setup forks, so src's anon_vma tree spans parent and child and
    every src page is mapped twice (and !PAE: no mover, a move would only fail with
    -EBUSY).  The two teardowns race blocking walkers: one teardown's ``unlink_anon_vmas``
    holds the root write lock when a walker's trylock fails; the walker pins the anon_vma,
    sees the page still mapped (by the other mm) and sleeps on the root; the other teardown
    zaps the last PTE, unlinks and drops the last reference while the walker holds the
    root read lock without a reference.  (The fork is in the setup because a fork inside
    a thread makes the interleaving ~10x rarer; such a scenario runs on the Python model
    until the C model has setup forks.)"""
    setup.append({"op": "fork", "mm": 0, "child": 1})
    child = src.choice(
        ({"op": "exit", "mm": 1}, {"op": "munmap", "mm": 1, "addr": SRC, "pages": PAGES})
    )
    parent = src.choice(
        ({"op": "munmap", "mm": 0, "addr": SRC, "pages": PAGES}, {"op": "exit", "mm": 0})
    )
    threads: list[dict[str, Any]] = [
        {"name": "child", "ops": [child]},
        {"name": "parent", "ops": [parent]},
    ]
    # memory-failure first: its walk runs in an RCU read section, so a free anywhere in
    # it shows when it leaves; page_idle/DAMON touch the anon_vma at fewer steps
    for k in range(src.integer(1, 2)):
        op = "memory_failure" if k == 0 else src.choice(BLOCKING_WALKERS)
        walker = {"op": op, "folio": f"F{src.integer(0, npages - 1)}"}
        threads.append({"name": f"walker{k}", "ops": [walker]})
    return scenario.from_json({"setup": setup, "threads": threads})


def hypothesis_scenarios(family: str | None = None) -> Any:
    """A Hypothesis strategy of scenarios (draws through the same generator)."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw: Any) -> scenario.Scenario:
        class _Draw:
            def draw(self, s: Any) -> Any:
                return draw(s)

        return gen_scenario(HypothesisSource(_Draw()), family)

    return build()
