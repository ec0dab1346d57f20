"""The model's state: mm, VMA, anon_vma, AVC, folio, PTEs, page-table locks, swap.

Follows the data structures of docs/protocol.md#structures (include/linux/mm_types.h, rmap.h).
Units: one page is one address unit (``addr`` is a virtual page number), a folio is
one page (small folios; large folios are not modelled), and a page-table page covers
``PTRS_PER_PTE`` pages with its own split PTL.  Everything here is plain data; the
operations that change it with the kernel's locking live in the sibling modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fuzzlock.sched import Lock, RWSem, TypesafePool

if TYPE_CHECKING:
    from fuzzlock.model.walkrecord import WalkRecord
    from fuzzlock.protocol import Protocol
    from fuzzlock.sched import Scheduler

PTRS_PER_PTE = 8  # pages per page-table page (one split PTL each); small to make PMD edges common


# --- page table entries ------------------------------------------------------------------------


class Pte:
    """A non-none PTE value.  ``kind`` is ``present``, ``zero`` (the shared zero page),
    ``swap`` or ``migration``.  Values are immutable: a PTE update stores a new one, so
    ``pte_same`` is value equality, as in the kernel."""

    __slots__ = (
        "dirty",
        "entry",
        "exclusive",
        "folio",
        "kind",
        "mid",
        "soft_dirty",
        "writable",
        "young",
    )

    def __init__(
        self,
        kind: str,
        folio: Folio | None = None,
        writable: bool = False,
        young: bool = False,
        dirty: bool = False,
        soft_dirty: bool = False,
        entry: int = 0,
        exclusive: bool = False,
        mid: int = 0,
    ) -> None:
        self.kind = kind
        self.folio = folio
        self.writable = writable
        self.young = young
        self.dirty = dirty
        self.soft_dirty = soft_dirty
        self.entry = entry
        self.exclusive = exclusive
        # Ghost mapping identity (not a hardware bit, not part of pte_same): a new
        # mapping gets a fresh id, UFFDIO_MOVE carries the id to dst.  walk.complete
        # uses it to tell "the same mapping, moved during the walk" from a new one.
        self.mid = mid

    def key(self) -> tuple[Any, ...]:
        fid = self.folio.id if self.folio is not None else -1
        return (
            self.kind,
            fid,
            self.writable,
            self.young,
            self.dirty,
            self.soft_dirty,
            self.entry,
            self.exclusive,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pte) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def with_(self, **kw: Any) -> Pte:
        p = Pte(
            self.kind,
            self.folio,
            self.writable,
            self.young,
            self.dirty,
            self.soft_dirty,
            self.entry,
            self.exclusive,
            self.mid,
        )
        for k, v in kw.items():
            setattr(p, k, v)
        return p

    @property
    def present(self) -> bool:
        return self.kind == "present" or self.kind == "zero"

    def trace_repr(self) -> str:
        if self.kind == "present":
            flags = (
                ("w" if self.writable else "")
                + ("y" if self.young else "")
                + ("d" if self.dirty else "")
                + ("s" if self.soft_dirty else "")
            )
            return f"P(folio:{self.folio.id if self.folio else '?'}{',' + flags if flags else ''})"
        if self.kind == "zero":
            return "Z"
        if self.kind == "swap":
            return f"S({self.entry}{',x' if self.exclusive else ''})"
        return f"M(folio:{self.folio.id if self.folio else '?'}{',x' if self.exclusive else ''})"

    def __repr__(self) -> str:
        return self.trace_repr()


def pte_same(a: Pte | None, b: Pte | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.key() == b.key()


def fmt_pte(p: Pte | None) -> str:
    return "none" if p is None else p.trace_repr()


class PageTable:
    """One PTE page: its split PTL and entries (addr -> Pte; absent = pte_none)."""

    __slots__ = ("index", "ptes", "ptl")

    def __init__(self, mm: MM, index: int) -> None:
        self.index = index
        self.ptl = Lock(f"ptl:mm{mm.id}:{index}", "ptl", sleeps=False)
        self.ptes: dict[int, Pte] = {}


# --- folios ------------------------------------------------------------------------------------


class Folio:
    """A small anon folio.  ``mapping`` is the anon_vma (the FOLIO_MAPPING_ANON pointer);
    it is left stale on the last unmap, as in the kernel."""

    __slots__ = (
        "dirty",
        "freed",
        "id",
        "index",
        "isolated",
        "lock",
        "lru",
        "mapcount",
        "mapping",
        "pae",
        "pincount",
        "refcount",
        "swap",
        "value",
    )

    def __init__(self, fid: int, value: int) -> None:
        self.id = fid
        self.lock = Lock(f"folio:{fid}", "folio_lock", sleeps=True)
        self.mapping: AnonVma | None = None
        self.index = 0
        self.refcount = 1
        self.mapcount = 0  # number of PTEs mapping it (kernel: _mapcount + 1)
        self.pae = False  # PageAnonExclusive of its one page
        self.lru = False
        self.isolated = False
        self.swap = 0  # swap entry when in the swap cache, else 0
        self.pincount = 0
        self.dirty = False
        self.value = value  # the page's content, for user.data
        self.freed = False

    @property
    def name(self) -> str:
        return f"folio:{self.id}"

    def trace_repr(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return (
            f"Folio({self.id} mapping={self.mapping!r} index={self.index} "
            f"ref={self.refcount} map={self.mapcount} pae={self.pae})"
        )


# --- anon_vma and AVC --------------------------------------------------------------------------


class AnonVma:
    """An anon_vma in the typesafe-by-RCU pool; ``lock`` is its slot's rwsem (only the
    root's is ever taken: "locking an anon_vma" means locking ``root.lock``)."""

    __slots__ = (
        "gen",
        "lock",
        "num_active_vmas",
        "num_children",
        "parent",
        "refcount",
        "root",
        "slot",
        "tree",
    )

    def __init__(self, slot: int, gen: int, lock: RWSem) -> None:
        self.slot = slot
        self.gen = gen
        self.lock = lock
        self.root: AnonVma = self
        self.parent: AnonVma = self
        self.refcount = 1
        self.num_children = 0
        self.num_active_vmas = 0
        self.tree: list[AVC] = []  # the interval tree, as a list in insertion order

    @property
    def name(self) -> str:
        return f"anon_vma:{self.slot}"

    def trace_repr(self) -> str:
        return f"anon_vma:{self.slot}#{self.gen}"

    def __repr__(self) -> str:
        return self.trace_repr()


