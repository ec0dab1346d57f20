"""mm/memory.c (and mm/gup.c, mm/swapfile.c pieces): user accesses, faults, zap, pins.

PYTEST_DONT_REWRITE: the asserts here run on the scheduler's or the model's hot path and
stay plain asserts (in a wheel install, fuzzlock's pytest11 entry point makes pytest mark
the whole fuzzlock package for assertion rewriting).

User reads and writes go through the page table like the MMU: a present PTE with the
right permission is used without any lock (one scheduling point that also sets the
hardware young/dirty bits); otherwise the access faults.  Faults take the per-VMA read
lock, as ``lock_vma_under_rcu`` does (the mmap_lock fallback is not modelled).
A fault on a missing page of a uffd-registered VMA would be reported to userspace and
block; the model reports ``uffd-missing`` and does not block.
"""

from __future__ import annotations

from fuzzlock.model import anon_vma, prim, rmap
from fuzzlock.model.prim import EAGAIN, Gen
from fuzzlock.model.world import MM, PTRS_PER_PTE, VMA, Folio, Pte, World, pte_name
from fuzzlock.sched import ViolationError, ops

UFFD_MISSING = "uffd-missing"
SEGV = "segv"


# --- user accesses -----------------------------------------------------------------------------


def user_write(w: World, mm: MM, addr: int, value: int) -> Gen:
    """A user store of ``value`` at ``addr``: through a writable PTE directly, else
    ``handle_mm_fault`` and retry.  Returns 0, or why the store could not happen."""
    fn = "user_write"
    for _ in range(4):

        def store() -> bool:
            p = mm.pte(addr)
            if p is None or p.kind != "present" or not p.writable:
                return False
            f = p.folio
            assert f is not None
            if not f.pae:
                raise ViolationError(
                    "folio.exclusive",
                    fn,
                    f"user write through writable PTE {pte_name(mm, addr)} to {f.name} "
                    "which is not PageAnonExclusive",
                    (f.name,),
                )
            f.value = value
            f.dirty = True
            if not (p.young and p.dirty):
                w.set_pte(mm, addr, p.with_(young=True, dirty=True))  # hardware A/D bits
            w.ghost[(mm.id, addr)] = value
            return True

        if (yield ops.point(fn, "user_store", pte_name(mm, addr), store)):
            return 0
        r = yield from handle_mm_fault(w, mm, addr, write=True)
        if r != 0:
            return r
    return -EAGAIN


def user_read(w: World, mm: MM, addr: int) -> Gen:
    """A user load at ``addr``; faults in what is missing.  Checks ``user.data``: the
    value must be what the sequential history of the page says."""
    fn = "user_read"
    for _ in range(4):

        def load() -> int | None:
            p = mm.pte(addr)
            if p is None or not p.present:
                return None
            if p.kind == "zero":
                got = 0
            else:
                f = p.folio
                assert f is not None
                got = f.value
                if not p.young:
                    w.set_pte(mm, addr, p.with_(young=True))
            want = w.ghost.get((mm.id, addr), 0)
            if got != want:
                raise ViolationError(
                    "user.data",
                    fn,
                    f"read {got} at {pte_name(mm, addr)}; the operations' sequential "
                    f"history says {want}",
                    (pte_name(mm, addr),),
                )
            return got

        v = yield ops.point(fn, "user_load", pte_name(mm, addr), load)
        if v is not None:
            return v
        r = yield from handle_mm_fault(w, mm, addr, write=False)
        if r != 0:
            return r
    return -EAGAIN


# --- faults ------------------------------------------------------------------------------------


def handle_mm_fault(w: World, mm: MM, addr: int, write: bool) -> Gen:
    """``lock_vma_under_rcu`` + ``handle_mm_fault`` -> ``handle_pte_fault`` (v6.18/v6.19)."""
    fn = "handle_mm_fault"
    vma = mm.find_vma(addr)
    if vma is None:
        return SEGV
    ok = yield ops.down_read_trylock(fn, vma.lock)  # vma_start_read
    if not ok:
        yield ops.down_read(fn, mm.mmap_lock)  # lock_mm_and_find_vma fallback
        vma = mm.find_vma(addr)
        if vma is None:
            yield ops.up_read(fn, mm.mmap_lock)
            return SEGV
        r = yield from handle_pte_fault(w, vma, addr, write)
        yield ops.up_read(fn, mm.mmap_lock)
        return r
    if vma.detached:
        yield ops.up_read(fn, vma.lock)
        return SEGV
    r = yield from handle_pte_fault(w, vma, addr, write)
    yield ops.up_read(fn, vma.lock)
    return r


