"""Ground truth for ``walk.complete`` (I10).

When an rmap walk starts traversing (its anon_vma lock taken) the record notes every
mapping of the folio that exists then, by ghost mapping id; when it ends it notes them
again.  A mapping present at both ends existed during the whole walk (a mapping that
UFFDIO_MOVE relocated keeps its id, so it still counts).  Each such mapping must have
been *found* by the walk: some ``rmap_one`` call computed its current address in its
VMA and saw the PTE there map the folio.  Mappings created or destroyed during the walk
(fork copies, zaps) are in only one snapshot and may be missed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fuzzlock.model.world import VMA, Folio, World


class WalkRecord:
    __slots__ = ("caller", "folio", "found", "start", "visited")

    def __init__(self, w: World, folio: Folio, caller: str) -> None:
        self.folio = folio
        self.caller = caller
        self.start = mapping_ids(w, folio)
        self.found: set[int] = set()
        self.visited: list[tuple[str, int]] = []

    def visit(self, vma: VMA, addr: int, mid: int) -> None:
        """``rmap_one`` ran on (vma, addr); ``mid`` is the mapping found there, 0 if none."""
        self.visited.append((vma.name, addr))
        if mid:
            self.found.add(mid)

    def missed(self, w: World) -> dict[int, tuple[str, int]]:
        """Mappings that existed throughout the walk and were not found: mid -> where."""
        end = mapping_ids(w, self.folio)
        return {m: end[m] for m in sorted(set(self.start) & set(end)) if m not in self.found}


def mapping_ids(w: World, folio: Folio) -> dict[int, tuple[str, int]]:
    """Present PTEs mapping ``folio``: ghost mapping id -> (VMA name, address)."""
    out: dict[int, tuple[str, int]] = {}
    for _mm, v, addr, p in w.all_mappings():
        if p.folio is folio and p.kind == "present":
            out[p.mid] = (v.name, addr)
    return out


def missed_objects(w: World, folio: Folio, missed: dict[int, tuple[str, int]]) -> tuple[str, ...]:
    """The trace names of a walk.complete violation: the folio, the missed PTEs, VMAs."""
    from fuzzlock.model.world import pte_name

    names = [folio.name]
    for vname, addr in missed.values():
        v = w.vmas_by_name[vname]
        names += [pte_name(v.mm, addr), f"vma:{vname}"]
    return tuple(names)
