"""mm/rmap.c: the folio rmap updates and the rmap walk (the anon_vma life cycle is in
``anon_vma``).

PYTEST_DONT_REWRITE: the asserts here run on the scheduler's or the model's hot path and
stay plain asserts (in a wheel install, fuzzlock's pytest11 entry point makes pytest mark
the whole fuzzlock package for assertion rewriting).

Each function names the kernel function and version it follows.  v6.18 and v6.19
differ in ``folio_lock_anon_vma_read`` (the mapping rechecks, knob
``walk.recheck_mapping``) and in the folio-lock assertion of the walk (I9), which this
model checks as an invariant rather than executing it as a BUG.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from fuzzlock.model import prim
from fuzzlock.model.anon_vma import __put_anon_vma, _dec, put_anon_vma
from fuzzlock.model.prim import Gen
from fuzzlock.model.walkrecord import WalkRecord, missed_objects
from fuzzlock.model.world import PTRS_PER_PTE, VMA, AnonVma, Folio, Pte, World
from fuzzlock.sched import ViolationError, ops

# --- folio rmap updates ------------------------------------------------------------------------


def folio_move_anon_rmap(w: World, fn: str, folio: Folio, vma: VMA) -> Gen:
    """``folio_move_anon_rmap`` (v6.18/v6.19): ``WRITE_ONCE(folio->mapping, vma->anon_vma
    | FOLIO_MAPPING_ANON)``.  Asserts only the folio lock; I8 is checked on the store."""
    av = vma.anon_vma
    assert av is not None

    def store() -> AnonVma:
        check_mapping_store(w, fn, folio, av)
        folio.mapping = av
        return av

    yield ops.write(fn, f"{folio.name}.mapping", store)


def set_folio_index(w: World, fn: str, folio: Folio, index: int) -> Gen:
    """``folio->index = linear_page_index(...)`` (a plain store; v6.18/v6.19)."""

    def store() -> int:
        check_index_store(w, fn, folio)
        folio.index = index
        return index

    yield ops.write(fn, f"{folio.name}.index", store)


def check_mapping_store(w: World, fn: str, folio: Folio, new: AnonVma) -> None:
    """I8: a store to ``mapping`` of a mapped (or swap-cached) folio holds the folio
    lock; pre-patch (``move.anon_vma_lock``), one that changes the root also holds the
    old root's rwsem for write."""
    if not (folio.mapcount > 0 or folio.swap):
        return
    me = w.tid()
    if folio.lock.owner != me:
        raise ViolationError(
            "lock.write-discipline",
            fn,
            f"{folio.name}.mapping stored without the folio lock",
            (folio.name,),
        )
    old = folio.mapping
    # the pre-patch root rule protects unlocked walkers, which only trust a mapped folio
    if (
        w.knob["move.anon_vma_lock"]
        and folio.mapcount > 0
        and old is not None
        and w.anon_vmas.is_live(old)
        and old.root is not new.root
        and old.root.lock.writer != me
    ):
        raise ViolationError(
            "lock.write-discipline",
            fn,
            f"{folio.name}.mapping moved from root {old.root.name} to {new.root.name} "
            f"without the old root's rwsem held for write",
            (folio.name, old.root.name),
        )


def check_index_store(w: World, fn: str, folio: Folio) -> None:
    if (folio.mapcount > 0 or folio.swap) and folio.lock.owner != w.tid():
        raise ViolationError(
            "lock.write-discipline",
            fn,
            f"{folio.name}.index stored without the folio lock",
            (folio.name,),
        )


def folio_add_new_anon_rmap(
    w: World, folio: Folio, vma: VMA, addr: int, exclusive: bool = True
) -> None:
    """``folio_add_new_anon_rmap`` -> ``__folio_set_anon`` (v6.18/v6.19) on a folio not
    yet visible to rmap: mapping, index, mapcount 1, PageAnonExclusive if ``exclusive``.
    "If the folio isn't exclusive to this vma, we must use the _oldest_ possible
    anon_vma": a shared one (a swap-in of a swap entry shared after fork) gets the root.
    Part of the caller's PTL critical section."""
    assert vma.anon_vma is not None
    folio.mapping = vma.anon_vma if exclusive else vma.anon_vma.root
    folio.index = vma.linear_page_index(addr)
    folio.mapcount = 1
    folio.pae = exclusive


