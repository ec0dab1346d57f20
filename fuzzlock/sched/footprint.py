"""Per-step access footprints, for partial-order reduction (``fuzzlock.explore``).

Two steps of different threads commute when neither writes what the other reads or
writes.  A step is everything a thread does from executing its op to its next
scheduling point (``fuzzlock.sched.ops``), so the footprint must include the plain
Python that runs after the op, not only the op's named object.  Like KCSAN's compiler
instrumentation, it is recorded rather than declared: while a ``Recorder`` is active,
the state classes a model registered (``register_cells``) get an attribute hook that
notes each read and write of a field as a cell ``(name of the object, field)``: every
field except those the model lists as excluded, so a field added to the model later is
recorded by default.  The scheduler knows no kernel object: the model names its objects
(``fuzzlock.model.cells``), stably across runs, never by ``id()`` (the explorer compares
footprints recorded in different runs, whose objects are rebuilt each time); a lock's
cell is ``("lock", its name)``.  A container field (the
PTE dict of a page table, an mm's VMA list, ...) is replaced on first access by a
subclass whose mutators note a write, so ``table.ptes[addr] = pte`` is a write of
the cell of that key and ``table.ptes.get(addr)`` a read of it (a dict has one cell
per key and one for its key set; lists and sets one cell each).

What is left out, and why it cannot change what a thread does next:

* the model's immutable fields and ghost bookkeeping (``fuzzlock.model.cells`` says
  which, and why);
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

from collections.abc import Callable, Iterator, Mapping
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


#: How a state class's field accesses become cells: the fields *not* recorded (everything
#: else is, so a field added later is recorded by default: sound, at worst coarse) and the
#: object's stable name (a function of the object).
CellNaming = tuple[frozenset[str], Callable[[Any], Any]]
Tracked = dict[type, CellNaming]

#: The state classes a model registered (``register_cells``), with their cell naming.
_REGISTERED: Tracked = {}


def register_cells(classes: Mapping[type, CellNaming]) -> None:
    """Make a model's state classes recordable: while ``tracking`` is active, each read and
    write of a field of an instance of one of ``classes`` is the cell ``(its name, the
    field)``.  The scheduler knows no kernel objects: the model calls this when it is
    imported (``fuzzlock.model.cells``) and owns the naming.

    The name must be the same in every run of the scenario (sleep sets compare the
    footprint a step had in an earlier run with the steps of this one), so it is built
    from the object's identity fields, never from ``id()``.  Two objects of one run may
    share a name only if they are one object (or coarser: a shared name is a shared
    cell, which costs independence, not soundness).  A class registered again replaces
    its earlier naming."""
    _REGISTERED.update(classes)


def _tracked_classes() -> Tracked:
    """The registered model classes, and the scheduler's own state classes (the
    typesafe-by-RCU pool and its slots)."""
    from fuzzlock.sched import rcu

    return {
        **_REGISTERED,
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
