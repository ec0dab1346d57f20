"""mm/userfaultfd.c and fs/userfaultfd.c: UFFDIO_MOVE of small anon pages.

PYTEST_DONT_REWRITE: the asserts here run on the scheduler's or the model's hot path and
stay plain asserts (in a wheel install, fuzzlock's pytest11 entry point makes pytest mark
the whole fuzzlock package for assertion rewriting).

Follows v6.18 (batched ``move_present_ptes``, folio lock *and* the src root anon_vma
write lock) and v6.19 (folio lock only: knob ``move.anon_vma_lock``), step for step,
including the ``move_pages`` progress bookkeeping (an inner -EAGAIN retries the same
address; the result is the bytes moved, or the error if nothing moved) and the ioctl's
return rules (0 if all moved, -EAGAIN with ``move`` = bytes moved if partial).  THP
(PMD) moves are not modelled: every folio is small.  Lengths and results count pages
(PAGE_SIZE = 1).

mm/userfaultfd.c is split in two here, the kernel keeping it as one file: this module has
the ioctl, the VMA locks, ``move_pages`` and ``move_pages_ptes`` (up to holding the folio
lock and the anon_vma lock), ``uffd_move_ptes`` the PTE moves it then makes under
``double_pt_lock`` (``move_present_ptes``, ``move_zeropage_pte``, ``move_swap_pte``).
"""

from __future__ import annotations

from functools import partial

from fuzzlock.model import anon_vma, memory, prim, rmap
from fuzzlock.model.prim import EAGAIN, EBUSY, EEXIST, EFAULT, EINVAL, ENOENT, ESRCH, Gen
from fuzzlock.model.uffd_move_ptes import (
    PAGE_SIZE,
    move_present_ptes,
    move_swap_pte,
    move_zeropage_pte,
)
from fuzzlock.model.world import MM, PTRS_PER_PTE, VMA, AnonVma, Folio, Pte, World, pte_same
from fuzzlock.sched import ViolationError, ops

UFFDIO_MOVE_MODE_DONTWAKE = 1 << 0
UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES = 1 << 1
# I16's livelock bound: passes in a row whose success move_pages does not count
MOVE_LIVELOCK_PASSES = 16


class MoveResult:
    """What the ioctl returns and what it stores in ``uffdio_move.move``."""

    __slots__ = ("move", "ret")

    def __init__(self, ret: int, move: int | None) -> None:
        self.ret = ret
        self.move = move

    def trace_repr(self) -> str:
        return f"ret={prim.errname(self.ret)},move={self.move}"

    def __repr__(self) -> str:
        return f"MoveResult({self.trace_repr()})"


def userfaultfd_move(w: World, mm: MM, dst: int, src: int, length: int, mode: int) -> Gen:
    """``userfaultfd_move`` (fs/userfaultfd.c, v6.18/v6.19)."""
    fn = "userfaultfd_move"
    ctx = mm.uffd
    changing = yield ops.read(fn, f"uffd:mm{mm.id}.mmap_changing", lambda: ctx.mmap_changing)
    if changing:
        return MoveResult(-EAGAIN, -EAGAIN)  # put_user(-EAGAIN, &move)
    if length <= 0 or dst < 0 or src < 0:  # validate_range
        return MoveResult(-EINVAL, None)
    if mode & ~(UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES | UFFDIO_MOVE_MODE_DONTWAKE):
        return MoveResult(-EINVAL, None)
    if not mm.alive:  # mmget_not_zero
        return MoveResult(-ESRCH, None)
    ret = yield from move_pages(w, mm, dst, src, length, mode)
    if ret < 0:
        return MoveResult(ret, ret)
    # wake_userfault on [dst, dst + ret) unless DONTWAKE: nobody waits in the model
    return MoveResult(0 if ret == length else -EAGAIN, ret)