def handle_pte_fault(w: World, vma: VMA, addr: int, write: bool) -> Gen:
    """``handle_pte_fault`` (v6.18/v6.19): dispatch on the PTE read lock-free."""
    fn = "handle_pte_fault"
    mm = vma.mm
    orig = yield prim.pte_offset_map(fn, mm, addr)
    if orig is None:
        yield prim.pte_unmap(fn, mm, addr)
        return (yield from do_anonymous_page(w, vma, addr, write))
    if orig.kind == "swap":
        yield prim.pte_unmap(fn, mm, addr)
        return (yield from do_swap_page(w, vma, addr, orig, write))
    if orig.kind == "migration":
        yield prim.pte_unmap(fn, mm, addr)
        assert orig.folio is not None
        yield ops.wait_unlocked("migration_entry_wait", orig.folio.lock)
        return 0
    ptl = w.ptl(mm, addr)
    yield prim.spin_lock(fn, ptl)
    cur = mm.pte(addr)
    if not (cur is not None and cur.key() == orig.key()):
        yield from prim.pte_unmap_unlock(w, fn, mm, addr)
        return 0
    if write and not cur.writable:
        return (yield from do_wp_page(w, vma, addr, cur))
    yield from prim.pte_unmap_unlock(w, fn, mm, addr)
    return 0


def do_anonymous_page(w: World, vma: VMA, addr: int, write: bool) -> Gen:
    """``do_anonymous_page`` (v6.18/v6.19): the zero page for a read, a new exclusive
    folio for a write.  A uffd-registered VMA hands a missing fault to userspace."""
    fn = "do_anonymous_page"
    mm = vma.mm
    if vma.uffd:
        return UFFD_MISSING
    if not write:
        yield from prim.pte_offset_map_lock(w, fn, mm, addr)
        if mm.pte(addr) is None:
            w.set_pte(mm, addr, Pte("zero", mid=w.mapping_id()))
        yield from prim.pte_unmap_unlock(w, fn, mm, addr)
        return 0
    yield from anon_vma.anon_vma_prepare(w, vma)
    yield ops.might_sleep(fn, "alloc_anon_folio")
    folio = w.new_folio(0)
    yield from prim.pte_offset_map_lock(w, fn, mm, addr)
    if mm.pte(addr) is not None:
        yield from prim.pte_unmap_unlock(w, fn, mm, addr)
        folio.refcount = 0
        folio.freed = True
        return 0
    rmap.folio_add_new_anon_rmap(w, folio, vma, addr)
    folio.lru = True  # folio_add_lru_vma
    w.set_pte(
        mm,
        addr,
        Pte("present", folio, writable=vma.write, young=True, dirty=True, mid=w.mapping_id()),
    )
    yield from prim.pte_unmap_unlock(w, fn, mm, addr)
    return 0


def wp_can_reuse_anon_folio(w: World, folio: Folio, vma: VMA) -> Gen:
    """``wp_can_reuse_anon_folio`` (v6.18/v6.19, small folio), called with the PTL held:
    reuse only an unshared folio, verified under the folio (try)lock (knob
    ``cow.reuse_lock``), and move its rmap to this VMA's own anon_vma (same root)."""
    fn = "wp_can_reuse_anon_folio"
    ref = yield ops.read(fn, f"{folio.name}.refcount", lambda: folio.refcount)
    if ref > 3:
        return False
    if ref > 1 + (1 if folio.swap else 0):
        return False
    locked = w.knob["cow.reuse_lock"] == "trylock"
    if locked:
        ok = yield prim.folio_trylock(fn, folio)
        if not ok:
            return False
    if folio.swap:
        yield from folio_free_swap(w, fn, folio)
    ref = yield ops.read(fn, f"{folio.name}.refcount", lambda: folio.refcount)
    if ref != 1:
        if locked:
            yield prim.folio_unlock(fn, folio)
        return False
    yield from rmap.folio_move_anon_rmap(w, fn, folio, vma)
    if locked:
        yield prim.folio_unlock(fn, folio)
    return True


def do_wp_page(w: World, vma: VMA, addr: int, orig: Pte) -> Gen:
    """``do_wp_page`` (v6.18/v6.19), entered with the PTL held: reuse a PAE page (no
    folio lock) or one ``wp_can_reuse_anon_folio`` accepts; else ``wp_page_copy``."""
    fn = "do_wp_page"
    mm = vma.mm
    if orig.kind == "present":
        folio = orig.folio
        assert folio is not None
        if folio.pae or (yield from wp_can_reuse_anon_folio(w, folio, vma)):
            folio.pae = True
            w.set_pte(mm, addr, orig.with_(writable=True, young=True, dirty=True))  # wp_page_reuse
            yield from prim.pte_unmap_unlock(w, fn, mm, addr)
            return 0
        yield prim.folio_get(w, fn, folio)
    else:
        folio = None
    yield from prim.pte_unmap_unlock(w, fn, mm, addr)
    return (yield from wp_page_copy(w, vma, addr, orig, folio))


