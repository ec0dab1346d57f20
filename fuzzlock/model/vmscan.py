"""mm/vmscan.c reclaim and mm/madvise.c COLD/PAGEOUT/DONTNEED, munmap and exit.

Reclaim reaches a folio from the LRU: isolation takes a reference and clears the LRU
flag.  ``shrink_active_list`` calls ``folio_referenced(is_locked=0)``;
``shrink_folio_list`` try-locks the folio (knob ``reclaim.unmap_lock``), checks
references, adds it to the swap cache and ``try_to_unmap``s it to swap entries, then
writes it out and frees it if nothing else holds it.
"""

from __future__ import annotations

from fuzzlock.model import anon_vma, memory, prim, rmap
from fuzzlock.model.prim import EINVAL, Gen
from fuzzlock.model.world import MM, PTRS_PER_PTE, VMA, Folio, World
from fuzzlock.sched import ops


def isolate_lru_folio(w: World, fn: str, folio: Folio) -> Gen:
    """``isolate_lru_folios`` for one folio, under the lruvec lock: a reference and the
    LRU flag cleared.  Returns False if it is not on the LRU."""

    def isolate() -> bool:
        if folio.freed or not folio.lru or folio.refcount == 0:
            return False
        folio.lru = False
        folio.isolated = True
        folio.refcount += 1
        refs = w.folio_refs.setdefault(w.tid(), {})
        refs[folio.id] = refs.get(folio.id, 0) + 1
        return True

    return (yield ops.atomic(fn, f"{folio.name}.lru", isolate))


def putback_lru_folio(w: World, fn: str, folio: Folio) -> Gen:
    """Back on the LRU and drop the isolation reference."""

    def putback() -> None:
        folio.isolated = False
        if folio.refcount > 1 or folio.mapcount or folio.swap:
            folio.lru = True

    yield ops.atomic(fn, f"{folio.name}.lru", putback)
    yield prim.folio_put(w, fn, folio)


def shrink_active_list(w: World, folio: Folio) -> Gen:
    """``shrink_active_list`` (v6.18/v6.19): isolate, ``folio_referenced(is_locked=0)``,
    deactivate (a nonzero result only matters for file VM_EXEC folios)."""
    fn = "shrink_active_list"
    if not (yield from isolate_lru_folio(w, fn, folio)):
        return None
    referenced = yield from rmap.folio_referenced(w, folio, is_locked=False)
    yield from putback_lru_folio(w, fn, folio)
    return referenced


def add_to_swap(w: World, folio: Folio) -> Gen:
    """``add_to_swap`` (v6.18/v6.19), folio locked: allocate a swap slot and put the folio
    in the swap cache (one more reference)."""
    fn = "add_to_swap"
    if not w.swap.present:
        return False

    def add() -> int:
        e = w.swap.next_entry
        w.swap.next_entry = e + 1
        w.swap.count[e] = 0
        w.swap.cache[e] = folio
        folio.swap = e
        folio.refcount += 1
        folio.dirty = True
        return e

    yield ops.write(fn, f"{folio.name}.swap", add)
    return True


def shrink_folio_list(w: World, folio: Folio, ignore_references: bool) -> Gen:
    """``shrink_folio_list`` (v6.18/v6.19) for one isolated anon folio.  Returns
    ``reclaimed``, ``keep`` or ``activate``."""
    fn = "shrink_folio_list"
    if not (yield from isolate_lru_folio(w, fn, folio)):
        return "not-on-lru"
    locked = w.knob["reclaim.unmap_lock"] == "trylock"
    if locked:
        ok = yield prim.folio_trylock(fn, folio)
        if not ok:
            yield from putback_lru_folio(w, fn, folio)
            return "keep"
    result = yield from _shrink_locked_folio(w, fn, folio, ignore_references)
    if result != "reclaimed":
        if locked:
            yield prim.folio_unlock(fn, folio)
        yield from putback_lru_folio(w, fn, folio)
    return result


def _shrink_locked_folio(w: World, fn: str, folio: Folio, ignore_references: bool) -> Gen:
    if not ignore_references:
        referenced = yield from rmap.folio_referenced(w, folio, is_locked=True)
        if referenced == -1:
            return "keep"
        if referenced > 0:
            return "activate"
    added = bool(folio.swap) or (yield from add_to_swap(w, folio))
    if not added:
        return "activate"
    mapped = yield prim.folio_mapped(fn, folio)
    if mapped:
        yield from rmap.try_to_unmap(w, folio)
        mapped = yield prim.folio_mapped(fn, folio)
        if mapped:
            return "activate"
    # pageout: write the content out (synchronous here), then __remove_mapping
    entry = folio.swap
    yield ops.write(fn, f"swap:{entry}", lambda: w.swap.content.__setitem__(entry, folio.value))

    def remove_mapping() -> bool:
        # refcount must be exactly isolation + swap cache (folio_ref_freeze(folio, 2))
        if folio.refcount != 2 or folio.mapcount or folio.pincount:
            return False
        w.swap.cache.pop(entry, None)
        folio.swap = 0
        folio.refcount -= 1
        return True

    if not (yield ops.atomic(fn, f"{folio.name}.refcount", remove_mapping)):
        return "keep"
    if folio.lock.owner == w.tid():
        yield prim.folio_unlock(fn, folio)
    yield prim.folio_put(w, fn, folio)  # the isolation reference: frees the folio
    return "reclaimed"