def uffd_lock_vma(w: World, mm: MM, addr: int) -> Gen:
    """``uffd_lock_vma`` (v6.18/v6.19): the VMA read-locked, with an anon_vma; falls back
    to the mmap_lock to prepare the anon_vma.  Returns the VMA or a negative errno."""
    fn = "uffd_lock_vma"
    vma = mm.find_vma(addr)
    if vma is not None:  # lock_vma_under_rcu
        ok = yield ops.down_read_trylock(fn, vma.lock)
        if ok:
            if vma.detached:
                yield ops.up_read(fn, vma.lock)
            elif vma.shared or vma.anon_vma is not None:
                return vma
            else:
                yield ops.up_read(fn, vma.lock)
    yield ops.down_read(fn, mm.mmap_lock)
    vma = mm.find_vma(addr)  # find_vma_and_prepare_anon
    if vma is None:
        yield ops.up_read(fn, mm.mmap_lock)
        return -ENOENT
    yield from anon_vma.anon_vma_prepare(w, vma)
    yield ops.down_read(fn, vma.lock)  # vma_start_read_locked
    yield ops.up_read(fn, mm.mmap_lock)
    return vma


def uffd_move_lock(w: World, mm: MM, dst: int, src: int) -> Gen:
    """``uffd_move_lock`` (v6.18/v6.19): read-lock the dst VMA, then the src VMA (the
    same one if src lies in dst).  Returns (dst_vma, src_vma) or a negative errno."""
    fn = "uffd_move_lock"
    dvma = yield from uffd_lock_vma(w, mm, dst)
    if isinstance(dvma, int):
        return dvma
    if dvma.start <= src < dvma.end:
        return (dvma, dvma)
    svma = mm.find_vma(src)
    if svma is not None:  # lock_vma_under_rcu(mm, src)
        ok = yield ops.down_read_trylock(fn, svma.lock)
        if ok and not svma.detached:
            return (dvma, svma)
        if ok:
            yield ops.up_read(fn, svma.lock)
    yield ops.up_read(fn, dvma.lock)  # undo and retry under the mmap_lock
    yield ops.down_read(fn, mm.mmap_lock)
    dvma = mm.find_vma(dst)  # find_vmas_mm_locked
    if dvma is None:
        yield ops.up_read(fn, mm.mmap_lock)
        return -ENOENT
    yield from anon_vma.anon_vma_prepare(w, dvma)
    svma = dvma if dvma.start <= src < dvma.end else mm.find_vma(src)
    if svma is None:
        yield ops.up_read(fn, mm.mmap_lock)
        return -ENOENT
    yield ops.down_read(fn, dvma.lock)
    if svma is not dvma:
        yield ops.down_read(fn, svma.lock, subclass=1)
    yield ops.up_read(fn, mm.mmap_lock)
    return (dvma, svma)


def uffd_move_unlock(fn: str, dvma: VMA, svma: VMA) -> Gen:
    if svma is not dvma:
        yield ops.up_read(fn, svma.lock)
    yield ops.up_read(fn, dvma.lock)


def validate_move_areas(mm: MM, svma: VMA, dvma: VMA) -> int:
    """``validate_move_areas`` (v6.18/v6.19)."""
    if svma.write != dvma.write or svma.locked != dvma.locked:
        return -EINVAL
    if not svma.write:
        return -EINVAL
    if not dvma.uffd:  # dst registered with this ctx
        return -EINVAL
    return 0