def folio_add_anon_rmap_pte(w: World, folio: Folio, vma: VMA, addr: int, exclusive: bool) -> None:
    """``folio_add_anon_rmap_pte`` (v6.18/v6.19): map an existing anon folio again (swap-in).
    ``__page_check_anon_rmap`` BUGs if the folio's rmap does not cover (vma, addr) (I12)."""
    fn = "folio_add_anon_rmap_pte"
    av = folio.mapping
    if (
        av is None
        or not w.anon_vmas.is_live(av)
        or vma.anon_vma is None
        or av.root is not vma.anon_vma.root
        or folio.index != vma.linear_page_index(addr)
    ):
        raise ViolationError(
            "swap.rmap",
            fn,
            f"__page_check_anon_rmap: {folio.name} (mapping {av!r}, index {folio.index}) "
            f"mapped at {vma.name}:{addr:#x} (anon_vma {vma.anon_vma!r}, "
            f"index {vma.linear_page_index(addr)})",
            (folio.name, vma.name),
        )
    folio.mapcount += 1
    if exclusive:
        folio.pae = True


def folio_remove_rmap_pte(folio: Folio) -> None:
    """``folio_remove_rmap_pte`` (v6.18/v6.19): mapcount--; ``mapping`` stays stale, and
    so does PageAnonExclusive (it is reset when the page is freed, not on unmap)."""
    folio.mapcount -= 1


# --- the rmap walk -----------------------------------------------------------------------------


class RmapWalkControl:
    """``struct rmap_walk_control`` plus the walker's private results."""

    def __init__(
        self,
        caller: str,
        rmap_one: Callable[..., Gen],
        anon_lock: bool = True,
        try_lock: bool = False,
        done: Callable[[Folio], bool] | None = None,
    ) -> None:
        self.caller = caller
        self.rmap_one = rmap_one
        self.anon_lock = anon_lock
        self.try_lock = try_lock
        self.contended = False
        self.done = done
        self.arg: dict[str, Any] = {}
        self.stopped_early = False


def walks_hold_folio_lock(w: World) -> bool:
    """Does this protocol promise that every anon rmap walk holds the folio lock (v6.19,
    patch 1)?  Then I9's post-patch rule applies, as the kernel's VM_BUG_ON would."""
    k = w.knob
    return (
        k["walk.referenced_active_lock"] != "none"
        and k["walk.page_idle_lock"] != "none"
        and k["walk.damon_lock"] != "none"
        and k["walk.memory_failure_lock"] != "none"
    )


def assert_walk_folio_locked(w: World, fn: str, folio: Folio) -> None:
    if walks_hold_folio_lock(w) and folio.lock.owner != w.tid():
        raise ViolationError(
            "lock.walk-discipline",
            fn,
            f"{fn} on {folio.name} without the folio lock (VM_BUG_ON_FOLIO)",
            (folio.name,),
        )