# --- madvise, munmap, exit ---------------------------------------------------------------------


def _folios_in(mm: MM, start: int, end: int) -> list[Folio]:
    out: list[Folio] = []
    for a in range(start, end):
        p = mm.pte(a)
        if p is not None and p.kind == "present" and p.folio is not None and p.folio not in out:
            out.append(p.folio)
    return out


def madvise_pageout(w: World, mm: MM, start: int, npages: int, cold: bool) -> Gen:
    """``madvise_cold_or_pageout_pte_range`` (v6.18/v6.19) under the mmap read lock:
    COLD deactivates (clears young bits), PAGEOUT reclaims exclusively mapped folios
    (``reclaim_pages`` -> ``shrink_folio_list(ignore_references)``)."""
    fn = "madvise_pageout" if not cold else "madvise_cold"
    yield ops.down_read(fn, mm.mmap_lock)
    vma = mm.find_vma(start)
    if vma is None or start + npages > vma.end:
        yield ops.up_read(fn, mm.mmap_lock)
        return -EINVAL
    done = 0
    for folio in _folios_in(mm, start, start + npages):
        if folio.mapcount != 1:  # folio_maybe_mapped_shared: skip
            continue
        if cold:
            for a in range(start, start + npages):
                if a // PTRS_PER_PTE not in mm.tables:
                    continue
                yield from prim.pte_offset_map_lock(w, fn, mm, a)
                p = mm.pte(a)
                if p is not None and p.folio is folio and p.young:
                    w.set_pte(mm, a, p.with_(young=False))
                yield from prim.pte_unmap_unlock(w, fn, mm, a)
        else:
            r = yield from shrink_folio_list(w, folio, ignore_references=True)
            done += r == "reclaimed"
    yield ops.up_read(fn, mm.mmap_lock)
    return 0


def madvise_dontneed(w: World, mm: MM, start: int, npages: int) -> Gen:
    """``madvise_dontneed_single_vma`` (v6.18/v6.19) under the mmap read lock: zap."""
    fn = "madvise_dontneed"
    yield ops.down_read(fn, mm.mmap_lock)
    vma = mm.find_vma(start)
    if vma is None or start + npages > vma.end:
        yield ops.up_read(fn, mm.mmap_lock)
        return -EINVAL
    yield from memory.zap_pte_range(w, vma, start, start + npages)
    yield ops.up_read(fn, mm.mmap_lock)
    return 0


def _remove_vmas(w: World, vmas: list[VMA], fn: str) -> Gen:
    """unmap_vmas, then free_pgtables -> unlink_anon_vmas (knob ``unmap.zap_before_unlink``)."""
    zap_first = w.knob["unmap.zap_before_unlink"]
    if zap_first:
        for v in vmas:
            yield from memory.zap_pte_range(w, v, v.start, v.end)
    for v in vmas:
        yield from anon_vma.unlink_anon_vmas(w, v)
    if not zap_first:
        for v in vmas:
            yield from memory.zap_pte_range(w, v, v.start, v.end)


def do_munmap(w: World, mm: MM, start: int, npages: int) -> Gen:
    """``do_vmi_munmap`` (v6.18/v6.19) of whole VMAs: mmap write lock, write-lock and
    detach each VMA, zap, unlink from the anon_vmas, remove."""
    fn = "do_munmap"
    yield ops.down_write(fn, mm.mmap_lock)
    vmas = [v for v in mm.vmas if start <= v.start and v.end <= start + npages]
    for v in vmas:
        yield ops.down_write(fn, v.lock)  # vma_start_write
        v.detached = True  # vma_iter_clear: no longer found by lookups
    yield from _remove_vmas(w, vmas, fn)
    for v in vmas:
        mm.vmas.remove(v)  # remove_vma
        yield ops.up_write(fn, v.lock)
    yield ops.up_write(fn, mm.mmap_lock)
    return 0


def exit_mmap(w: World, mm: MM) -> Gen:
    """``exit_mmap`` (v6.18/v6.19): the last user is gone; unmap everything."""
    fn = "exit_mmap"
    yield ops.down_write(fn, mm.mmap_lock)
    vmas = list(mm.vmas)
    for v in vmas:
        yield ops.down_write(fn, v.lock)
        v.detached = True
    mm.alive = False
    yield from _remove_vmas(w, vmas, fn)
    for v in vmas:
        mm.vmas.remove(v)
        yield ops.up_write(fn, v.lock)
    yield ops.up_write(fn, mm.mmap_lock)
    return 0