def move_pages(w: World, mm: MM, dst_start: int, src_start: int, length: int, mode: int) -> Gen:
    """``move_pages`` (v6.18/v6.19)."""
    fn = "move_pages"
    moved = 0
    r = yield from uffd_move_lock(w, mm, dst_start, src_start)
    if isinstance(r, int):
        return r
    dvma, svma = r
    ctx = mm.uffd
    err = -EAGAIN
    yield ops.down_read(fn, ctx.map_changing_lock)
    changing = yield ops.read(fn, f"uffd:mm{mm.id}.mmap_changing", lambda: ctx.mmap_changing)
    if not changing:
        err = -EINVAL  # shared VMAs, ranges past the VMA end, then validate_move_areas
        in_range = src_start + length <= svma.end and dst_start + length <= dvma.end
        if in_range and not svma.shared and not dvma.shared:
            err = validate_move_areas(mm, svma, dvma)
    uncounted = 0  # consecutive passes whose success the sticky err hid
    if not changing and err == 0:
        src_addr, dst_addr, src_end = src_start, dst_start, src_start + length
        while src_addr < src_end:
            src_has_table = src_addr // PTRS_PER_PTE in mm.tables
            if not src_has_table:  # mm_find_pmd / pmd_none
                if not mode & UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES:
                    err = -ENOENT
                    break
                mm.table(src_addr)  # __pte_alloc
            mm.table(dst_addr)  # pte_alloc
            ret = yield from move_pages_ptes(
                w, mm, dvma, svma, dst_addr, src_addr, src_end - src_addr, mode
            )
            # not a memory access: a trace point so reports show what each pass returned
            yield ops.point(
                fn, "returned", f"move_pages_ptes@{src_addr:#x}", partial(prim.errname, ret)
            )
            if ret < 0:
                err = ret
                uncounted = 0
            else:
                # v6.18/v6.19 as read (docs/kernel-notes/move.md, note "sticky -EAGAIN"):
                # err is not reset on success, so a success after an -EAGAIN retry is
                # not counted and the loop goes round again at the same addresses.
                step = ret
                if w.knob["move.reset_err_on_retry"]:
                    err = 0
                elif err == -EAGAIN:
                    uncounted += 1
                    if uncounted >= MOVE_LIVELOCK_PASSES:
                        # I16: retrying forever although no progress is possible (a hole
                        # "moved" with ALLOW_SRC_HOLES is a success that changes nothing)
                        raise ViolationError(
                            "move.result",
                            fn,
                            f"livelock: move_pages went round {uncounted} times at "
                            f"{src_addr:#x} with successes it never counts (sticky -EAGAIN)",
                            (f"mm{mm.id}",),
                        )
            if err:
                if err == -EAGAIN:
                    continue
                break
            dst_addr += step
            src_addr += step
            moved += step
    yield ops.up_read(fn, ctx.map_changing_lock)
    yield from uffd_move_unlock(fn, dvma, svma)
    return moved if moved else err


# --- move_pages_ptes ---------------------------------------------------------------------------


class MoveState:
    """The locals of ``move_pages_ptes`` that live across its ``retry`` label."""

    __slots__ = ("dst_mapped", "si", "src_anon_vma", "src_folio", "src_folio_pte", "src_mapped")

    def __init__(self) -> None:
        self.src_folio: Folio | None = None
        self.src_folio_pte: Pte | None = None
        self.src_anon_vma: AnonVma | None = None
        self.src_mapped = False
        self.dst_mapped = False
        self.si = False


def move_pages_ptes(
    w: World, mm: MM, dvma: VMA, svma: VMA, dst_addr: int, src_addr: int, length: int, mode: int
) -> Gen:
    """``move_pages_ptes`` (v6.18 with the anon_vma write lock; v6.19 without)."""
    fn = "move_pages_ptes"
    st = MoveState()
    yield ops.point(fn, "mmu_notifier_start", f"mm{mm.id}", None)
    ret = yield from _move_pages_ptes_body(w, mm, dvma, svma, dst_addr, src_addr, length, mode, st)
    # out:
    if st.src_anon_vma is not None:
        yield prim.anon_vma_unlock_write(fn, st.src_anon_vma)
        yield from anon_vma.put_anon_vma(w, fn, st.src_anon_vma)
    if st.src_folio is not None:
        yield prim.folio_unlock(fn, st.src_folio)
        yield prim.folio_put(w, fn, st.src_folio)
    if st.src_mapped:
        yield prim.pte_unmap(fn, mm, src_addr)
    if st.dst_mapped:
        yield prim.pte_unmap(fn, mm, dst_addr)
    yield ops.point(fn, "mmu_notifier_end", f"mm{mm.id}", None)
    return ret