def folio_lock_anon_vma_read(w: World, folio: Folio, rwc: RmapWalkControl | None) -> Gen:
    """``folio_lock_anon_vma_read`` (v6.18 with its ``retry`` and mapping rechecks;
    v6.19 without them, asserting the folio lock).  Returns the anon_vma with its root
    read-locked, or None."""
    fn = "folio_lock_anon_vma_read"
    recheck = w.knob["walk.recheck_mapping"]
    check_mapped = w.knob["walk.check_mapped_after_lock"]
    assert_walk_folio_locked(w, fn, folio)
    pool = w.anon_vmas
    while True:  # retry:
        yield ops.rcu_read_lock(fn)
        mapping = yield ops.read(fn, f"{folio.name}.mapping", lambda: folio.mapping)
        if mapping is None:
            yield ops.rcu_read_unlock(fn)
            return None
        mapped = yield prim.folio_mapped(fn, folio)
        if not mapped:
            yield ops.rcu_read_unlock(fn)
            return None
        av_mem = pool.deref(mapping, fn, "root")
        root = yield ops.read(fn, f"{mapping.name}.root", partial(getattr, av_mem, "root"))
        ok = yield ops.down_read_trylock(fn, pool.deref(root, fn, "rwsem").lock)
        if ok:
            if recheck:
                now = yield ops.read(fn, f"{folio.name}.mapping", lambda: folio.mapping)
                if now is not mapping:
                    yield ops.up_read(fn, root.lock, partial(pool.deref, root, fn, "rwsem"))
                    yield ops.rcu_read_unlock(fn)
                    continue
            if check_mapped:
                mapped = yield prim.folio_mapped(fn, folio)
                if not mapped:
                    yield ops.up_read(fn, root.lock, partial(pool.deref, root, fn, "rwsem"))
                    yield ops.rcu_read_unlock(fn)
                    return None
            yield ops.rcu_read_unlock(fn)
            return mapping
        if rwc is not None and rwc.try_lock:
            rwc.contended = True
            yield ops.rcu_read_unlock(fn)
            return None
        # trylock failed, we got to sleep: pin the anon_vma first
        av = pool.deref(mapping, fn, "refcount")
        got = yield ops.atomic(fn, f"{mapping.name}.refcount", partial(_inc_not_zero, av))
        if not got:
            yield ops.rcu_read_unlock(fn)
            return None
        mapped = yield prim.folio_mapped(fn, folio)
        if not mapped:
            yield ops.rcu_read_unlock(fn)
            yield from put_anon_vma(w, fn, mapping)
            return None
        yield ops.rcu_read_unlock(fn)
        yield prim.anon_vma_lock_read(fn, mapping)
        if recheck:
            now = yield ops.read(fn, f"{folio.name}.mapping", lambda: folio.mapping)
            if now is not mapping:
                yield prim.anon_vma_unlock_read(w, fn, mapping)
                yield from put_anon_vma(w, fn, mapping)
                continue
        left = yield ops.atomic(fn, f"{mapping.name}.refcount", partial(_dec, mapping))
        if left == 0:
            # we held the last reference: unlock and bail (can't put_anon_vma: deadlock)
            yield prim.anon_vma_unlock_read(w, fn, mapping)
            yield from __put_anon_vma(w, mapping)
            return None
        return mapping


def _inc_not_zero(av: AnonVma) -> bool:
    if av.refcount == 0:
        return False
    av.refcount += 1
    return True


def folio_get_anon_vma(w: World, folio: Folio) -> Gen:
    """``folio_get_anon_vma`` (v6.18; asserted under the folio lock in v6.19): a
    reference on the folio's anon_vma, or None if the folio is not mapped."""
    fn = "folio_get_anon_vma"
    assert_walk_folio_locked(w, fn, folio)
    yield ops.rcu_read_lock(fn)
    mapping = yield ops.read(fn, f"{folio.name}.mapping", lambda: folio.mapping)
    if mapping is None:
        yield ops.rcu_read_unlock(fn)
        return None
    mapped = yield prim.folio_mapped(fn, folio)
    if not mapped:
        yield ops.rcu_read_unlock(fn)
        return None
    av = w.anon_vmas.deref(mapping, fn, "refcount")
    got = yield ops.atomic(fn, f"{mapping.name}.refcount", partial(_inc_not_zero, av))
    if not got:
        yield ops.rcu_read_unlock(fn)
        return None
    mapped = yield prim.folio_mapped(fn, folio)
    if not mapped:
        yield ops.rcu_read_unlock(fn)
        yield from put_anon_vma(w, fn, mapping)
        return None
    yield ops.rcu_read_unlock(fn)
    return mapping


def rmap_walk_anon_lock(w: World, folio: Folio, rwc: RmapWalkControl) -> Gen:
    """``rmap_walk_anon_lock`` (v6.18/v6.19): the anon_vma the caller pinned, read-locked
    (trylock first; ``try_lock`` callers give up)."""
    fn = "rmap_walk_anon_lock"
    av = yield ops.read(fn, f"{folio.name}.mapping", lambda: folio.mapping)
    if av is None:
        return None
    ok = yield ops.down_read_trylock(fn, w.anon_vmas.deref(av, fn, "root").root.lock)
    if ok:
        return av
    if rwc.try_lock:
        rwc.contended = True
        return None
    yield prim.anon_vma_lock_read(fn, av)
    return av