def wp_page_copy(w: World, vma: VMA, addr: int, orig: Pte, old: Folio | None) -> Gen:
    """``wp_page_copy`` (v6.18/v6.19): copy to a new exclusive folio, replace the PTE if
    it did not change, drop the old mapping."""
    fn = "wp_page_copy"
    mm = vma.mm
    yield from anon_vma.anon_vma_prepare(w, vma)
    yield ops.might_sleep(fn, "alloc_anon_folio")
    value = 0
    if old is not None:
        value = yield ops.read(fn, f"{old.name}.data", lambda: old.value)  # __wp_page_copy_user
    new = w.new_folio(value)
    yield from prim.pte_offset_map_lock(w, fn, mm, addr)
    cur = mm.pte(addr)
    replaced = cur is not None and cur.key() == orig.key()
    if replaced:
        if old is not None:
            rmap.folio_remove_rmap_pte(old)
        rmap.folio_add_new_anon_rmap(w, new, vma, addr)
        new.lru = True
        w.set_pte(
            mm, addr, Pte("present", new, writable=True, young=True, dirty=True, mid=w.mapping_id())
        )
    yield from prim.pte_unmap_unlock(w, fn, mm, addr)
    if not replaced:
        new.refcount = 0
        new.freed = True
    if old is not None:
        if replaced:
            yield prim.folio_put(w, fn, old, owned=False)  # the old PTE's reference
        yield prim.folio_put(w, fn, old)  # do_wp_page's folio_get
    return 0


# --- swap --------------------------------------------------------------------------------------


def folio_free_swap(w: World, fn: str, folio: Folio) -> Gen:
    """``folio_free_swap`` (v6.18/v6.19), folio locked: drop the swap cache if no swap
    PTE still refers to the entry."""
    entry = folio.swap
    if not entry or w.swap.count.get(entry, 0) > 0:
        return False

    def drop() -> bool:
        w.swap.cache.pop(entry, None)
        w.swap.content.pop(entry, None)
        w.swap.count.pop(entry, None)
        folio.swap = 0
        folio.refcount -= 1
        return True

    return (yield ops.write(fn, f"swap:{entry}", drop))


def do_swap_page(w: World, vma: VMA, addr: int, orig: Pte, write: bool) -> Gen:
    """``do_swap_page`` (v6.18/v6.19, swap-cache path): find or read in the folio, lock
    it, recheck the PTE under the PTL, map it (``folio_add_anon_rmap_pte`` checks the
    rmap, I12), free the swap slot."""
    fn = "do_swap_page"
    mm = vma.mm
    entry = orig.entry
    # swap_cache_get_folio: lookup and folio_try_get in one step (RCU, xas_reload)
    folio = yield ops.atomic(fn, f"swap:{entry}.cache", lambda: swap_cache_get_folio(w, entry))
    if folio is None:
        yield ops.might_sleep(fn, f"swapin:{entry}")  # swapin_readahead
        folio = yield ops.atomic(fn, f"swap:{entry}.cache", lambda: read_swap_cache_async(w, entry))
        if folio is None:
            # the slot was freed: somebody changed the PTE meanwhile; refault
            return 0
    yield prim.folio_lock(fn, folio)  # folio_lock_or_retry
    if folio.swap != entry:
        yield prim.folio_unlock(fn, folio)
        yield prim.folio_put(w, fn, folio)
        return 0
    yield from prim.pte_offset_map_lock(w, fn, mm, addr)
    cur = mm.pte(addr)
    if cur is None or cur.key() != orig.key():
        yield from prim.pte_unmap_unlock(w, fn, mm, addr)
        yield prim.folio_unlock(fn, folio)
        yield prim.folio_put(w, fn, folio)
        return 0
    exclusive = orig.exclusive
    w.swap.count[entry] -= 1  # swap_free
    # should_try_to_free_swap: a write fault on a folio only we hold (cache + ours)
    if write and folio.swap and folio.refcount == 2:
        yield from folio_free_swap(w, fn, folio)
    if not exclusive and folio.refcount == 1:
        exclusive = True  # certainly not shared: same logic as do_wp_page
    if folio.mapping is None:
        rmap.folio_add_new_anon_rmap(w, folio, vma, addr, exclusive)
    else:
        rmap.folio_add_anon_rmap_pte(w, folio, vma, addr, exclusive)
    writable = exclusive and vma.write
    w.set_pte(
        mm,
        addr,
        Pte(
            "present",
            folio,
            writable=writable,
            young=True,
            dirty=write and writable,
            soft_dirty=orig.soft_dirty,
            mid=w.mapping_id(),
        ),
    )
    # the reference we took becomes the PTE's
    refs = w.folio_refs.setdefault(w.tid(), {})
    refs[folio.id] -= 1
    yield from prim.pte_unmap_unlock(w, fn, mm, addr)
    yield prim.folio_unlock(fn, folio)
    if write and not writable:
        return (yield from handle_mm_fault_retry_write(w, vma, addr))
    return 0


