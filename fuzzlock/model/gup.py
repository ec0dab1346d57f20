"""mm/gup.c: GUP-fast pins (``FOLL_PIN``) and ``unpin_user_page``.

PYTEST_DONT_REWRITE

Each function names the kernel function and version it follows.
"""

from __future__ import annotations

from fuzzlock.model import prim
from fuzzlock.model.prim import EFAULT, Gen
from fuzzlock.model.world import MM, Folio, World
from fuzzlock.sched import ops


def gup_fast_pin(w: World, mm: MM, addr: int) -> Gen:
    """``gup_fast_pte_range`` with FOLL_PIN|FOLL_WRITE|FOLL_LONGTERM (v6.18/v6.19): no
    locks; grab a pin, then recheck the PTE and back out if it changed.  A page that is
    not PageAnonExclusive must be unshared by the slow path (not modelled: the pin fails).
    Returns the pinned folio or None."""
    fn = "gup_fast_pin"
    pte = yield prim.ptep_get(fn, mm, addr)
    if pte is None or pte.kind != "present" or pte.folio is None:
        return None
    folio = pte.folio
    if not folio.pae:
        return None

    def grab() -> bool:
        if folio.freed or folio.refcount == 0:
            return False
        folio.refcount += 1
        folio.pincount += 1
        w.pinned_mms.add(mm.id)  # MMF_HAS_PINNED
        return True

    if not (yield ops.atomic(fn, f"{folio.name}.pincount", grab)):
        return None
    again = yield prim.ptep_get(fn, mm, addr)
    if again is None or again.key() != pte.key():
        yield from unpin_folio(w, folio)
        return None
    w.pins.setdefault(w.tid(), []).append(folio)
    return folio


def unpin_folio(w: World, folio: Folio) -> Gen:
    """``unpin_user_page`` (v6.18/v6.19)."""
    fn = "unpin_user_page"

    def drop() -> int:
        folio.pincount -= 1
        folio.refcount -= 1
        if folio.refcount == 0:
            prim.free_folio(w, fn, folio)
        return folio.pincount

    yield ops.atomic(fn, f"{folio.name}.pincount", drop)


def unpin_last(w: World) -> Gen:
    """Unpin the folio this thread pinned most recently (scenario op ``unpin``)."""
    pins = w.pins.get(w.tid(), [])
    if not pins:
        return -EFAULT
    folio = pins.pop()
    yield from unpin_folio(w, folio)
    return 0
