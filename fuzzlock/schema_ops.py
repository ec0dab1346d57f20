"""The scenario operations of the boundary schema (``fuzzlock.schema.OPS``; imported there,
which is where the rest of the code reads them).

Each ``Op`` names its fields, its C code, its Python and C implementations, its encoding
slots with their ranges, and how its result is formatted; docs/extending.md shows how a
new one is added.
"""

from __future__ import annotations

from typing import Any

import attrs

#: distinct setup folio names of one scenario (``schema.CONSTANTS``)
FL_MAX_FOLIO_NAMES = 64

#: The largest address, start or child id an op's C encoding takes (``scenario.MAX_ADDR``).
_ADDR_HI = 1 << 20
_MM_HI = 1_000_000
_PAGES = (1, 64)
_I64 = (-(2**63), 2**63 - 1)

#: How a slot's scenario field becomes its word (``Slot.enc``):
#: ``int``/``bool`` the value (a handler argument); ``modes`` the OR of ``MOVE_MODES`` bits
#: (a handler argument); ``folio`` the slot of a bound setup folio name (the op's target);
#: ``bind`` that slot + 1 for a setup read/write that binds it, 0 for none; ``name`` an index
#: into the names string; ``flags`` the OR of the ``MMAP_FLAGS`` bits of the bool fields.
SLOT_ENCODINGS = ("int", "bool", "modes", "folio", "bind", "name", "flags")
#: Slot encodings passed to the op's Python and C function, in slot order.
ARG_ENCODINGS = ("int", "bool", "modes")

#: How an op's result is formatted (``Op.result``), Python -> C return type:
#: ``int`` (int, ``long long``), ``bool`` ("1"/"0", ``bool``), ``str`` (``const char *``),
#: ``access`` (int or "segv"/"uffd-missing", ``long long`` with FL_SEGV/FL_UFFD_MISSING),
#: ``folio`` (a folio or None -> its name or ``Op.result_none``; ``int`` folio id, < 0 none),
#: ``opt_int`` (int or None -> "-"; ``bool fn(..., long long *out)``),
#: ``ids`` (list of ints, None -> "-"; ``int fn(..., int *ids)``, the count, < 0 none),
#: ``custom`` (a special case in both ``do_op`` functions says how).
RESULT_KINDS = ("int", "bool", "str", "access", "folio", "opt_int", "ids", "custom")


@attrs.frozen
class Slot:
    """One word of an op's C encoding after the code and the mm (``a`` .. ``e``)."""

    field: str
    lo: int
    hi: int
    enc: str = "int"
    #: the C handler's parameter type (``int`` and ``bool`` are cast from the word)
    ctype: str = "long long"
    #: nonzero only in the setup (a read or write binding a folio name)
    setup_only: bool = False


