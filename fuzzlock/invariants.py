"""The invariant checks (docs/design.md#invariants, docs/protocol.md#invariants; the ids are fuzzlock.schema.INVARIANTS).

Some invariants are checked where they can break, inside the model: I8
(``lock.write-discipline``, on each store to ``mapping``/``index``), I9
(``lock.walk-discipline``), I10 (``walk.complete``, at the end of each walk), I11/I16
(``move.post-state``/``move.result``, when a move returns), I12 at swap-in, ``user.data``
at user reads, and the scheduler's own (``deadlock``, ``lock.order``, ``sleep-in-atomic``,
``uaf``, ``thread.end``).  The state invariants below run after every step in which the
locks protecting them are free (no PTL or page_table_lock held: a PTL critical section
may be mid-update; no anon_vma rwsem held for write: the tree may be mid-update), and
all of them at quiescence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fuzzlock.sched import ViolationError

if TYPE_CHECKING:
    from fuzzlock.model.world import World
    from fuzzlock.sched import Scheduler, SimThread


def _fail(id: str, msg: str, *objs: str) -> None:
    raise ViolationError(id, "invariant", msg, tuple(objs))


def check_step(w: World) -> None:
    """Run after each step: the state invariants whose locks are free."""
    sched = w.sched
    if any(t.spins for t in sched.threads if not t.done):
        return  # a PTL (or page_table_lock) critical section is in progress
    check_mappings(w)
    if not any(av.root.lock.writer is not None for av in w.anon_vmas.live_objects()):
        check_anon_vmas(w, final=False)


def check_end(w: World) -> None:
    """At quiescence: everything, plus exact refcounts and balanced references."""
    check_mappings(w)
    check_anon_vmas(w, final=True)
    for f in w.folios:
        if f.freed:
            continue
        want = f.mapcount + (1 if f.swap else 0) + f.pincount + (1 if f.isolated else 0)
        if f.refcount != want:
            _fail(
                "folio.refcount",
                f"{f.name} refcount {f.refcount} at quiescence, expected {want} "
                f"(mapcount {f.mapcount}, swapcache {int(bool(f.swap))}, pins {f.pincount})",
                f.name,
            )
    for tid, refs in sorted(w.folio_refs.items()):
        for fid, n in sorted(refs.items()):
            if n:
                _fail(
                    "thread.end",
                    f"T{tid} ends holding {n} temporary reference(s) on folio:{fid}",
                    f"folio:{fid}",
                )


def check_mappings(w: World) -> None:
    """I1, I2, I3, I5, I6 (mapped => anon_vma alive), I12, I13 over every PTE."""
    pool = w.anon_vmas
    present: dict[int, int] = {}
    seen_pae: dict[int, str] = {}
    for _mm, v, addr, p in w.all_mappings():
        where = f"{v.name}:{addr:#x}"
        if p.kind == "present" and p.folio is not None:
            f = p.folio
            present[f.id] = present.get(f.id, 0) + 1
            if f.freed:
                _fail("folio.refcount", f"{f.name} is mapped at {where} but was freed", f.name)
            _check_rmap(w, f, v, addr, where, "rmap")
            if p.writable and not f.pae:
                _fail(
                    "folio.exclusive",
                    f"writable PTE {where} maps {f.name}, which is not PageAnonExclusive",
                    f.name,
                    where,
                )
            if f.pae:
                if f.id in seen_pae:
                    _fail(
                        "folio.exclusive",
                        f"{f.name} is PageAnonExclusive but mapped at {seen_pae[f.id]} and {where}",
                        f.name,
                    )
                seen_pae[f.id] = where
        elif p.kind == "swap":
            cached = w.swap.cache.get(p.entry)
            # a folio read in from swap and not mapped yet is not anon: do_swap_page
            # gives it its rmap with folio_add_new_anon_rmap, so there is nothing to check
            if cached is not None and cached.mapping is not None:
                _check_rmap(w, cached, v, addr, where, "swap")
        elif p.kind == "migration" and p.folio is not None:
            if p.folio.freed:
                _fail(
                    "migration.reachable",
                    f"migration entry at {where} still points at "
                    f"{p.folio.name}, which was freed: remove_migration_ptes did not reach "
                    "it (a later fault would wait on it forever)",
                    p.folio.name,
                    where,
                )
            _check_rmap(w, p.folio, v, addr, where, "migration")
    for f in w.folios:
        n = present.get(f.id, 0)
        if f.mapcount != n:
            _fail("folio.mapcount", f"{f.name} mapcount {f.mapcount} but {n} PTE(s) map it", f.name)
        if f.mapcount > 0 and f.mapping is not None:
            if not pool.is_live(f.mapping):
                _fail(
                    "anon_vma.lifetime",
                    f"{f.name} is mapped but its anon_vma {f.mapping.trace_repr()} was freed",
                    f.name,
                    f.mapping.name,
                )
            elif not pool.is_live(f.mapping.root):
                _fail(
                    "anon_vma.lifetime",
                    f"{f.name} is mapped but its root anon_vma "
                    f"{f.mapping.root.trace_repr()} was freed",
                    f.name,
                )
        if f.pae and n > 1:
            _fail("folio.exclusive", f"{f.name} is PageAnonExclusive with {n} mappings", f.name)


_IDS = {
    "rmap": ("rmap.reachable", "rmap.index"),
    "swap": ("swap.rmap", "swap.rmap"),
    "migration": ("migration.reachable", "migration.reachable"),
}


def _check_rmap(w: World, f, v, addr: int, where: str, kind: str) -> None:  # type: ignore[no-untyped-def]
    reach_id, index_id = _IDS[kind]
    av = f.mapping
    if av is None:
        _fail(reach_id, f"{f.name} mapped at {where} has no anon_vma", f.name, where)
    if not w.anon_vmas.is_live(av):
        _fail(
            "anon_vma.lifetime" if kind == "rmap" else reach_id,
            f"{f.name} mapped at {where}: its anon_vma {av.trace_repr()} is freed",
            f.name,
            where,
        )
    if not any(avc.vma is v for avc in av.tree):
        _fail(
            reach_id,
            f"{f.name} mapped at {where} but {v.name} is not in the interval tree "
            f"of its anon_vma {av.trace_repr()}: rmap walks cannot find this mapping",
            f.name,
            where,
        )
    if v.anon_vma is not None and v.anon_vma.root is not av.root:
        _fail(
            reach_id,
            f"{f.name} mapped at {where}: root {av.root.trace_repr()} differs from "
            f"the VMA's root {v.anon_vma.root.trace_repr()}",
            f.name,
            where,
        )
    want = v.linear_page_index(addr)
    if f.index != want:
        _fail(
            index_id,
            f"{f.name} index {f.index} but it is mapped at {where}, linear index {want}",
            f.name,
            where,
        )


def check_anon_vmas(w: World, final: bool) -> None:
    """I6 (refcounts, liveness) and I7 (tree shape).  The refcount rule is checked at
    quiescence only: ``anon_vma_fork`` sets ``root`` before it takes the root reference
    (the new anon_vma is not linked yet), and a put drops the count before the free."""
    pool = w.anon_vmas
    live = pool.live_objects()
    children: dict[int, int] = {}
    for av in live:
        if av.root is not av:
            if not pool.is_live(av.root):
                _fail(
                    "anon_vma.lifetime",
                    f"{av.trace_repr()}'s root {av.root.trace_repr()} was freed",
                    av.name,
                )
            children[av.root.slot] = children.get(av.root.slot, 0) + 1
            if av.parent is not None and pool.is_live(av.parent) and av.parent.root is not av.root:
                _fail(
                    "anon_vma.tree",
                    f"{av.trace_repr()} and its parent have different roots",
                    av.name,
                )
        for avc in av.tree:
            if avc not in avc.vma.chain:
                _fail(
                    "anon_vma.tree",
                    f"AVC({avc.vma.name}, {av.trace_repr()}) is in the tree "
                    "but not on the VMA's chain",
                    av.name,
                    avc.vma.name,
                )
    for av in live if final else ():
        if av.root is av and av.refcount < 1 + children.get(av.slot, 0):
            _fail(
                "anon_vma.lifetime",
                f"root {av.trace_repr()} refcount {av.refcount} < 1 + "
                f"{children.get(av.slot, 0)} children",
                av.name,
            )
    for mm in w.mms.values():
        for v in mm.vmas:
            roots = set()
            for avc in v.chain:
                if not pool.is_live(avc.anon_vma):
                    _fail(
                        "anon_vma.tree",
                        f"{v.name}'s chain references freed {avc.anon_vma.trace_repr()}",
                        v.name,
                    )
                if avc not in avc.anon_vma.tree and avc.anon_vma.tree:
                    _fail(
                        "anon_vma.tree",
                        f"{v.name}'s AVC for {avc.anon_vma.trace_repr()} is not in its tree",
                        v.name,
                    )
                roots.add(id(avc.anon_vma.root))
            if len(roots) > 1:
                _fail("anon_vma.tree", f"{v.name}'s AVCs have {len(roots)} different roots", v.name)
            if v.anon_vma is not None and not any(avc.anon_vma is v.anon_vma for avc in v.chain):
                _fail("anon_vma.tree", f"{v.name}.anon_vma is not in its chain", v.name)


def step_hook(w: World):  # type: ignore[no-untyped-def]
    def hook(sched: Scheduler, t: SimThread) -> None:
        check_step(w)

    return hook


def end_hook(w: World):  # type: ignore[no-untyped-def]
    def hook(sched: Scheduler) -> None:
        check_end(w)

    return hook