def swap_cache_get_folio(w: World, entry: int) -> Folio | None:
    """``swap_cache_get_folio`` / ``filemap_get_folio`` on the swap cache (v6.18/v6.19):
    the cached folio with a reference (``folio_try_get``), or None if there is none or it
    is being freed."""
    folio = w.swap.cache.get(entry)
    if folio is None or folio.freed or folio.refcount == 0:
        return None
    folio.refcount += 1
    prim._ref(w, folio, +1)
    return folio


def read_swap_cache_async(w: World, entry: int) -> Folio | None:
    """``__read_swap_cache_async`` (v6.18/v6.19): the cached folio, or a new one read from
    the slot and added to the swap cache (its reference plus ours); None if the slot is
    free (``swapcache_prepare`` fails)."""
    folio = swap_cache_get_folio(w, entry)
    if folio is not None:
        return folio
    if entry not in w.swap.count:
        return None
    folio = w.new_folio(w.swap.content.get(entry, 0))
    folio.swap = entry
    folio.refcount = 2
    folio.lru = True
    w.swap.cache[entry] = folio
    prim._ref(w, folio, +1)
    return folio


def handle_mm_fault_retry_write(w: World, vma: VMA, addr: int) -> Gen:
    """A write fault that mapped the page read-only (shared swap entry) goes on to CoW."""
    return (yield from handle_pte_fault(w, vma, addr, True))


def free_swap_and_cache(w: World, fn: str, entry: int) -> Gen:
    """``free_swap_and_cache`` (v6.18/v6.19), under the PTL: drop one swap count; if it was
    the last, try-lock the swap-cache folio and drop it if it is unmapped."""
    sw = w.swap
    sw.count[entry] = sw.count.get(entry, 1) - 1
    if sw.count[entry] > 0:
        return
    folio = sw.cache.get(entry)
    if folio is None:
        sw.count.pop(entry, None)
        sw.content.pop(entry, None)
        return
    ok = yield prim.folio_trylock(fn, folio)  # __try_to_reclaim_swap
    if not ok:
        return
    if folio.mapcount == 0 and folio.swap == entry:
        sw.cache.pop(entry, None)
        sw.content.pop(entry, None)
        sw.count.pop(entry, None)
        folio.swap = 0
        folio.refcount -= 1
        if folio.refcount == 0:
            prim.free_folio(w, fn, folio)
    yield prim.folio_unlock(fn, folio)


# --- zap ---------------------------------------------------------------------------------------


def zap_pte_range(w: World, vma: VMA, start: int, end: int) -> Gen:
    """``zap_pte_range`` (v6.18/v6.19): per page-table page, under its PTL, clear each
    PTE and drop its rmap; no folio lock, no anon_vma lock; ``mapping`` stays stale."""
    fn = "zap_pte_range"
    mm = vma.mm
    addr = start
    while addr < end:
        tend = min(end, (addr // PTRS_PER_PTE + 1) * PTRS_PER_PTE)
        if addr // PTRS_PER_PTE not in mm.tables:  # zap_pmd_range skips a none pmd
            addr = tend
            continue
        yield from prim.pte_offset_map_lock(w, fn, mm, addr)
        puts: list[Folio] = []
        swaps: list[int] = []
        for a in range(addr, tend):
            p = mm.pte(a)
            if p is None:
                continue
            w.set_pte(mm, a, None)
            if p.kind == "present" and p.folio is not None:
                rmap.folio_remove_rmap_pte(p.folio)
                puts.append(p.folio)
            elif p.kind == "swap":
                swaps.append(p.entry)
            w.ghost.pop((mm.id, a), None)
        for e in swaps:
            yield from free_swap_and_cache(w, fn, e)
        yield from prim.pte_unmap_unlock(w, fn, mm, addr)
        for f in puts:  # tlb_finish_mmu: the mappings' references go after the flush
            yield prim.folio_put(w, fn, f, owned=False)
        addr = tend
