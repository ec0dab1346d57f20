"""mm/migrate.c: migration of one small anon folio (MIGRATE_SYNC), and try_to_migrate.

PYTEST_DONT_REWRITE: the asserts here run on the scheduler's or the model's hot path and
stay plain asserts (in a wheel install, fuzzlock's pytest11 entry point makes pytest mark
the whole fuzzlock package for assertion rewriting).

Migration locks the folio, pins its anon_vma (``folio_get_anon_vma``, because the
folio is about to be unmapped), replaces every PTE with a migration entry
(``try_to_migrate``), copies the folio, then walks the pinned anon_vma to replace the
migration entries with PTEs to the new folio (``remove_migration_ptes`` through
``rmap_walk_anon_lock``, no mapped check).  A migration entry the walk cannot reach (a
fork that copied PTEs before linking its VMA, knob ``fork.link_before_copy``) is left
pointing at a freed folio: ``migration.reachable`` (I13, docs/protocol.md#r7).
"""

from __future__ import annotations

from fuzzlock.model import prim, rmap, vmscan
from fuzzlock.model.anon_vma import put_anon_vma
from fuzzlock.model.prim import Gen
from fuzzlock.model.rmap import RmapWalkControl
from fuzzlock.model.walkrecord import WalkRecord
from fuzzlock.model.world import PTRS_PER_PTE, VMA, Folio, Pte, World
from fuzzlock.sched import ViolationError, ops


def try_to_migrate_one(
    w: World, folio: Folio, vma: VMA, addr: int, rwc: RmapWalkControl, rec: WalkRecord
) -> Gen:
    """``try_to_migrate_one`` (v6.18/v6.19): the PTE becomes a migration entry (with the
    exclusive marker if the page was PAE; a pinned PAE page cannot be shared: abort)."""
    fn = "try_to_migrate_one"
    mm = vma.mm
    pte = yield from rmap.rmap_one_pte(w, fn, folio, vma, addr, rec)
    if pte is None:
        return True
    anon_exclusive = folio.pae
    if anon_exclusive and folio.pincount > 0:
        yield from prim.pte_unmap_unlock(w, fn, mm, addr)
        return False
    if anon_exclusive:
        folio.pae = False  # folio_try_share_anon_rmap_pte
    w.set_pte(
        mm,
        addr,
        Pte(
            "migration",
            folio,
            writable=pte.writable,
            dirty=pte.dirty,
            soft_dirty=pte.soft_dirty,
            exclusive=anon_exclusive,
            mid=pte.mid,
        ),
    )
    rmap.folio_remove_rmap_pte(folio)
    folio.refcount -= 1
    yield from prim.pte_unmap_unlock(w, fn, mm, addr)
    return True


def try_to_migrate(w: World, folio: Folio) -> Gen:
    """``try_to_migrate`` (v6.18/v6.19): folio locked (I9); blocking anon_vma read lock."""
    fn = "try_to_migrate"
    if folio.lock.owner != w.tid():
        raise ViolationError(
            "lock.walk-discipline", fn, f"try_to_migrate on unlocked {folio.name}", (folio.name,)
        )
    rwc = RmapWalkControl(
        "try_to_migrate", try_to_migrate_one, anon_lock=True, done=lambda f: f.mapcount == 0
    )
    yield from rmap.rmap_walk_anon(w, folio, rwc)


def remove_migration_pte(
    w: World, dst: Folio, vma: VMA, addr: int, rwc: RmapWalkControl, rec: WalkRecord
) -> Gen:
    """``remove_migration_pte`` (v6.18/v6.19): a migration entry for ``src`` becomes a
    PTE mapping ``dst`` (PAE from the entry's exclusive marker)."""
    fn = "remove_migration_pte"
    mm = vma.mm
    src: Folio = rwc.arg["src"]
    if addr // PTRS_PER_PTE not in mm.tables:  # pmd none: no entry to restore
        rec.visit(vma, addr, 0)
        return True
    yield from prim.pte_offset_map_lock(w, fn, mm, addr)
    p = mm.pte(addr)
    # under the PTL the walk sees what is at the address it computed: a present PTE of
    # the walked folio (src itself after a failed migration, e.g. try_to_migrate_one
    # aborted on a pinned page) is found there, not missed
    found = p is not None and p.kind == "present" and p.folio is dst
    rec.visit(vma, addr, p.mid if found and p is not None else 0)
    if p is not None and p.kind == "migration" and p.folio is src:
        dst.mapcount += 1
        dst.refcount += 1
        if p.exclusive:
            dst.pae = True
        w.set_pte(
            mm,
            addr,
            Pte(
                "present",
                dst,
                writable=p.writable,
                dirty=p.dirty,
                soft_dirty=p.soft_dirty,
                mid=p.mid,
            ),
        )
    yield from prim.pte_unmap_unlock(w, fn, mm, addr)
    return True


