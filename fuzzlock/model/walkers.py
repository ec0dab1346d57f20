"""The other rmap walkers: page_idle, DAMON and memory-failure.

mm/page_idle.c, mm/damon/ops-common.c and mm/memory-failure.c.  In v6.18 they walk
anon non-KSM folios without the folio lock; patch 1 (v6.19) makes each take it
(knobs ``walk.page_idle_lock``, ``walk.damon_lock``, ``walk.memory_failure_lock``).
Each walker reaches its folio physically (the LRU or a pfn), holding a reference.
"""

from __future__ import annotations

from fuzzlock.model import prim, rmap
from fuzzlock.model.prim import Gen
from fuzzlock.model.rmap import RmapWalkControl
from fuzzlock.model.walkrecord import WalkRecord, missed_objects
from fuzzlock.model.world import VMA, Folio, World
from fuzzlock.sched import ops


def folio_try_get(w: World, fn: str, folio: Folio) -> Gen:
    """``folio_try_get`` (page_idle_get_folio, damon_get_folio): a reference unless the
    folio is being freed."""

    def get() -> bool:
        if folio.freed or folio.refcount == 0:
            return False
        folio.refcount += 1
        refs = w.folio_refs.setdefault(w.tid(), {})
        refs[folio.id] = refs.get(folio.id, 0) + 1
        return True

    return (yield ops.atomic(fn, f"{folio.name}.refcount", get))


def clear_young_one(
    w: World, folio: Folio, vma: VMA, addr: int, rwc: RmapWalkControl, rec: WalkRecord
) -> Gen:
    """``page_idle_clear_pte_refs_one`` / ``damon_folio_mkold_one`` (v6.18/v6.19):
    clear the young bit (the folio becomes idle)."""
    fn = rwc.caller + "_one"
    pte = yield from rmap.rmap_one_pte(w, fn, folio, vma, addr, rec)
    if pte is None:
        return True
    if pte.young:
        w.set_pte(vma.mm, addr, pte.with_(young=False))
        rwc.arg["referenced"] = rwc.arg.get("referenced", 0) + 1
    yield from prim.pte_unmap_unlock(w, fn, vma.mm, addr)
    return True


def young_one(
    w: World, folio: Folio, vma: VMA, addr: int, rwc: RmapWalkControl, rec: WalkRecord
) -> Gen:
    """``damon_folio_young_one`` (v6.18/v6.19): report an accessed PTE, stop at the first."""
    fn = "damon_folio_young_one"
    pte = yield from rmap.rmap_one_pte(w, fn, folio, vma, addr, rec)
    if pte is None:
        return True
    accessed = pte.young
    yield from prim.pte_unmap_unlock(w, fn, vma.mm, addr)
    if accessed:
        rwc.arg["accessed"] = True
        return False
    return True


def _locked_walk(w: World, fn: str, folio: Folio, knob: str, rwc: RmapWalkControl) -> Gen:
    """The common shape: mapped?, optional trylock, rmap_walk, unlock.  Returns False if
    the walk was skipped because the trylock failed."""
    mapped = yield prim.folio_mapped(fn, folio)
    raw = yield ops.read(fn, f"{folio.name}.mapping", lambda: folio.mapping)
    if not mapped or raw is None:
        return True
    need_lock = w.knob[knob] != "none"
    if need_lock:
        ok = yield prim.folio_trylock(fn, folio)
        if not ok:
            return False
    yield from rmap.rmap_walk_anon(w, folio, rwc)
    if need_lock:
        yield prim.folio_unlock(fn, folio)
    return True


def page_idle_clear_pte_refs(w: World, folio: Folio) -> Gen:
    """``page_idle_bitmap_write`` -> ``page_idle_clear_pte_refs`` (v6.18: no folio lock
    for anon; v6.19: trylock, skip on failure)."""
    fn = "page_idle_clear_pte_refs"
    if not (yield from folio_try_get(w, fn, folio)):
        return 0
    rwc = RmapWalkControl("page_idle_clear_pte_refs", clear_young_one, anon_lock=True)
    yield from _locked_walk(w, fn, folio, "walk.page_idle_lock", rwc)
    yield prim.folio_put(w, fn, folio)
    return rwc.arg.get("referenced", 0)