class AVC:
    """anon_vma_chain: links ``vma`` into ``anon_vma``'s interval tree."""

    __slots__ = ("anon_vma", "vma")

    def __init__(self, vma: VMA, anon_vma: AnonVma) -> None:
        self.vma = vma
        self.anon_vma = anon_vma

    def __repr__(self) -> str:
        return f"AVC({self.vma.name}, {self.anon_vma!r})"


# --- mm and VMA --------------------------------------------------------------------------------


class VMA:
    __slots__ = (
        "anon_vma",
        "chain",
        "detached",
        "dontfork",
        "end",
        "id",
        "lock",
        "locked",
        "mm",
        "name",
        "pgoff",
        "shared",
        "start",
        "uffd",
        "wipeonfork",
        "write",
    )

    def __init__(self, vid: int, mm: MM, start: int, end: int, name: str) -> None:
        self.id = vid
        self.mm = mm
        self.name = name
        self.start = start
        self.end = end
        self.pgoff = start  # anon VMAs: vm_pgoff = vm_start >> PAGE_SHIFT at creation
        self.write = True
        self.shared = False
        self.locked = False
        self.uffd = False  # registered with this mm's userfaultfd context
        self.dontfork = False
        self.wipeonfork = False
        self.anon_vma: AnonVma | None = None
        self.chain: list[AVC] = []
        self.lock = RWSem(f"vma:{name}", "vma_lock")
        self.detached = False

    def linear_page_index(self, addr: int) -> int:
        return addr - self.start + self.pgoff

    def address_of(self, pgoff: int) -> int:
        return pgoff - self.pgoff + self.start

    def contains(self, addr: int) -> bool:
        return self.start <= addr < self.end

    def __repr__(self) -> str:
        return f"VMA({self.name} mm{self.mm.id} [{self.start},{self.end}) pgoff={self.pgoff})"


class UffdCtx:
    __slots__ = ("map_changing_lock", "mm_id", "mmap_changing")

    def __init__(self, mm: MM) -> None:
        self.mm_id = mm.id  # its identity (footprint cells name it by its mm)
        self.mmap_changing = 0
        self.map_changing_lock = RWSem(f"uffd:mm{mm.id}.map_changing_lock", "map_changing_lock")