def rmap_walk_anon(w: World, folio: Folio, rwc: RmapWalkControl, locked: bool = False) -> Gen:
    """``rmap_walk_anon`` (v6.18/v6.19): lock the anon_vma, then call ``rmap_one`` on
    every VMA of its interval tree that covers the folio's pgoff.  Records the walk for
    ``walk.complete`` and checks that the tree is traversed under its root rwsem (I9)."""
    fn = "rmap_walk_anon"
    assert_walk_folio_locked(w, fn, folio)
    if locked:
        av = folio.mapping
    elif rwc.anon_lock:
        av = yield from folio_lock_anon_vma_read(w, folio, rwc)
    else:
        av = yield from rmap_walk_anon_lock(w, folio, rwc)
    if av is None:
        return
    pgoff = yield ops.read(fn, f"{folio.name}.index", lambda: folio.index)
    me = w.tid()
    rec = WalkRecord(w, folio, rwc.caller)
    w.walks[me] = rec
    mem = w.anon_vmas.deref(av, fn, "rb_root")
    for avc in list(mem.tree):
        check_tree_locked(w, fn, mem)
        v = avc.vma
        if not (v.pgoff <= pgoff < v.pgoff + (v.end - v.start)):
            continue
        addr = v.address_of(pgoff)
        more = yield from rwc.rmap_one(w, folio, v, addr, rwc, rec)
        if not more:
            rwc.stopped_early = True
            break
        if rwc.done is not None and rwc.done(folio):
            rwc.stopped_early = True
            break
    del w.walks[me]
    if not rwc.stopped_early:
        missed = rec.missed(w)
        if missed:
            where = ", ".join(f"{vn}:{a:#x}" for vn, a in missed.values())
            raise ViolationError(
                "walk.complete",
                rwc.caller,
                f"{rwc.caller} walked {av.trace_repr()} at pgoff {pgoff} and missed "
                f"{folio.name} mapped at {where} during the whole walk",
                missed_objects(w, folio, missed),
            )
    if not locked:
        yield prim.anon_vma_unlock_read(w, fn, av)


def check_tree_locked(w: World, fn: str, av: AnonVma) -> None:
    """I9: the interval tree is traversed with the root rwsem held."""
    lk = av.root.lock
    me = w.tid()
    if me not in lk.readers and lk.writer != me:
        raise ViolationError(
            "lock.walk-discipline",
            fn,
            f"traversing {av.trace_repr()}'s interval tree without {lk.name} held",
            (av.name, lk.name),
        )


def rmap_one_pte(w: World, fn: str, folio: Folio, vma: VMA, addr: int, rec: WalkRecord) -> Gen:
    """``page_vma_mapped_walk`` for one small folio: take the PTL and see whether the
    PTE at ``addr`` maps ``folio``.  Returns the PTE (PTL held) or None (PTL dropped)."""
    mm = vma.mm
    if addr // PTRS_PER_PTE not in mm.tables:  # pmd none: nothing mapped there
        rec.visit(vma, addr, 0)
        return None
    pte = yield from prim.pte_offset_map_lock(w, fn, mm, addr)
    if pte is not None and pte.folio is folio and pte.kind == "present":
        rec.visit(vma, addr, pte.mid)
        return pte
    # A migration entry of this folio (a migration racing a walker without the folio
    # lock): page_vma_mapped_walk skips it, but the walk reached that mapping at its exact
    # address, which is what I10 asks; the restored PTE keeps the mapping id.
    migrating = pte is not None and pte.folio is folio and pte.kind == "migration"
    rec.visit(vma, addr, pte.mid if migrating and pte is not None else 0)
    yield from prim.pte_unmap_unlock(w, fn, mm, addr)
    return None


# --- rmap walk callers in mm/rmap.c ------------------------------------------------------------


