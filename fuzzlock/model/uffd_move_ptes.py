"""mm/userfaultfd.c, second part: the PTE moves of UFFDIO_MOVE, each under ``double_pt_lock``.

PYTEST_DONT_REWRITE

``move_present_ptes`` (with ``check_ptes_for_batched_move``, its batch), ``move_zeropage_pte``
and ``move_swap_pte``, the ``is_pte_pages_stable`` recheck they share, and the I11 checks on
a moved page.  Both this module and ``userfaultfd`` follow mm/userfaultfd.c, which keeps the
whole move path in one file; the model splits it where the locking changes hands:
``userfaultfd`` has the ioctl, the VMA locks, ``move_pages`` and ``move_pages_ptes`` (which
takes, and sleeps on, the folio lock and the anon_vma lock), this module what
``move_pages_ptes`` calls once it holds them, with both PTLs taken here.  Lengths and
results count pages (PAGE_SIZE = 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fuzzlock.model import prim, rmap
from fuzzlock.model.prim import EAGAIN, EBUSY, Gen
from fuzzlock.model.world import MM, PTRS_PER_PTE, VMA, AnonVma, Folio, Pte, World, pte_same
from fuzzlock.sched import ViolationError

if TYPE_CHECKING:
    from fuzzlock.model.userfaultfd import MoveState

PAGE_SIZE = 1


def is_pte_pages_stable(
    w: World, mm: MM, dst_addr: int, src_addr: int, orig_dst: Pte | None, orig_src: Pte | None
) -> bool:
    """``is_pte_pages_stable`` (v6.18/v6.19), under both PTLs; the dst half is knob
    ``move.recheck_dst_under_ptl`` (R8)."""
    src_same = pte_same(mm.pte(src_addr), orig_src)
    dst_same = pte_same(mm.pte(dst_addr), orig_dst) or not w.knob["move.recheck_dst_under_ptl"]
    return src_same and dst_same


def check_ptes_for_batched_move(
    w: World, fn: str, mm: MM, svma: VMA, src_addr: int, dst_addr: int, src_anon_vma: AnonVma | None
) -> Gen:
    """``check_ptes_for_batched_move`` (v6.18: also the same-anon_vma check, knob
    ``move.batch_same_anon_vma_check``; v6.19 without it): the next folio, locked."""
    if mm.pte(dst_addr) is not None:
        return None
    p = mm.pte(src_addr)
    if p is None or p.kind != "present" or p.folio is None:
        return None
    folio = p.folio
    ok = yield prim.folio_trylock(fn, folio)
    if not ok:
        return None
    if (w.knob["move.check_exclusive"] and not folio.pae) or (
        w.knob["move.batch_same_anon_vma_check"]
        and src_anon_vma is not None
        and folio.mapping is not src_anon_vma
    ):
        yield prim.folio_unlock(fn, folio)
        return None
    return folio


def move_present_ptes(
    w: World,
    mm: MM,
    dvma: VMA,
    svma: VMA,
    dst_addr: int,
    src_addr: int,
    orig_dst: Pte | None,
    orig_src: Pte,
    st: MoveState,
    length: int,
) -> Gen:
    """``move_present_ptes`` (v6.18/v6.19): under ``double_pt_lock``, move a batch of
    PTEs (within one page table on both sides), each folio locked in turn.  Once past its
    checks it drops the caller's folio reference (the PTE holds one) and takes over the
    folio lock; on an early error the caller still owns both."""
    fn = "move_present_ptes"
    knob = w.knob
    src_start = src_addr
    # pmd_addr_end on both sides
    length = min(length, (dst_addr // PTRS_PER_PTE + 1) * PTRS_PER_PTE - dst_addr)
    src_end = min(src_addr + length, (src_addr // PTRS_PER_PTE + 1) * PTRS_PER_PTE)
    dst_ptl, src_ptl = w.ptl(mm, dst_addr), w.ptl(mm, src_addr)
    yield from prim.double_pt_lock(w, fn, dst_ptl, src_ptl)
    err = 0
    folio = st.src_folio
    assert folio is not None
    if not is_pte_pages_stable(w, mm, dst_addr, src_addr, orig_dst, orig_src):
        err = -EAGAIN
    else:
        pinned = yield prim.folio_maybe_dma_pinned(fn, folio)
        if pinned or (knob["move.check_exclusive"] and not folio.pae):
            err = -EBUSY
    if err == 0:
        yield prim.folio_put(w, fn, folio)  # the page table holds a reference
        st.src_folio = None
        before = (folio.mapping, folio.index, mm.pte(src_addr))
        src_folio: Folio | None = folio
        src_anon_vma = st.src_anon_vma
        while True:
            assert src_folio is not None
            cur = mm.pte(src_addr)
            assert cur is not None
            pae0, mapcount0 = src_folio.pae, src_folio.mapcount
            pin_first = knob["move.pin_check_before_rmap_update"]
            if not pin_first:
                # the pre-2024 order: rmap updated before the pin check (R10)
                yield from _update_rmap(w, fn, src_folio, dvma, dst_addr)
            w.set_pte(mm, src_addr, None)  # ptep_get_and_clear
            pinned = yield prim.folio_maybe_dma_pinned(fn, src_folio)
            if pinned:
                w.set_pte(mm, src_addr, cur)  # put it back and fail the move
                err = -EBUSY
                if src_addr == src_start:
                    check_move_failed(w, fn, mm, src_addr, src_folio, before)
                break
            if pin_first:
                yield from _update_rmap(w, fn, src_folio, dvma, dst_addr)
            new = Pte(
                "present",
                src_folio,
                writable=True,
                young=True,
                dirty=cur.dirty,
                soft_dirty=True,
                mid=cur.mid,
            )
            w.set_pte(mm, dst_addr, new)
            _ghost_move(w, mm, src_addr, dst_addr)
            check_move_post_state(w, fn, mm, dvma, src_addr, dst_addr, src_folio, pae0, mapcount0)
            src_addr += PAGE_SIZE
            if src_addr == src_end:
                break
            dst_addr += PAGE_SIZE
            yield prim.folio_unlock(fn, src_folio)
            src_folio = yield from check_ptes_for_batched_move(
                w, fn, mm, svma, src_addr, dst_addr, src_anon_vma
            )
            if src_folio is None:
                break
        if src_folio is not None:
            yield prim.folio_unlock(fn, src_folio)
    # out:
    yield from prim.double_pt_unlock(w, fn, dst_ptl, src_ptl)
    return src_addr - src_start if src_addr > src_start else err


def check_move_post_state(
    w: World,
    fn: str,
    mm: MM,
    dvma: VMA,
    src_addr: int,
    dst_addr: int,
    folio: Folio,
    pae0: bool,
    mapcount0: int,
) -> None:
    """I11, under both PTLs right after a page moved: src none, dst maps the folio
    writable, mapping and index follow dst, PageAnonExclusive and mapcount unchanged."""
    dst = mm.pte(dst_addr)
    wrong = []
    if mm.pte(src_addr) is not None:
        wrong.append("src PTE not none")
    if dst is None or dst.folio is not folio or not dst.writable:
        wrong.append("dst PTE does not map the folio writable")
    if folio.mapping is not dvma.anon_vma:
        wrong.append("mapping is not the dst VMA's anon_vma")
    if folio.index != dvma.linear_page_index(dst_addr):
        wrong.append("index is not dst's linear index")
    if folio.pae != pae0 or folio.mapcount != mapcount0:
        wrong.append("PageAnonExclusive or mapcount changed")
    if wrong:
        raise ViolationError(
            "move.post-state",
            fn,
            f"{folio.name} moved {src_addr:#x} -> {dst_addr:#x}: " + "; ".join(wrong),
            (folio.name,),
        )


def check_move_failed(
    w: World, fn: str, mm: MM, src_addr: int, folio: Folio, before: tuple[object, int, Pte | None]
) -> None:
    """I11, on a failed move: src is unchanged (same PTE, mapping and index)."""
    mapping, index, pte = before
    if folio.mapping is not mapping or folio.index != index or not pte_same(mm.pte(src_addr), pte):
        raise ViolationError(
            "move.post-state",
            fn,
            f"the move of {folio.name} at {src_addr:#x} failed but changed it: mapping "
            f"{mapping!r} -> {folio.mapping!r}, index {index} -> {folio.index}",
            (folio.name,),
        )


def _update_rmap(w: World, fn: str, folio: Folio, dvma: VMA, dst_addr: int) -> Gen:
    yield from rmap.folio_move_anon_rmap(w, fn, folio, dvma)
    yield from rmap.set_folio_index(w, fn, folio, dvma.linear_page_index(dst_addr))


def _ghost_move(w: World, mm: MM, src_addr: int, dst_addr: int) -> None:
    """user.data: the page's content moves with its PTE; count the PTE moves this thread
    made, for ``move.result``."""
    tid = w.tid()
    w.pte_moves[tid] = w.pte_moves.get(tid, 0) + 1
    v = w.ghost.pop((mm.id, src_addr), None)
    if v is not None:
        w.ghost[(mm.id, dst_addr)] = v
    else:
        w.ghost.pop((mm.id, dst_addr), None)


def move_zeropage_pte(
    w: World,
    mm: MM,
    dvma: VMA,
    svma: VMA,
    dst_addr: int,
    src_addr: int,
    orig_dst: Pte | None,
    orig_src: Pte,
) -> Gen:
    """``move_zeropage_pte`` (v6.18/v6.19)."""
    fn = "move_zeropage_pte"
    dst_ptl, src_ptl = w.ptl(mm, dst_addr), w.ptl(mm, src_addr)
    yield from prim.double_pt_lock(w, fn, dst_ptl, src_ptl)
    if not is_pte_pages_stable(w, mm, dst_addr, src_addr, orig_dst, orig_src):
        yield from prim.double_pt_unlock(w, fn, dst_ptl, src_ptl)
        return -EAGAIN
    w.set_pte(mm, src_addr, None)  # ptep_clear_flush
    w.set_pte(mm, dst_addr, Pte("zero", mid=orig_src.mid))
    _ghost_move(w, mm, src_addr, dst_addr)
    yield from prim.double_pt_unlock(w, fn, dst_ptl, src_ptl)
    return PAGE_SIZE


def move_swap_pte(
    w: World,
    mm: MM,
    dvma: VMA,
    dst_addr: int,
    src_addr: int,
    orig_dst: Pte | None,
    orig_src: Pte,
    src_folio: Folio | None,
    entry: int,
) -> Gen:
    """``move_swap_pte`` (v6.18/v6.19): no anon_vma lock even pre-patch; a swap-cache
    folio's rmap moves with the entry (knob ``move.swap_moves_rmap``, I12)."""
    fn = "move_swap_pte"
    if src_folio is not None and src_folio.swap != entry:
        return -EAGAIN
    dst_ptl, src_ptl = w.ptl(mm, dst_addr), w.ptl(mm, src_addr)
    yield from prim.double_pt_lock(w, fn, dst_ptl, src_ptl)
    if not is_pte_pages_stable(w, mm, dst_addr, src_addr, orig_dst, orig_src):
        yield from prim.double_pt_unlock(w, fn, dst_ptl, src_ptl)
        return -EAGAIN
    if src_folio is not None:
        if w.knob["move.swap_moves_rmap"]:
            yield from _update_rmap(w, fn, src_folio, dvma, dst_addr)
    elif entry in w.swap.cache:  # SWAP_HAS_CACHE appeared: retry
        yield from prim.double_pt_unlock(w, fn, dst_ptl, src_ptl)
        return -EAGAIN
    w.set_pte(mm, src_addr, None)
    w.set_pte(mm, dst_addr, orig_src.with_(soft_dirty=True))
    _ghost_move(w, mm, src_addr, dst_addr)
    yield from prim.double_pt_unlock(w, fn, dst_ptl, src_ptl)
    return PAGE_SIZE