class MM:
    __slots__ = ("alive", "id", "mmap_lock", "page_table_lock", "tables", "uffd", "vmas")

    def __init__(self, mid: int) -> None:
        self.id = mid
        self.mmap_lock = RWSem(f"mm{mid}.mmap_lock", "mmap_lock")
        self.page_table_lock = Lock(f"mm{mid}.page_table_lock", "page_table_lock", sleeps=False)
        self.vmas: list[VMA] = []
        self.tables: dict[int, PageTable] = {}
        self.uffd = UffdCtx(self)
        self.alive = True

    def find_vma(self, addr: int) -> VMA | None:
        for v in self.vmas:
            if v.start <= addr < v.end and not v.detached:
                return v
        return None

    def table(self, addr: int) -> PageTable:
        i = addr // PTRS_PER_PTE
        t = self.tables.get(i)
        if t is None:
            t = self.tables[i] = PageTable(self, i)
        return t

    def pte(self, addr: int) -> Pte | None:
        t = self.tables.get(addr // PTRS_PER_PTE)
        return None if t is None else t.ptes.get(addr)


def pte_name(mm: MM, addr: int) -> str:
    return f"pte:mm{mm.id}:{addr:#x}"


# --- swap --------------------------------------------------------------------------------------


class SwapDevice:
    """Swap slots: ``count`` is the swap_map count (PTEs holding the entry), ``cache``
    the swap-cache folio of an entry; ``content`` what was written out."""

    __slots__ = ("cache", "content", "count", "next_entry", "present")

    def __init__(self) -> None:
        self.present = True
        self.count: dict[int, int] = {}
        self.cache: dict[int, Folio] = {}
        self.content: dict[int, int] = {}
        self.next_entry = 1


# --- the world ---------------------------------------------------------------------------------


class World:
    """Everything one run of one scenario touches."""

    def __init__(self, sched: Scheduler, proto: Protocol) -> None:
        self.sched = sched
        self.proto = proto
        self.knob = dict(proto.knobs)  # plain dict: read on hot paths
        self.anon_vmas = TypesafePool(
            sched, "anon_vma", lambda i: RWSem(f"anon_vma:{i}", "anon_vma->rwsem")
        )
        self.mms: dict[int, MM] = {}
        self.vmas_by_name: dict[str, VMA] = {}
        self.folios: list[Folio] = []
        self.named_folios: dict[str, Folio] = {}
        self.swap = SwapDevice()
        self.next_vma_id = 0
        self.next_mid = 1
        # user.data: what each user page holds in a sequential execution of the
        # linearized operations (mm id, addr) -> value; 0 = never written
        self.ghost: dict[tuple[int, int], int] = {}
        self.walks: dict[int, WalkRecord] = {}  # in-flight rmap walks by thread id
        self.folio_refs: dict[int, dict[int, int]] = {}  # tid -> folio id -> temporary refs
        self.anon_vma_pins: dict[int, dict[int, int]] = {}  # tid -> anon_vma slot -> pins
        self.notifier_depth: dict[int, int] = {}  # tid -> open mmu_notifier ranges
        self.pte_moves: dict[int, int] = {}  # tid -> PTEs it moved (for move.result)
        self.pins: dict[int, list[Folio]] = {}  # tid -> folios it pinned (GUP-fast)
        self.pinned_mms: set[int] = set()  # mms with MMF_HAS_PINNED

    # --- allocation ---

    def new_mm(self, mid: int) -> MM:
        mm = MM(mid)
        self.mms[mid] = mm
        return mm

    def new_folio(self, value: int) -> Folio:
        f = Folio(len(self.folios), value)
        self.folios.append(f)
        return f

    def new_vma(self, mm: MM, start: int, end: int, name: str | None = None) -> VMA:
        vid = self.next_vma_id
        self.next_vma_id += 1
        v = VMA(vid, mm, start, end, name or f"v{vid}")
        self.vmas_by_name[v.name] = v
        return v

    def mapping_id(self) -> int:
        m = self.next_mid
        self.next_mid = m + 1
        return m

    def tid(self) -> int:
        t = self.sched.current
        return t.tid if t is not None else -1

    def alloc_anon_vma(self) -> AnonVma:
        return self.anon_vmas.alloc(lambda slot, gen, lock: AnonVma(slot, gen, lock))

    # --- lookups ---

    def ptl(self, mm: MM, addr: int) -> Lock:
        return mm.table(addr).ptl

    def set_pte(self, mm: MM, addr: int, pte: Pte | None) -> None:
        t = mm.table(addr)
        if pte is None:
            t.ptes.pop(addr, None)
        else:
            t.ptes[addr] = pte

    def all_mappings(self) -> list[tuple[MM, VMA, int, Pte]]:
        """Every non-none PTE with its VMA (a detached VMA still owns its PTEs until
        they are zapped), in a deterministic order.  Walks the page tables, not the
        address ranges: it runs after every step."""
        out = []
        for mm in self.mms.values():
            vmas = mm.vmas
            for t in mm.tables.values():
                for addr, p in t.ptes.items():
                    for v in vmas:
                        if v.start <= addr < v.end:
                            out.append((mm, v, addr, p))
                            break
        return out

    def folio_mappings(self, folio: Folio) -> list[tuple[VMA, int]]:
        """Where ``folio`` is mapped: present PTEs, migration entries, and swap PTEs whose
        swap-cache folio it is (docs/protocol.md#invariants, "mapped")."""
        out = []
        for _mm, v, addr, p in self.all_mappings():
            if p.folio is folio or (p.kind == "swap" and folio.swap and p.entry == folio.swap):
                out.append((v, addr))
        return out

    def mm_of(self, mid: int) -> MM:
        return self.mms[mid]