def damon_folio_mkold(w: World, folio: Folio) -> Gen:
    """``damon_folio_mkold`` (v6.18: no folio lock for anon; v6.19: trylock)."""
    fn = "damon_folio_mkold"
    if not (yield from folio_try_get(w, fn, folio)):
        return 0
    rwc = RmapWalkControl("damon_folio_mkold", clear_young_one, anon_lock=True)
    yield from _locked_walk(w, fn, folio, "walk.damon_lock", rwc)
    yield prim.folio_put(w, fn, folio)
    return rwc.arg.get("referenced", 0)


def damon_folio_young(w: World, folio: Folio) -> Gen:
    """``damon_folio_young`` (v6.18: no folio lock for anon; v6.19: trylock, and a
    failed trylock reports "not accessed")."""
    fn = "damon_folio_young"
    if not (yield from folio_try_get(w, fn, folio)):
        return False
    rwc = RmapWalkControl("damon_folio_young", young_one, anon_lock=True)
    rwc.arg["accessed"] = False
    yield from _locked_walk(w, fn, folio, "walk.damon_lock", rwc)
    yield prim.folio_put(w, fn, folio)
    return rwc.arg["accessed"]


def collect_procs_anon(w: World, folio: Folio) -> Gen:
    """``collect_procs_anon`` (v6.18/v6.19): with the anon_vma read-locked, every task
    (mm) with a VMA of the tree that covers the page is a kill target.  Returns the
    sorted mm ids, or None if the folio was not mapped."""
    fn = "collect_procs_anon"
    av = yield from rmap.folio_lock_anon_vma_read(w, folio, None)
    if av is None:
        return None
    pgoff = yield ops.read(fn, f"{folio.name}.index", lambda: folio.index)
    rec = WalkRecord(w, folio, "collect_procs_anon")
    me = w.tid()
    w.walks[me] = rec
    yield ops.rcu_read_lock(fn)
    mem = w.anon_vmas.deref(av, fn, "rb_root")
    kill: set[int] = set()
    for mm in sorted(w.mms.values(), key=lambda m: m.id):  # for_each_process
        for avc in list(mem.tree):
            rmap.check_tree_locked(w, fn, mem)
            v = avc.vma
            if v.mm is not mm or not (v.pgoff <= pgoff < v.pgoff + (v.end - v.start)):
                continue
            addr = v.address_of(pgoff)
            # page_mapped_in_vma: page_vma_mapped_walk under the PTL
            pte = yield from rmap.rmap_one_pte(w, fn, folio, v, addr, rec)
            if pte is not None:
                yield from prim.pte_unmap_unlock(w, fn, v.mm, addr)
                kill.add(mm.id)  # add_to_kill_anon_file (skipped when addr is -EFAULT)
    yield ops.rcu_read_unlock(fn)
    del w.walks[me]
    missed = rec.missed(w)
    if missed:
        from fuzzlock.sched import ViolationError

        where = ", ".join(f"{vn}:{a:#x}" for vn, a in missed.values())
        raise ViolationError(
            "walk.complete",
            "collect_procs_anon",
            f"collect_procs_anon walked {av.trace_repr()} at pgoff {pgoff} and missed "
            f"{folio.name} mapped at {where}: that task would not be killed",
            missed_objects(w, folio, missed),
        )
    yield prim.anon_vma_unlock_read(w, fn, av)
    return sorted(kill)


def kill_procs_now(w: World, folio: Folio) -> Gen:
    """``kill_procs_now`` (v6.18: no folio lock; v6.19: ``folio_lock``): memory-failure
    after a failed THP split.  The caller holds a folio reference."""
    fn = "kill_procs_now"
    if not (yield from folio_try_get(w, fn, folio)):
        return None
    lock = w.knob["walk.memory_failure_lock"] == "lock"
    if lock:
        yield prim.folio_lock(fn, folio)
    rmap.assert_walk_folio_locked(w, fn, folio)
    killed = yield from collect_procs_anon(w, folio)
    if lock:
        yield prim.folio_unlock(fn, folio)
    yield prim.folio_put(w, fn, folio)
    return killed
