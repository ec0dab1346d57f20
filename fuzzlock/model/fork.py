"""kernel/fork.c / mm/mmap.c ``dup_mmap`` and mm/memory.c ``copy_page_range``.

PYTEST_DONT_REWRITE: the asserts here run on the scheduler's or the model's hot path and
stay plain asserts (in a wheel install, fuzzlock's pytest11 entry point makes pytest mark
the whole fuzzlock package for assertion rewriting).

fork write-locks the parent's mmap_lock and every parent VMA, links each child VMA
into the parent's anon_vmas (``anon_vma_fork``) and only then copies the PTEs (knob
``fork.link_before_copy``).  Copying a PAE page clears PageAnonExclusive (knob
``fork.clear_exclusive``) unless the page may be DMA-pinned, in which case the child
gets an early copy.  No folio lock and no anon_vma lock is taken while copying PTEs.
The child's uffd context is cleared (no UFFD_FEATURE_EVENT_FORK).
"""

from __future__ import annotations

from fuzzlock.model import anon_vma, prim, rmap
from fuzzlock.model.prim import Gen
from fuzzlock.model.world import MM, PTRS_PER_PTE, VMA, Pte, World
from fuzzlock.sched import ViolationError, ops


def dup_mmap(w: World, oldmm: MM, child_id: int) -> Gen:
    """``dup_mmap`` (v6.18/v6.19).  Returns the child mm id."""
    fn = "dup_mmap"
    yield ops.down_write(fn, oldmm.mmap_lock)
    mm = w.new_mm(child_id)
    yield ops.down_write(fn, mm.mmap_lock, subclass=1)  # mmap_write_lock_nested
    locked: list[VMA] = []
    for mpnt in list(oldmm.vmas):
        yield ops.down_write(fn, mpnt.lock)  # vma_start_write: held until mmap_write_unlock
        locked.append(mpnt)
        if mpnt.dontfork:
            continue
        tmp = w.new_vma(mm, mpnt.start, mpnt.end, f"{mpnt.name}.c{child_id}")
        tmp.pgoff = mpnt.pgoff
        tmp.write, tmp.shared, tmp.locked = mpnt.write, mpnt.shared, mpnt.locked
        tmp.wipeonfork = mpnt.wipeonfork
        tmp.uffd = False  # dup_userfaultfd without EVENT_FORK
        link_first = w.knob["fork.link_before_copy"]
        # vma_needs_copy: an anon VMA without an anon_vma has nothing worth copying (its
        # zero-page PTEs are refaulted by the child)
        copy = not mpnt.wipeonfork and mpnt.anon_vma is not None
        if copy and not link_first:
            mm.vmas.append(tmp)
            yield from copy_page_range(w, tmp, mpnt)
        if not mpnt.wipeonfork:
            yield from anon_vma.anon_vma_fork(w, tmp, mpnt)
        if link_first or not copy:
            mm.vmas.append(tmp)
        if copy and link_first:
            yield from copy_page_range(w, tmp, mpnt)
    # the child inherits the parent's page contents
    for (mid, addr), v in list(w.ghost.items()):
        if mid == oldmm.id and any(t.start <= addr < t.end for t in mm.vmas if not t.wipeonfork):
            w.ghost[(child_id, addr)] = v
    yield ops.up_write(fn, mm.mmap_lock)
    for lv in locked:
        yield ops.up_write(fn, lv.lock)  # vma_end_write_all via mmap_write_unlock
    yield ops.up_write(fn, oldmm.mmap_lock)
    return child_id