def remove_migration_ptes(w: World, src: Folio, dst: Folio) -> Gen:
    """``remove_migration_ptes`` (v6.18/v6.19): ``rmap_walk`` of ``dst`` (which carries
    src's mapping and index) without ``anon_lock``: ``rmap_walk_anon_lock`` on the anon_vma
    the caller pinned; no mapped check."""
    rwc = RmapWalkControl("remove_migration_ptes", remove_migration_pte, anon_lock=False)
    rwc.arg["src"] = src
    yield from rmap.rmap_walk_anon(w, dst, rwc)


def migrate_folio(w: World, src: Folio) -> Gen:
    """``migrate_pages`` of one isolated small anon folio, MIGRATE_SYNC (v6.18/v6.19):
    ``migrate_folio_unmap`` then ``migrate_folio_move``; ``remove_migration_ptes`` runs
    only if the folio was mapped when ``try_to_migrate`` ran (``PAGE_WAS_MAPPED``).
    Returns "migrated" or why not."""
    fn = "migrate_folio_unmap"
    if not (yield from vmscan.isolate_lru_folio(w, fn, src)):
        return "not-on-lru"
    yield prim.folio_lock(fn, src)
    anon_vma = None
    mapped = yield prim.folio_mapped(fn, src)
    if mapped and src.mapping is not None:
        anon_vma = yield from rmap.folio_get_anon_vma(w, src)
    yield ops.might_sleep(fn, "alloc_migration_target")
    dst = w.new_folio(src.value)
    dst.refcount = 1
    ok = yield prim.folio_trylock(fn, dst)
    assert ok, "a new folio is never locked"
    if mapped and anon_vma is None:
        # folio_get_anon_vma found the folio unmapped (a racing zap), and an unmapped anon
        # folio cannot be mapped again while we hold its lock: the kernel's folio_mapped()
        # check before try_to_migrate fails, so no migration entries are set up and
        # PAGE_WAS_MAPPED stays clear (no remove_migration_ptes below, which would walk an
        # anon_vma nobody pinned)
        mapped = False
    if mapped:
        yield from try_to_migrate(w, src)
    result = "busy"
    still = yield prim.folio_mapped(fn, src)
    if not still:
        fn = "migrate_folio_move"

        def move_mapping() -> bool:
            # folio_migrate_mapping: only the isolation reference may remain
            if src.refcount != 1 or src.pincount:
                return False
            dst.mapping, dst.index = src.mapping, src.index
            dst.value = src.value
            return True

        if (yield ops.write(fn, f"{dst.name}.mapping", move_mapping)):
            result = "migrated"
    # remove_migration_ptes(src, dst or src on failure), only if PAGE_WAS_MAPPED
    target = dst if result == "migrated" else src
    if mapped:
        yield from remove_migration_ptes(w, src, target)
    yield prim.folio_unlock(fn, dst)
    yield prim.folio_unlock(fn, src)
    if anon_vma is not None:
        yield from put_anon_vma(w, fn, anon_vma)
    if result == "migrated":
        dst.lru = True
        yield prim.folio_put(w, fn, dst, owned=False)  # the allocation reference
        src.isolated = False
        yield prim.folio_put(w, fn, src)  # the isolation reference: src is freed
    else:
        dst.refcount = 0
        dst.freed = True
        yield from vmscan.putback_lru_folio(w, fn, src)
    return result