def folio_referenced_one(
    w: World, folio: Folio, vma: VMA, addr: int, rwc: RmapWalkControl, rec: WalkRecord
) -> Gen:
    """``folio_referenced_one`` (v6.18/v6.19): harvest and clear the young bit."""
    fn = "folio_referenced_one"
    pte = yield from rmap_one_pte(w, fn, folio, vma, addr, rec)
    if pte is None:
        return True
    pra = rwc.arg
    if pte.young:
        w.set_pte(vma.mm, addr, pte.with_(young=False))  # ptep_clear_flush_young
        pra["referenced"] += 1
    pra["mapcount"] -= 1
    yield from prim.pte_unmap_unlock(w, fn, vma.mm, addr)
    return pra["mapcount"] > 0  # all mappings found: stop


def folio_referenced(w: World, folio: Folio, is_locked: bool) -> Gen:
    """``folio_referenced`` (v6.18: no folio lock for anon non-KSM folios; v6.19: a
    trylock for every folio; knobs ``walk.referenced_active_lock`` and
    ``walk.trylock_fail_result``).  Returns referenced PTEs, 1 on a failed trylock,
    -1 on anon_vma contention."""
    fn = "folio_referenced"
    mapcount = yield ops.read(fn, f"{folio.name}.mapcount", lambda: folio.mapcount)
    if not mapcount:
        return 0
    raw = yield ops.read(fn, f"{folio.name}.mapping", lambda: folio.mapping)
    if raw is None:
        return 0
    we_locked = False
    if not is_locked:
        mode = w.knob["walk.referenced_active_lock"]
        if mode == "trylock":
            we_locked = yield prim.folio_trylock(fn, folio)
            if not we_locked:
                return int(w.knob["walk.trylock_fail_result"])
        elif mode == "lock":
            yield prim.folio_lock(fn, folio)
            we_locked = True
    rwc = RmapWalkControl("folio_referenced", folio_referenced_one, anon_lock=True, try_lock=True)
    rwc.arg = {"referenced": 0, "mapcount": mapcount}
    yield from rmap_walk_anon(w, folio, rwc)
    if we_locked:
        yield prim.folio_unlock(fn, folio)
    return -1 if rwc.contended else rwc.arg["referenced"]


def try_to_unmap_one(
    w: World, folio: Folio, vma: VMA, addr: int, rwc: RmapWalkControl, rec: WalkRecord
) -> Gen:
    """``try_to_unmap_one`` (v6.18/v6.19) for a small anon folio in the swap cache:
    the PTE becomes a swap entry (exclusive marker if the page was PAE); a pinned PAE
    page cannot be shared and aborts the walk."""
    fn = "try_to_unmap_one"
    mm = vma.mm
    pte = yield from rmap_one_pte(w, fn, folio, vma, addr, rec)
    if pte is None:
        return True
    entry = folio.swap
    anon_exclusive = folio.pae
    if entry == 0 or (anon_exclusive and folio.pincount > 0):
        # no swap entry, or folio_try_share_anon_rmap_pte() -> -EBUSY: restore, abort
        yield from prim.pte_unmap_unlock(w, fn, mm, addr)
        return False
    w.swap.count[entry] = w.swap.count.get(entry, 0) + 1  # swap_duplicate
    if anon_exclusive:
        folio.pae = False  # folio_try_share_anon_rmap_pte
    w.set_pte(
        mm,
        addr,
        Pte(
            "swap",
            entry=entry,
            exclusive=anon_exclusive,
            soft_dirty=pte.soft_dirty,
            mid=w.mapping_id(),
        ),
    )
    if pte.dirty:
        folio.dirty = True
    folio_remove_rmap_pte(folio)
    folio.refcount -= 1  # the mapping's reference (freed after the TLB flush)
    yield from prim.pte_unmap_unlock(w, fn, mm, addr)
    return True


def try_to_unmap(w: World, folio: Folio) -> Gen:
    """``try_to_unmap`` (v6.18/v6.19): requires the folio lock (I9), walks with
    ``folio_lock_anon_vma_read`` (blocking) and stops once the folio is unmapped."""
    fn = "try_to_unmap"
    if folio.lock.owner != w.tid():
        raise ViolationError(
            "lock.walk-discipline", fn, f"try_to_unmap on unlocked {folio.name}", (folio.name,)
        )
    rwc = RmapWalkControl(
        "try_to_unmap", try_to_unmap_one, anon_lock=True, done=lambda f: f.mapcount == 0
    )
    yield from rmap_walk_anon(w, folio, rwc)
