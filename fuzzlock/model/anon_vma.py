"""mm/rmap.c, first part: the anon_vma life cycle (allocation, the chain, prepare, clone,
fork, unlink, the last put and the free to the typesafe-by-RCU slab).

PYTEST_DONT_REWRITE

Each function names the kernel function and version it follows.  The rest of mm/rmap.c
(the folio rmap updates and the rmap walk) is in ``rmap``.
"""

from __future__ import annotations

from functools import partial

from fuzzlock.model import prim
from fuzzlock.model.prim import Gen
from fuzzlock.model.world import AVC, VMA, AnonVma, World
from fuzzlock.sched import ops


def anon_vma_alloc(w: World, fn: str) -> Gen:
    """``anon_vma_alloc`` (v6.18/v6.19): a fresh root anon_vma, refcount 1."""
    yield ops.might_sleep(fn, "anon_vma", None)
    av = w.alloc_anon_vma()
    return av


def anon_vma_chain_link(vma: VMA, avc: AVC, av: AnonVma) -> None:
    """``anon_vma_chain_link`` (v6.18/v6.19); caller holds the root write lock."""
    vma.chain.append(avc)
    av.tree.append(avc)


def __anon_vma_prepare(w: World, vma: VMA) -> Gen:
    """``__anon_vma_prepare`` (v6.18/v6.19): give a VMA its anon_vma on first fault.
    find_mergeable_anon_vma is not modelled (always a new anon_vma)."""
    fn = "__anon_vma_prepare"
    av = yield from anon_vma_alloc(w, fn)
    av.num_children += 1  # self-parent link for new root: a root is never reused
    allocated: AnonVma | None = av
    yield prim.anon_vma_lock_write(fn, av)
    yield prim.spin_lock(fn, vma.mm.page_table_lock)
    if vma.anon_vma is None:
        vma.anon_vma = av
        anon_vma_chain_link(vma, AVC(vma, av), av)
        av.num_active_vmas += 1
        allocated = None
    yield prim.spin_unlock(fn, vma.mm.page_table_lock)
    yield prim.anon_vma_unlock_write(fn, av)
    if allocated is not None:
        yield from put_anon_vma(w, fn, allocated)
    return 0


def anon_vma_prepare(w: World, vma: VMA) -> Gen:
    """``anon_vma_prepare`` (v6.18/v6.19)."""
    if vma.anon_vma is not None:
        return 0
    return (yield from __anon_vma_prepare(w, vma))


def anon_vma_clone(w: World, dst: VMA, src: VMA) -> Gen:
    """``anon_vma_clone`` (v6.18): link ``dst`` into every anon_vma ``src`` is linked
    into, oldest first (the kernel's list_for_each_entry_reverse over a list_add()ed
    chain; ``VMA.chain`` is oldest first), each under its root's write lock, and reuse
    an anon_vma with no VMAs and fewer than two children as ``dst``'s own (never a root:
    it counts its self-parent link)."""
    fn = "anon_vma_clone"
    root: AnonVma | None = None
    for pavc in list(src.chain):
        av = pavc.anon_vma
        if root is not av.root:  # lock_anon_vma_root: once per root
            if root is not None:
                yield prim.anon_vma_unlock_write(fn, root)
            root = av.root
            yield prim.anon_vma_lock_write(fn, root)
        anon_vma_chain_link(dst, AVC(dst, av), av)
        if (
            dst.anon_vma is None
            and src.anon_vma is not None
            and av.num_children < 2
            and av.num_active_vmas == 0
        ):
            dst.anon_vma = av
    if dst.anon_vma is not None:
        dst.anon_vma.num_active_vmas += 1
    if root is not None:
        yield prim.anon_vma_unlock_write(fn, root)
    return 0