@attrs.frozen
class Op:
    """One scenario operation: its JSON fields, its C code (``enum fl_sc_code``), the
    model functions that implement it and how its fields reach them.

    A generic op (``special`` empty) needs nothing else: ``fuzzlock.model.do_op`` calls
    ``py`` (``module.function`` under fuzzlock/model/) with the world, its target (the mm
    of its ``mm`` field, or the folio of its ``folio`` field, or nothing), the fields of its
    argument slots and ``consts``; the C model calls ``c`` likewise (the generated
    native/fuzzlock_ops.h declares its prototype from this entry, so the compiler checks
    it); both format the result by ``result``.  ``special`` says why an op has a
    hand-written case in both ``do_op`` functions (or in the setup).
    """

    name: str
    code: int
    c_name: str
    required: tuple[tuple[str, type], ...]
    optional: tuple[tuple[str, Any], ...] = ()
    #: only in a scenario's setup (mmap, bind)
    setup_only: bool = False
    #: the Python implementation, ``module.function`` under fuzzlock/model/
    py: str = ""
    #: the C implementation (a function of native/<module>.c)
    c: str = ""
    #: the encoding words a..e (fewer: the rest are 0)
    slots: tuple[Slot, ...] = ()
    result: str = "int"
    #: ``folio`` results: the text for no folio
    result_none: str = "-"
    #: constant trailing arguments: (Python keyword, value), passed to C positionally
    consts: tuple[tuple[str, bool], ...] = ()
    #: why the op needs a hand-written case ("" for none)
    special: str = ""

    @property
    def names_folio(self) -> bool:
        """Whether the op reaches its folio physically (by a setup-bound folio name)."""
        fields = dict(self.required)
        return "folio" in fields and "mm" not in fields

    @property
    def target(self) -> str:
        """What the op acts on: ``mm`` (its ``mm`` field), ``folio`` or ``none``."""
        if "mm" in dict(self.required):
            return "mm"
        return "folio" if self.names_folio else "none"

    @property
    def mm_range(self) -> tuple[int, int]:
        """The range of the encoding's mm word (0 when the op has no mm)."""
        return (0, _MM_HI) if self.target == "mm" else (0, 0)

    @property
    def args(self) -> tuple[Slot, ...]:
        """The slots passed to the implementation, in order."""
        return tuple(s for s in self.slots if s.enc in ARG_ENCODINGS)


def _addr(field: str = "addr") -> Slot:
    return Slot(field, 0, _ADDR_HI)


_MM_ADDR_PAGES = (("mm", int), ("addr", int), ("pages", int))
_ADDR_PAGES = (_addr(), Slot("pages", *_PAGES))
_FOLIO = (("folio", str),)
_FOLIO_SLOT = Slot("folio", 0, FL_MAX_FOLIO_NAMES - 1, "folio")