def copy_page_range(w: World, dst_vma: VMA, src_vma: VMA) -> Gen:
    """``copy_page_range`` -> ``copy_pte_range`` (v6.18/v6.19): per page-table page,
    the dst PTL then the src PTL (nested)."""
    fn = "copy_pte_range"
    src_mm, dst_mm = src_vma.mm, dst_vma.mm
    addr = src_vma.start
    while addr < src_vma.end:
        tend = min(src_vma.end, (addr // PTRS_PER_PTE + 1) * PTRS_PER_PTE)
        if any(src_mm.pte(a) is not None for a in range(addr, tend)):
            dst_ptl, src_ptl = w.ptl(dst_mm, addr), w.ptl(src_mm, addr)
            yield prim.pte_offset_map(fn, dst_mm, addr)
            yield prim.spin_lock(fn, dst_ptl)
            yield prim.pte_offset_map(fn, src_mm, addr)
            yield prim.spin_lock(fn, src_ptl, subclass=1)
            for a in range(addr, tend):
                p = src_mm.pte(a)
                if p is None:
                    continue
                if p.kind == "present" and p.folio is not None:
                    copy_present_pte(w, dst_vma, src_vma, a, p)
                elif p.kind == "zero":
                    w.set_pte(dst_mm, a, Pte("zero", mid=w.mapping_id()))
                else:
                    copy_nonpresent_pte(w, dst_vma, src_vma, a, p)
            yield prim.spin_unlock(fn, src_ptl)
            yield prim.pte_unmap(fn, src_mm, addr)
            yield prim.spin_unlock(fn, dst_ptl)
            yield prim.pte_unmap(fn, dst_mm, addr)
        addr = tend


def copy_present_pte(w: World, dst_vma: VMA, src_vma: VMA, addr: int, pte: Pte) -> None:
    """``copy_present_pte`` (v6.18/v6.19), under both PTLs: share the folio read-only
    (``folio_try_dup_anon_rmap_pte`` clears PAE), or early-copy a maybe-pinned PAE page."""
    folio = pte.folio
    assert folio is not None
    src_mm, dst_mm = src_vma.mm, dst_vma.mm
    if folio.pae and src_mm.id in w.pinned_mms and folio.pincount > 0:
        # folio_needs_cow_for_dma -> -EBUSY -> copy_present_page: the child gets a copy
        if dst_vma.anon_vma is None:  # only with fork.link_before_copy=false
            raise ViolationError(
                "rmap.reachable",
                "copy_present_pte",
                f"early copy into {dst_vma.name} before it has an anon_vma "
                "(BUG_ON in __folio_set_anon)",
                (dst_vma.name,),
            )
        new = w.new_folio(folio.value)
        rmap.folio_add_new_anon_rmap(w, new, dst_vma, addr)
        new.lru = True
        w.set_pte(
            dst_mm,
            addr,
            Pte(
                "present",
                new,
                writable=dst_vma.write,
                dirty=True,
                soft_dirty=pte.soft_dirty,
                mid=w.mapping_id(),
            ),
        )
        return
    folio.refcount += 1  # folio_get
    if folio.pae and w.knob["fork.clear_exclusive"]:
        folio.pae = False
    folio.mapcount += 1
    child = pte.with_(young=False, mid=w.mapping_id())
    if pte.writable:  # a COW mapping: write-protect parent and child
        w.set_pte(src_mm, addr, pte.with_(writable=False))
        child = child.with_(writable=False)
    w.set_pte(dst_mm, addr, child)


def copy_nonpresent_pte(w: World, dst_vma: VMA, src_vma: VMA, addr: int, pte: Pte) -> None:
    """``copy_nonpresent_pte`` (v6.18/v6.19): duplicate a swap entry (the exclusive marker
    is cleared in the parent and not given to the child) or a migration entry (made
    readable in both)."""
    if pte.kind == "swap":
        w.swap.count[pte.entry] = w.swap.count.get(pte.entry, 0) + 1  # swap_duplicate
        if pte.exclusive:
            w.set_pte(src_vma.mm, addr, pte.with_(exclusive=False))
        w.set_pte(dst_vma.mm, addr, pte.with_(exclusive=False, mid=w.mapping_id()))
    elif pte.kind == "migration":
        # COW mappings need readable (not exclusive, not writable) migration entries in
        # both parent and child: make_readable_migration_entry
        ro = pte.with_(exclusive=False, writable=False)
        w.set_pte(src_vma.mm, addr, ro)
        w.set_pte(dst_vma.mm, addr, ro.with_(mid=w.mapping_id()))
