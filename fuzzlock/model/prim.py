"""Kernel primitives as scheduling points: folio lock and refcount, PTE maps, PTLs,
anon_vma locks.  Each returns one ``Op`` (``yield prim.folio_lock(fn, folio)``) or is a
small generator (``yield from prim.folio_put(w, fn, folio)``).

``fn`` is always the calling kernel function, so the trace reads
``move_pages_ptes: trylock folio:3``.  Temporary folio references are counted per
thread so ``thread.end`` can check that gets and puts balance (I15).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from fuzzlock.model.world import MM, AnonVma, Folio, Pte, World, pte_name
from fuzzlock.sched import Lock, ViolationError, ops

Gen = Generator[ops.Op, Any, Any]

# errnos (positive constants; functions return -EBUSY etc. as in the kernel)
EPERM, ENOENT, ESRCH, EINTR, EFAULT, EAGAIN, ENOMEM, EBUSY, EEXIST, EINVAL = (
    1,
    2,
    3,
    4,
    14,
    11,
    12,
    16,
    17,
    22,
)
ERRNO_NAMES = {
    ENOENT: "ENOENT",
    ESRCH: "ESRCH",
    EINTR: "EINTR",
    EFAULT: "EFAULT",
    EAGAIN: "EAGAIN",
    ENOMEM: "ENOMEM",
    EBUSY: "EBUSY",
    EEXIST: "EEXIST",
    EINVAL: "EINVAL",
    EPERM: "EPERM",
}


def errname(rc: int) -> str:
    return ERRNO_NAMES.get(-rc, str(rc)) if rc < 0 else str(rc)


# --- folio lock --------------------------------------------------------------------------------


def folio_lock(fn: str, f: Folio) -> ops.Op:
    return ops.lock(fn, f.lock)


def folio_trylock(fn: str, f: Folio) -> ops.Op:
    return ops.trylock(fn, f.lock)


def folio_unlock(fn: str, f: Folio) -> ops.Op:
    return ops.unlock(fn, f.lock)


def folio_test_locked_by_me(w: World, f: Folio) -> bool:
    return f.lock.owner == w.tid()


# --- folio references --------------------------------------------------------------------------


def _ref(w: World, f: Folio, delta: int) -> None:
    refs = w.folio_refs.setdefault(w.tid(), {})
    refs[f.id] = refs.get(f.id, 0) + delta


def folio_get(w: World, fn: str, f: Folio) -> ops.Op:
    """``folio_get``: a temporary reference owned by this thread."""

    def get() -> int:
        if f.freed:
            raise ViolationError("folio.refcount", fn, f"folio_get on freed {f.name}", (f.name,))
        f.refcount += 1
        _ref(w, f, +1)
        return f.refcount

    return ops.atomic(fn, f"{f.name}.refcount", get)


def folio_put(w: World, fn: str, f: Folio, owned: bool = True) -> ops.Op:
    """``folio_put``: drop a reference (this thread's own if ``owned``); the last one frees."""

    def put() -> int:
        if f.refcount <= 0 or f.freed:
            raise ViolationError(
                "folio.refcount", fn, f"folio_put underflow on {f.name}", (f.name,)
            )
        f.refcount -= 1
        if owned:
            _ref(w, f, -1)
        if f.refcount == 0:
            free_folio(w, fn, f)
        return f.refcount

    return ops.atomic(fn, f"{f.name}.refcount", put)


def free_folio(w: World, fn: str, f: Folio) -> None:
    """The last reference is gone.  A folio still mapped or cached cannot be freed."""
    if f.mapcount > 0 or f.swap:
        raise ViolationError(
            "folio.refcount",
            fn,
            f"{f.name} freed with mapcount {f.mapcount}{' in swap cache' if f.swap else ''}",
            (f.name,),
        )
    f.freed = True
    f.lru = False


def folio_mapped(fn: str, f: Folio) -> ops.Op:
    """``folio_mapped``: a lock-free read of the mapcount."""
    return ops.read(fn, f"{f.name}.mapcount", lambda: f.mapcount > 0)


def folio_maybe_dma_pinned(fn: str, f: Folio) -> ops.Op:
    return ops.read(fn, f"{f.name}.pincount", lambda: f.pincount > 0)


# --- page tables -------------------------------------------------------------------------------


def pte_offset_map(fn: str, mm: MM, addr: int) -> ops.Op:
    """Map the PTE page (RCU section, no sleeping) and read the PTE lock-free."""
    return ops.pte_map(fn, pte_name(mm, addr), lambda: mm.pte(addr))


def pte_unmap(fn: str, mm: MM, addr: int) -> ops.Op:
    return ops.pte_unmap(fn, pte_name(mm, addr))


def ptep_get(fn: str, mm: MM, addr: int) -> ops.Op:
    """A lock-free PTE read (``ptep_get`` outside the PTL)."""
    return ops.read(fn, pte_name(mm, addr), lambda: mm.pte(addr))


def spin_lock(fn: str, lk: Lock, subclass: int = 0) -> ops.Op:
    return ops.lock(fn, lk, subclass)


def spin_unlock(fn: str, lk: Lock) -> ops.Op:
    return ops.unlock(fn, lk)


def pte_offset_map_lock(w: World, fn: str, mm: MM, addr: int) -> Gen:
    """``pte_offset_map_lock``: map, then take the PTL.  Returns the PTE under the lock."""
    yield pte_offset_map(fn, mm, addr)
    yield spin_lock(fn, w.ptl(mm, addr))
    return mm.pte(addr)


def pte_unmap_unlock(w: World, fn: str, mm: MM, addr: int) -> Gen:
    yield spin_unlock(fn, w.ptl(mm, addr))
    yield pte_unmap(fn, mm, addr)


def double_pt_lock(w: World, fn: str, ptl1: Lock, ptl2: Lock) -> Gen:
    """mm/userfaultfd.c ``double_pt_lock``: two PTLs ordered by address (here by name),
    the second with ``SINGLE_DEPTH_NESTING``; one lock if both are the same."""
    if ptl1 is ptl2:
        yield spin_lock(fn, ptl1)
        return
    a, b = sorted((ptl1, ptl2), key=lambda lk: lk.name)
    yield spin_lock(fn, a)
    yield spin_lock(fn, b, subclass=1)


def double_pt_unlock(w: World, fn: str, ptl1: Lock, ptl2: Lock) -> Gen:
    yield spin_unlock(fn, ptl1)
    if ptl2 is not ptl1:
        yield spin_unlock(fn, ptl2)


def set_pte_at(w: World, mm: MM, addr: int, pte: Pte | None) -> None:
    """Store a PTE; the caller holds its PTL (part of the PTL critical-section step)."""
    w.set_pte(mm, addr, pte)


# --- anon_vma locks ----------------------------------------------------------------------------


def anon_vma_lock_write(fn: str, av: AnonVma) -> ops.Op:
    return ops.down_write(fn, av.root.lock)


def anon_vma_unlock_write(fn: str, av: AnonVma) -> ops.Op:
    return ops.up_write(fn, av.root.lock)


def anon_vma_trylock_write(fn: str, av: AnonVma) -> ops.Op:
    return ops.down_write_trylock(fn, av.root.lock)


def anon_vma_lock_read(fn: str, av: AnonVma) -> ops.Op:
    return ops.down_read(fn, av.root.lock)


def anon_vma_unlock_read(w: World, fn: str, av: AnonVma) -> ops.Op:
    """``anon_vma_unlock_read`` (v6.18/v6.19): ``up_read(&anon_vma->root->rwsem)``.  The
    step reads ``anon_vma->root`` and writes the root's rwsem, so both must be there (live,
    or freed inside this thread's RCU section) when the step *executes*: a walker that
    holds the rwsem but no reference can see the anon_vma freed under it (R5) between its
    previous step and this one.  Outside RCU a freed anon_vma is ``uaf`` here, so the lock
    taken from ``av`` when the op is built is the one the step releases."""
    pool = w.anon_vmas

    def check() -> None:
        mem = pool.deref(av, fn, "root")
        pool.deref(mem.root, fn, "rwsem")

    return ops.up_read(fn, av.root.lock, check)