#: The scenario operations, in the order fuzzlock.scenario lists them.
OPS: tuple[Op, ...] = (
    Op(
        "mmap",
        0,
        "FL_SC_MMAP",
        (("mm", int), ("vma", str), ("start", int), ("pages", int)),
        (
            ("uffd", False),
            ("write", True),
            ("locked", False),
            ("dontfork", False),
            ("wipeonfork", False),
        ),
        setup_only=True,
        slots=(
            Slot("vma", 0, 0, "name"),
            _addr("start"),
            Slot("pages", *_PAGES),
            Slot("flags", 0, 31, "flags"),
        ),
        result="custom",
        special="builds the setup's mm and VMA: no kernel function",
    ),
    Op(
        "write",
        1,
        "FL_SC_WRITE",
        (("mm", int), ("addr", int), ("value", int)),
        (("folio", ""),),
        py="memory.user_write",
        c="user_write",
        slots=(
            _addr(),
            Slot("value", *_I64),
            Slot("folio", 0, FL_MAX_FOLIO_NAMES, "bind", setup_only=True),
        ),
        result="access",
    ),
    Op(
        "read",
        2,
        "FL_SC_READ",
        (("mm", int), ("addr", int)),
        (("folio", ""),),
        py="memory.user_read",
        c="user_read",
        slots=(_addr(), Slot("folio", 0, FL_MAX_FOLIO_NAMES, "bind", setup_only=True)),
        result="access",
    ),
    Op(
        "bind",
        4,
        "FL_SC_BIND",
        (("mm", int), ("addr", int), ("folio", str)),
        setup_only=True,
        slots=(_addr(), Slot("folio", 1, FL_MAX_FOLIO_NAMES, "bind")),
        result="custom",
        special="names the setup folio a PTE maps: no kernel function",
    ),
    Op(
        "move",
        3,
        "FL_SC_MOVE",
        (("mm", int), ("dst", int), ("src", int), ("len", int)),
        (("mode", []),),
        py="userfaultfd.userfaultfd_move",
        c="userfaultfd_move",
        slots=(_addr("dst"), _addr("src"), Slot("len", *_PAGES), Slot("mode", 0, 3, "modes")),
        result="custom",
        special="checks I16 (check_move_result) on the answer, which prints as ret=..,move=..",
    ),
    Op(
        "fork",
        12,
        "FL_SC_FORK",
        (("mm", int), ("child", int)),
        py="fork.dup_mmap",
        c="dup_mmap",
        slots=(Slot("child", 0, _MM_HI, ctype="int"),),
        special="answers child-exists, without forking, when the child mm exists",
    ),
    Op(
        "munmap",
        10,
        "FL_SC_MUNMAP",
        _MM_ADDR_PAGES,
        py="vmscan.do_munmap",
        c="do_munmap",
        slots=_ADDR_PAGES,
    ),
    Op("exit", 11, "FL_SC_EXIT", (("mm", int),), py="vmscan.exit_mmap", c="exit_mmap"),
    Op(
        "madvise_dontneed",
        16,
        "FL_SC_DONTNEED",
        _MM_ADDR_PAGES,
        py="vmscan.madvise_dontneed",
        c="madvise_dontneed",
        slots=_ADDR_PAGES,
    ),
    Op(
        "madvise_cold",
        18,
        "FL_SC_COLD",
        _MM_ADDR_PAGES,
        py="vmscan.madvise_pageout",
        c="madvise_pageout",
        slots=_ADDR_PAGES,
        consts=(("cold", True),),
    ),
    Op(
        "madvise_pageout",
        19,
        "FL_SC_PAGEOUT",
        _MM_ADDR_PAGES,
        py="vmscan.madvise_pageout",
        c="madvise_pageout",
        slots=_ADDR_PAGES,
        consts=(("cold", False),),
    ),
    Op(
        "shrink_active_list",
        5,
        "FL_SC_SHRINK_ACTIVE",
        _FOLIO,
        py="vmscan.shrink_active_list",
        c="shrink_active_list",
        slots=(_FOLIO_SLOT,),
        result="opt_int",
    ),
    Op(
        "shrink_folio_list",
        17,
        "FL_SC_SHRINK_FOLIO",
        _FOLIO,
        (("ignore_references", False),),
        py="vmscan.shrink_folio_list",
        c="shrink_folio_list",
        slots=(_FOLIO_SLOT, Slot("ignore_references", 0, 1, "bool", "bool")),
        result="str",
    ),
    Op(
        "page_idle",
        6,
        "FL_SC_PAGE_IDLE",
        _FOLIO,
        py="walkers.page_idle_clear_pte_refs",
        c="page_idle_clear_pte_refs",
        slots=(_FOLIO_SLOT,),
    ),
    Op(
        "damon_mkold",
        7,
        "FL_SC_DAMON_MKOLD",
        _FOLIO,
        py="walkers.damon_folio_mkold",
        c="damon_folio_mkold",
        slots=(_FOLIO_SLOT,),
    ),
    Op(
        "damon_young",
        8,
        "FL_SC_DAMON_YOUNG",
        _FOLIO,
        py="walkers.damon_folio_young",
        c="damon_folio_young",
        slots=(_FOLIO_SLOT,),
        result="bool",
    ),
    Op(
        "memory_failure",
        9,
        "FL_SC_MEMORY_FAILURE",
        _FOLIO,
        py="walkers.kill_procs_now",
        c="kill_procs_now",
        slots=(_FOLIO_SLOT,),
        result="ids",
    ),
    Op(
        "migrate",
        15,
        "FL_SC_MIGRATE",
        _FOLIO,
        py="migrate.migrate_folio",
        c="migrate_folio",
        slots=(_FOLIO_SLOT,),
        result="str",
    ),
    Op(
        "pin",
        13,
        "FL_SC_PIN",
        (("mm", int), ("addr", int)),
        py="gup.gup_fast_pin",
        c="gup_fast_pin",
        slots=(_addr(),),
        result="folio",
        result_none="no-pin",
    ),
    Op("unpin", 14, "FL_SC_UNPIN", (), py="gup.unpin_last", c="unpin_last"),
)
