"""Per-step access footprints, for partial-order reduction (``fuzzlock.explore``).

PYTEST_DONT_REWRITE

Two steps of different threads commute when neither writes what the other reads or
writes.  A step is everything a thread does from executing its op to its next
scheduling point (``fuzzlock.sched.ops``), so the footprint must include the plain
Python that runs after the op, not only the op's named object.  Like KCSAN's compiler
instrumentation, it is recorded rather than declared: while a ``Recorder`` is active,
the model's state classes get an attribute hook that notes each read and write of a
field as a cell ``(name of the object, field)``: every field except those listed as
excluded in ``_tracked_classes``, so a field added to the model later is recorded by
default.  An object's name is stable across runs (``("folio", 3)``, ``("vma", 1)``; a
lock's cell is ``("lock", its name)``), never ``id()``: the explorer compares footprints
recorded in different runs, whose objects are rebuilt each time.  A container field (the
PTE dict of a page table, an mm's VMA list, ...) is replaced on first access by a
subclass whose mutators note a write, so ``table.ptes[addr] = pte`` is a write of
the cell of that key and ``table.ptes.get(addr)`` a read of it (a dict has one cell
per key and one for its key set; lists and sets one cell each).

What is left out, and why it cannot change what a thread does next:

* immutable fields (an object's id, name, its lock object, a VMA's mm);
* ghost and per-thread bookkeeping that only the invariant checks read: ``walks``
  (walk.complete records), ``folio_refs``, ``anon_vma_pins``, ``notifier_depth``,
  ``pte_moves`` and ``pins`` (each thread reads and writes only its own key),
  ``next_mid`` (ghost mapping ids).  Not ``World.ghost`` (user.data's sequential
  values): a user load compares what it reads with it and raises ``user.data``, and
  fork copies it in a step of its own, so it feeds back into the outcome (as the C
  footprints record it too, docs/footprints.md);
* lock state is one cell per lock, ``lock_cell``, as in the C footprints
  (docs/footprints.md): every lock and unlock op and every successful trylock writes it
  (a read-side acquisition too: it changes what ``is_free``, a writer's trylock and the
  writer-waiting rule see); a failed trylock and ``folio_wait_locked`` only read it (they
  change nothing, and only another thread's lock or unlock can change their outcome); a
  step that ends by yielding ``down_write`` on a taken rwsem writes it (the writer-waiting
  rule: readers are held off from then on), on a free one reads it (it commutes with
  acquisitions, not with the release just before it).  Model code that looks at a lock
  (``folio.lock.owner``, ``is_free()``) reads the cell through the ``Lock``/``RWSem``
  hooks;
* the scheduler clock: RCU read sections are ordered against typesafe-pool frees by an
  explicit ``RCU`` cell (sections read it, a free writes it).

The hooks are installed only for the duration of an exploration (``tracking()``), so
campaigns on the normal path pay nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

RCU = ("rcu",)
# A step whose footprint is unknown or too large (the C backend's ALL_CELLS): its writes
# are {UNIVERSAL} and it is dependent with every step.
UNIVERSAL = ("*all*",)
Cell = Any


class StepInfo(NamedTuple):
    """One executed step as the explorer sees it."""

    tid: int  # the thread that ran it
    order: tuple[int, ...]  # the enabled threads, round-robin from the current one
    decided: bool  # a decision was consumed (two or more enabled)
    reads: frozenset[Cell]  # cells read and not written
    writes: frozenset[Cell]

    @property
    def conflicts_all(self) -> bool:
        """Dependent with every step (its footprint is unknown or too large)."""
        return UNIVERSAL in self.writes


class Recorder:
    """The current step's reads and writes (sets of cells)."""

    __slots__ = ("on", "reads", "writes")

    def __init__(self) -> None:
        self.on = False
        self.reads: set[Cell] = set()
        self.writes: set[Cell] = set()

    def start(self) -> None:
        self.reads = set()
        self.writes = set()
        self.on = True

    def stop(self) -> tuple[frozenset[Cell], frozenset[Cell]]:
        self.on = False
        return frozenset(self.reads - self.writes), frozenset(self.writes)


_REC: Recorder | None = None


def note_write(cell: Cell) -> None:
    """An explicit write (pool frees); a no-op unless a recorder is on."""
    r = _REC
    if r is not None and r.on:
        r.writes.add(cell)


def lock_cell(lock: Any) -> Cell:
    """The cell of a lock's state: named by the lock's name (unique in a run: it names the
    lock's object, ``folio:3``, ``ptl:mm0:2``, ``vma:src``), the same in every run."""
    return ("lock", lock.name)


def note_read(cell: Cell) -> None:
    r = _REC
    if r is not None and r.on:
        r.reads.add(cell)


# --- tracked containers ------------------------------------------------------------------------