def _unmap_both(mm: MM, st: MoveState, src_addr: int, dst_addr: int, fn: str) -> Gen:
    if st.src_mapped:
        yield prim.pte_unmap(fn, mm, src_addr)
        st.src_mapped = False
    if st.dst_mapped:
        yield prim.pte_unmap(fn, mm, dst_addr)
        st.dst_mapped = False


def _sleep(
    w: World, fn: str, mm: MM, st: MoveState, src_addr: int, dst_addr: int, op: ops.Op
) -> Gen:
    """Unmap the PTEs (knob ``move.unmap_before_sleep``), then sleep in ``op``."""
    if w.knob["move.unmap_before_sleep"]:
        yield from _unmap_both(mm, st, src_addr, dst_addr, fn)
    yield op


def _move_pages_ptes_body(
    w: World,
    mm: MM,
    dvma: VMA,
    svma: VMA,
    dst_addr: int,
    src_addr: int,
    length: int,
    mode: int,
    st: MoveState,
) -> Gen:
    fn = "move_pages_ptes"
    knob = w.knob
    dst_ptl = w.ptl(mm, dst_addr)
    src_ptl = w.ptl(mm, src_addr)
    while True:  # retry:
        if st.dst_mapped or st.src_mapped:  # only when a knob skipped the unmap
            yield from _unmap_both(mm, st, src_addr, dst_addr, fn)
        yield prim.pte_offset_map(fn, mm, dst_addr)  # pte_offset_map_rw_nolock
        st.dst_mapped = True
        yield prim.pte_offset_map(fn, mm, src_addr)
        st.src_mapped = True

        yield prim.spin_lock(fn, dst_ptl)
        orig_dst = mm.pte(dst_addr)
        yield prim.spin_unlock(fn, dst_ptl)
        if orig_dst is not None:
            return -EEXIST

        yield prim.spin_lock(fn, src_ptl)
        orig_src = mm.pte(src_addr)
        yield prim.spin_unlock(fn, src_ptl)
        if orig_src is None:
            if not mode & UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES:
                return -ENOENT
            return PAGE_SIZE  # nothing to do to move a hole

        # If the PTE changed after we locked the folio, start over (R9)
        if (
            st.src_folio is not None
            and knob["move.recheck_src_after_sleep"]
            and not pte_same(st.src_folio_pte, orig_src)
        ):
            return -EAGAIN

        if orig_src.present:
            if orig_src.kind == "zero":
                return (
                    yield from move_zeropage_pte(
                        w, mm, dvma, svma, dst_addr, src_addr, orig_dst, orig_src
                    )
                )
            if knob["move.lock_order"] == "anon-vma-first" and knob["move.anon_vma_lock"]:
                r = yield from _lock_anon_vma(
                    w, fn, mm, st, orig_src, src_addr, dst_addr, first=True
                )
                if r == "retry":
                    continue
                if r:
                    return r
            if st.src_folio is None:
                yield prim.spin_lock(fn, src_ptl)
                cur = mm.pte(src_addr)
                if not pte_same(orig_src, cur):
                    yield prim.spin_unlock(fn, src_ptl)
                    return -EAGAIN
                folio = orig_src.folio  # vm_normal_folio
                if folio is None or (knob["move.check_exclusive"] and not folio.pae):
                    yield prim.spin_unlock(fn, src_ptl)
                    return -EBUSY
                locked = yield prim.folio_trylock(fn, folio)
                yield prim.folio_get(w, fn, folio)
                st.src_folio = folio
                st.src_folio_pte = orig_src
                yield prim.spin_unlock(fn, src_ptl)
                if not locked:
                    yield from _sleep(w, fn, mm, st, src_addr, dst_addr, prim.folio_lock(fn, folio))
                    continue
            folio = st.src_folio
            assert folio is not None
            if knob["move.anon_vma_lock"] and st.src_anon_vma is None:
                r = yield from _lock_anon_vma(
                    w, fn, mm, st, orig_src, src_addr, dst_addr, first=False
                )
                if r == "retry":
                    continue
                if r:
                    return r
            return (
                yield from move_present_ptes(
                    w, mm, dvma, svma, dst_addr, src_addr, orig_dst, orig_src, st, length
                )
            )

        # a swap or migration entry
        if orig_src.kind == "migration":
            assert orig_src.folio is not None
            yield from _sleep(
                w,
                fn,
                mm,
                st,
                src_addr,
                dst_addr,
                ops.wait_unlocked("migration_entry_wait", orig_src.folio.lock),
            )
            return -EAGAIN
        if orig_src.kind != "swap":
            return -EFAULT
        if not orig_src.exclusive:
            return -EBUSY
        if not w.swap.present:  # get_swap_device
            return -EAGAIN
        st.si = True
        folio = None
        if st.src_folio is None:
            # filemap_get_folio: the lookup and folio_try_get are one step (under RCU,
            # rechecked with xas_reload); a folio being freed is not returned
            folio = yield ops.atomic(
                fn,
                f"swap:{orig_src.entry}.cache",
                partial(memory.swap_cache_get_folio, w, orig_src.entry),
            )
        if folio is not None:
            st.src_folio = folio
            st.src_folio_pte = orig_src
            ok = yield prim.folio_trylock(fn, folio)
            if not ok:
                st.si = False  # put_swap_device
                yield from _sleep(w, fn, mm, st, src_addr, dst_addr, prim.folio_lock(fn, folio))
                continue
        return (
            yield from move_swap_pte(
                w, mm, dvma, dst_addr, src_addr, orig_dst, orig_src, st.src_folio, orig_src.entry
            )
        )


