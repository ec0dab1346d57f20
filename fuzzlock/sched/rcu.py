"""RCU read sections and a ``SLAB_TYPESAFE_BY_RCU``-like object pool.

The pool models the anon_vma slab: a freed object's slot may be handed out again at
once (lowest free slot first, so runs are deterministic), and the memory stays an
object of the same type until every RCU reader that was inside a read section when it
was freed has left it.  Each slot keeps one lock for its whole life, like the rwsem
that the slab constructor initialises once.

Pointers into the pool are the objects themselves: each carries ``slot`` and ``gen``
(allocation generation).  ``deref`` is what following such a pointer means:

* the slot still holds that generation: the object;
* it was freed (and maybe reused), and the thread has been in an RCU read section since
  before the free: the memory is still type-stable, so the thread sees whatever the slot
  holds *now* (the new object if reused), no ``uaf``;
* otherwise the grace period has passed for this thread: ``uaf``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from fuzzlock.sched import footprint
from fuzzlock.sched.result import ViolationError

if TYPE_CHECKING:
    from fuzzlock.sched.scheduler import Scheduler


class PoolObject(Protocol):
    slot: int
    gen: int


class _Slot:
    __slots__ = ("free_clock", "gen", "index", "kind", "live", "lock", "obj")

    def __init__(self, kind: str, index: int, lock: Any) -> None:
        self.kind = kind  # its pool's kind and its index there: its identity
        self.index = index
        self.lock = lock
        self.obj: Any = None
        self.gen = 0
        self.live = False
        # gen -> scheduler clock at which that generation was freed
        self.free_clock: dict[int, int] = {}


class TypesafePool:
    """A typesafe-by-RCU slab of one object type."""

    def __init__(
        self,
        sched: Scheduler,
        kind: str,
        make_lock: Callable[[int], Any],
    ) -> None:
        self.sched = sched
        self.kind = kind
        self.make_lock = make_lock
        # index -> slot (0, 1, ...): a dict rather than a list for the footprints, which
        # give a dict a cell per key and one for its key set (the C model's slot array and
        # its count): following a pointer into one slot does not conflict with a new slot
        self.slots: dict[int, _Slot] = {}

    def alloc(self, build: Callable[[int, int, Any], Any]) -> Any:
        """Allocate: ``build(slot, gen, slot_lock)`` makes the new object."""
        i = next((i for i, s in self.slots.items() if not s.live), len(self.slots))
        if i == len(self.slots):
            self.slots[i] = _Slot(self.kind, i, self.make_lock(i))
        s = self.slots[i]
        s.gen += 1
        s.live = True
        s.obj = build(i, s.gen, s.lock)
        return s.obj

    def free(self, obj: PoolObject, fn: str) -> None:
        s = self.slots[obj.slot]
        if not s.live or s.gen != obj.gen:
            raise ViolationError(
                "uaf",
                fn,
                f"double free of {self.kind}:{obj.slot} gen {obj.gen}",
                (f"{self.kind}:{obj.slot}",),
            )
        s.live = False
        s.free_clock[obj.gen] = self.sched.clock
        footprint.note_write(footprint.RCU)  # ordered against RCU read sections

    def is_live(self, obj: PoolObject) -> bool:
        s = self.slots[obj.slot]
        return s.live and s.gen == obj.gen

    def rcu_protected(self, obj: PoolObject) -> bool:
        """The current thread may still touch ``obj``'s memory (live, or freed while the
        thread sat in the RCU read section it is still in)."""
        s = self.slots[obj.slot]
        if s.live and s.gen == obj.gen:
            return True
        freed = s.free_clock.get(obj.gen)
        t = self.sched.current
        return (
            freed is not None and t is not None and t.rcu_since is not None and t.rcu_since < freed
        )

    def deref(self, obj: PoolObject, fn: str, field: str = "") -> Any:
        """Follow a pointer to ``obj``: the object the memory holds now, or ``uaf``."""
        s = self.slots[obj.slot]
        if s.gen == obj.gen and s.live:
            return obj
        if self.rcu_protected(obj):
            return s.obj
        what = f"{self.kind}:{obj.slot}" + (f".{field}" if field else "")
        raise ViolationError(
            "uaf",
            fn,
            f"{what} touched after it was freed (gen {obj.gen}, slot now gen {s.gen}"
            f"{' live' if s.live else ' free'}) outside an RCU section that covers the free",
            (what,),
        )

    def slot_lock(self, obj: PoolObject) -> Any:
        """The slot's lock (it survives reuse, like a slab-constructor-initialised rwsem)."""
        return self.slots[obj.slot].lock

    def live_objects(self) -> list[Any]:
        return [s.obj for s in self.slots.values() if s.live]