def _wrap_mutators(base: type, names: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        orig = getattr(base, name)

        def m(self: Any, *a: Any, _orig: Any = orig, **kw: Any) -> Any:
            r = _REC
            if r is not None and r.on:
                r.writes.add(self._cell)
            return _orig(self, *a, **kw)

        m.__name__ = name
        out[name] = m
    return out


_DICT_MUT = ("__setitem__", "__delitem__", "pop", "popitem", "setdefault", "update", "clear")
_LIST_MUT = (
    "__setitem__",
    "__delitem__",
    "__iadd__",
    "append",
    "extend",
    "insert",
    "pop",
    "remove",
    "sort",
    "reverse",
    "clear",
)
_SET_MUT = (
    "add",
    "discard",
    "remove",
    "pop",
    "clear",
    "update",
    "__ior__",
    "__iand__",
    "__isub__",
    "difference_update",
    "intersection_update",
)

TrackedList = type(
    "TrackedList", (list,), {"__slots__": ("_cell",), **_wrap_mutators(list, _LIST_MUT)}
)
TrackedSet = type("TrackedSet", (set,), {"__slots__": ("_cell",), **_wrap_mutators(set, _SET_MUT)})

_KEYS = "#keys"  # a dict's key set (what iteration and len() see)


class TrackedDict(dict[Any, Any]):
    """A dict field with one cell per key, plus one for its key set: two threads
    touching different PTEs of one page table do not conflict."""

    __slots__ = ("_cell",)
    _cell: Any

    def _r(self, *keys: Any) -> None:
        r = _REC
        if r is not None and r.on:
            c = self._cell
            r.reads.update((c, k) for k in keys)

    def _w(self, *keys: Any) -> None:
        r = _REC
        if r is not None and r.on:
            c = self._cell
            r.writes.update((c, k) for k in keys)

    def _all(self) -> None:
        self._r(_KEYS, *dict.keys(self))

    def __getitem__(self, k: Any) -> Any:
        self._r(k)
        return dict.__getitem__(self, k)

    def get(self, k: Any, default: Any = None) -> Any:
        self._r(k)
        return dict.get(self, k, default)

    def __contains__(self, k: object) -> bool:
        self._r(k)
        return dict.__contains__(self, k)

    def __setitem__(self, k: Any, v: Any) -> None:
        if dict.__contains__(self, k):
            self._w(k)
        else:
            self._w(k, _KEYS)
        dict.__setitem__(self, k, v)

    def __delitem__(self, k: Any) -> None:
        self._w(k, _KEYS)
        dict.__delitem__(self, k)

    def pop(self, k: Any, *default: Any) -> Any:
        if dict.__contains__(self, k):
            self._w(k, _KEYS)
        else:
            self._r(k)
        return dict.pop(self, k, *default)

    def setdefault(self, k: Any, default: Any = None) -> Any:
        if dict.__contains__(self, k):
            self._r(k)
        else:
            self._w(k, _KEYS)
        return dict.setdefault(self, k, default)

    def __iter__(self) -> Any:
        self._r(_KEYS)
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._r(_KEYS)
        return dict.__len__(self)

    def keys(self) -> Any:
        self._r(_KEYS)
        return dict.keys(self)

    def values(self) -> Any:
        self._all()
        return dict.values(self)

    def items(self) -> Any:
        self._all()
        return dict.items(self)

    def copy(self) -> Any:
        self._all()
        return dict.copy(self)

    def update(self, *a: Any, **kw: Any) -> None:
        new = dict(*a, **kw)
        self._w(_KEYS, *new.keys())
        dict.update(self, new)

    def clear(self) -> None:
        self._w(_KEYS, *dict.keys(self))
        dict.clear(self)

    def popitem(self) -> Any:
        self._w(_KEYS, *dict.keys(self))
        return dict.popitem(self)


_CONTAINERS: dict[type, Any] = {dict: TrackedDict, list: TrackedList, set: TrackedSet}


# --- the attribute hooks -----------------------------------------------------------------------

_get = object.__getattribute__
_set = object.__setattr__


def _hooks(excluded: frozenset[str], key: Callable[[Any], Any]) -> tuple[Any, Any]:
    def __getattribute__(self: Any, name: str) -> Any:
        v = _get(self, name)
        if name not in excluded and name[0] != "_":
            r = _REC
            if r is not None and r.on:
                cell = (key(self), name)
                r.reads.add(cell)
                wrap = _CONTAINERS.get(type(v))
                if wrap is not None:
                    nv = wrap(v)
                    nv._cell = cell
                    _set(self, name, nv)
                    v = nv
        return v

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if name not in excluded:
            r = _REC
            if r is not None and r.on:
                r.writes.add((key(self), name))
        _set(self, name, value)

    return __getattribute__, __setattr__


#: a lock's fields that never change (its name, lockdep class, whether it sleeps)
_LOCK_CONSTANT = frozenset({"name", "cls", "sleeps"})


def _lock_hooks() -> tuple[Any, Any]:
    """Hooks of ``Lock`` and ``RWSem``: every field but the constant ones is the lock's one
    cell (``lock_cell``), read when looked at and written when assigned.  The scheduler
    adds the cells of its lock ops explicitly (``Scheduler._record_step``), so only the
    model's own looks at lock state (``folio.lock.owner != me``, ``is_free()``) depend
    on these."""

    def __getattribute__(self: Any, name: str) -> Any:
        if name not in _LOCK_CONSTANT and name[0] != "_":
            r = _REC
            if r is not None and r.on:
                r.reads.add(("lock", _get(self, "name")))
        return _get(self, name)

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if name not in _LOCK_CONSTANT:
            r = _REC
            if r is not None and r.on:
                r.writes.add(("lock", _get(self, "name")))
        _set(self, name, value)

    return __getattribute__, __setattr__


Tracked = dict[type, tuple[frozenset[str], Callable[[Any], Any]]]


def _tracked_classes() -> Tracked:
    """The model's state classes: per class, the fields *not* recorded (everything else
    is, so a field added later is recorded by default: sound, at worst coarse) and the
    object's stable name.

    The name must be the same in every run of the scenario (sleep sets compare the
    footprint a step had in an earlier run with the steps of this one), so it is built
    from the object's identity fields, never from ``id()``: a creation index that the
    allocating step writes (folio ids, VMA ids, anon_vma slot and generation, page-table
    index in its mm) or a name the scenario gives (mm ids).  Two objects of one run may
    share a name only if they are one object (or coarser: a shared name is a shared
    cell, which costs independence, not soundness)."""
    from fuzzlock.model import world as W
    from fuzzlock.sched import rcu

    return {
        W.Folio: (
            frozenset({"id", "lock", "name", "trace_repr"}),
            lambda o: ("folio", _get(o, "id")),
        ),
        W.AnonVma: (
            frozenset({"slot", "gen", "lock", "name", "trace_repr"}),
            lambda o: ("anon_vma", _get(o, "slot"), _get(o, "gen")),
        ),
        # set once, at creation: nothing is recorded (the name is for a field added later)
        W.AVC: (
            frozenset({"vma", "anon_vma"}),
            lambda o: (
                "avc",
                _get(_get(o, "vma"), "id"),
                _get(_get(o, "anon_vma"), "slot"),
                _get(_get(o, "anon_vma"), "gen"),
            ),
        ),
        W.VMA: (frozenset({"id", "mm", "name", "lock"}), lambda o: ("vma", _get(o, "id"))),
        W.MM: (
            frozenset({"id", "mmap_lock", "page_table_lock", "uffd"}),
            lambda o: ("mm", _get(o, "id")),
        ),
        W.UffdCtx: (
            frozenset({"map_changing_lock", "mm_id"}),
            lambda o: ("uffd", _get(o, "mm_id")),
        ),
        # a table's lock is named after its mm and its index there
        W.PageTable: (
            frozenset({"index", "ptl"}),
            lambda o: ("table", _get(_get(o, "ptl"), "name")),
        ),
        W.SwapDevice: (frozenset(), lambda o: ("swap",)),
        # constants, the scheduler, and the ghost / per-thread bookkeeping of the module
        # docstring; each thread only touches its own key of the per-thread dicts
        W.World: (
            frozenset(
                {
                    "sched",
                    "proto",
                    "knob",
                    "anon_vmas",
                    "walks",
                    "folio_refs",
                    "anon_vma_pins",
                    "notifier_depth",
                    "pte_moves",
                    "pins",
                    "next_mid",
                    "tid",
                }
            ),
            lambda o: ("world",),
        ),
        rcu.TypesafePool: (
            frozenset({"sched", "kind", "make_lock"}),
            lambda o: ("pool", _get(o, "kind")),
        ),
        rcu._Slot: (
            frozenset({"kind", "index", "lock"}),
            lambda o: ("pool", _get(o, "kind"), _get(o, "index")),
        ),
    }


_ACTIVE = 0


@contextmanager
def tracking(rec: Recorder) -> Iterator[Recorder]:
    """Install the hooks and make ``rec`` the current recorder (not reentrant across
    recorders: one exploration at a time per process)."""
    global _REC, _ACTIVE
    if _ACTIVE:
        raise RuntimeError("footprint tracking is already active in this process")
    hooks: dict[type, tuple[Any, Any]] = {
        cls: _hooks(excluded, key) for cls, (excluded, key) in _tracked_classes().items()
    }
    from fuzzlock.sched.locks import Lock, RWSem

    for lock_cls in (Lock, RWSem):
        hooks[lock_cls] = _lock_hooks()
    for cls, (ga, sa) in hooks.items():
        cls.__getattribute__ = ga  # type: ignore[method-assign]
        cls.__setattr__ = sa  # type: ignore[method-assign]
    _ACTIVE = 1
    _REC = rec
    try:
        yield rec
    finally:
        _REC = None
        _ACTIVE = 0
        for cls in hooks:
            del cls.__getattribute__
            del cls.__setattr__


def independent(
    ra: frozenset[Cell], wa: frozenset[Cell], rb: frozenset[Cell], wb: frozenset[Cell]
) -> bool:
    """No write of one step touches a cell the other reads or writes."""
    if UNIVERSAL in wa or UNIVERSAL in wb:
        return False
    if wa and (not wa.isdisjoint(wb) or not wa.isdisjoint(rb)):
        return False
    return not wb or wb.isdisjoint(ra)