def _lock_anon_vma(
    w: World,
    fn: str,
    mm: MM,
    st: MoveState,
    orig_src: Pte,
    src_addr: int,
    dst_addr: int,
    first: bool,
) -> Gen:
    """[v6.18] pin the folio's anon_vma (``folio_get_anon_vma``) and write-lock its root,
    sleeping (PTEs unmapped) if the trylock fails.  Returns 0, an errno or "retry".
    With ``move.lock_order=anon-vma-first`` this runs before the folio is locked."""
    if st.src_anon_vma is not None:
        return 0
    folio = orig_src.folio
    assert folio is not None
    if first:
        # anon-vma-first variant: reach the anon_vma through the unlocked folio
        av = yield from _get_anon_vma_unlocked(w, fn, folio)
    else:
        av = yield from rmap.folio_get_anon_vma(w, folio)
    if av is None:
        return -EAGAIN  # page was unmapped from under us
    st.src_anon_vma = av
    ok = yield prim.anon_vma_trylock_write(fn, av)
    if not ok:
        yield from _sleep(w, fn, mm, st, src_addr, dst_addr, prim.anon_vma_lock_write(fn, av))
        return "retry"
    return 0


def _get_anon_vma_unlocked(w: World, fn: str, folio: Folio) -> Gen:
    """``folio_get_anon_vma`` without the folio lock (only for the anon-vma-first knob)."""
    yield ops.rcu_read_lock(fn)
    mapping = yield ops.read(fn, f"{folio.name}.mapping", lambda: folio.mapping)
    mapped = yield prim.folio_mapped(fn, folio)
    if mapping is None or not mapped:
        yield ops.rcu_read_unlock(fn)
        return None
    av = w.anon_vmas.deref(mapping, fn, "refcount")
    got = yield ops.atomic(fn, f"{mapping.name}.refcount", lambda: rmap._inc_not_zero(av))
    yield ops.rcu_read_unlock(fn)
    return mapping if got else None