def anon_vma_fork(w: World, vma: VMA, pvma: VMA) -> Gen:
    """``anon_vma_fork`` (v6.18): clone the parent's chain, then (unless an anon_vma
    was reused) a new anon_vma whose root is the parent's root, linked under it."""
    fn = "anon_vma_fork"
    if pvma.anon_vma is None:
        return 0
    vma.anon_vma = None
    yield from anon_vma_clone(w, vma, pvma)
    if vma.anon_vma is not None:
        return 0
    av = yield from anon_vma_alloc(w, fn)
    av.num_active_vmas += 1
    av.root = pvma.anon_vma.root
    av.parent = pvma.anon_vma
    root = av.root
    yield ops.atomic(fn, f"{root.name}.refcount", lambda: _inc(root))  # get_anon_vma(root)
    vma.anon_vma = av
    yield prim.anon_vma_lock_write(fn, av)
    anon_vma_chain_link(vma, AVC(vma, av), av)
    av.parent.num_children += 1
    yield prim.anon_vma_unlock_write(fn, av)
    return 0


def _inc(av: AnonVma) -> int:
    av.refcount += 1
    return av.refcount


def unlink_anon_vmas(w: World, vma: VMA) -> Gen:
    """``unlink_anon_vmas`` (v6.18): remove the VMA from every anon_vma tree under the
    root write lock, newest first (the kernel's chain order, so the root goes last);
    anon_vmas left empty are put after the lock is dropped, in the same order."""
    fn = "unlink_anon_vmas"
    root: AnonVma | None = None
    emptied: list[AnonVma] = []
    for avc in reversed(list(vma.chain)):
        av = avc.anon_vma
        if root is not av.root:
            if root is not None:
                yield prim.anon_vma_unlock_write(fn, root)
            root = av.root
            yield prim.anon_vma_lock_write(fn, root)
        av.tree.remove(avc)
        if not av.tree:
            av.parent.num_children -= 1
            emptied.append(av)
            continue
        vma.chain.remove(avc)
    if vma.anon_vma is not None:
        vma.anon_vma.num_active_vmas -= 1
        vma.anon_vma = None
    if root is not None:
        yield prim.anon_vma_unlock_write(fn, root)
    # The kernel puts each empty anon_vma and then list_del()s its AVC from the (detached,
    # write-locked, so private) VMA's chain; unlinking first is the same to every other
    # thread and keeps I7 ("no AVC references a freed anon_vma") true at every step.
    vma.chain.clear()
    for av in emptied:
        yield from put_anon_vma(w, fn, av)
    return 0


def _dec(av: AnonVma) -> int:
    av.refcount -= 1
    return av.refcount


def put_anon_vma(w: World, fn: str, av: AnonVma) -> Gen:
    """``put_anon_vma`` (v6.18/v6.19): drop a reference; the last one frees."""
    left = yield ops.atomic(fn, f"{av.name}.refcount", partial(_dec, av))
    if left == 0:
        yield from __put_anon_vma(w, av)


def __put_anon_vma(w: World, av: AnonVma) -> Gen:
    """``__put_anon_vma`` (v6.18/v6.19): free it, then drop its reference on the root."""
    fn = "__put_anon_vma"
    root = av.root
    yield from anon_vma_free(w, av)
    if root is not av:
        left = yield ops.atomic(fn, f"{root.name}.refcount", partial(_dec, root))
        if left == 0:
            yield from anon_vma_free(w, root)


def anon_vma_free(w: World, av: AnonVma) -> Gen:
    """``anon_vma_free`` (v6.18/v6.19): if the root rwsem is locked, take and drop it
    for write first (knob ``anon_vma.free_handshake``), so a reader that got in through
    folio_lock_anon_vma_read's trylock is waited out; then free to the typesafe slab."""
    fn = "anon_vma_free"
    yield ops.might_sleep(fn, av.name)
    if w.knob["anon_vma.free_handshake"]:
        rootlock = av.root.lock
        locked = yield ops.read(fn, f"{av.root.name}.rwsem", lambda: not rootlock.is_free())
        if locked:
            yield prim.anon_vma_lock_write(fn, av)
            yield prim.anon_vma_unlock_write(fn, av)
    yield ops.write(fn, av.name, lambda: w.anon_vmas.free(av, fn))
