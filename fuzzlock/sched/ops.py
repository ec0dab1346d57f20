"""Scheduling-point operations: what a simulated thread yields to the scheduler.

A model function is a generator.  Each ``yield op`` is one scheduling point: the
thread stops there, and when the scheduler picks it the scheduler *executes* the
op (takes the lock, runs the read/write thunk, ...), records one trace event and
sends the op's result back into the generator, which then runs plain Python up
to its next ``yield``.  So the code between two yields runs atomically, as part
of the step that executed the first of them: a PTL critical section is the lock
step plus its body, and the unlock is the next step.

The op kinds are small integers so the hot loop dispatches with ``is``/``==``
on ints; ``label`` is the op name the trace shows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fuzzlock.sched.locks import Lock, RWSem
from fuzzlock.schema import MODES, OP_KINDS

# Op kinds and lock modes: the schema's (fuzzlock/schema.py, where each is described), which
# the C scheduler shares through the generated header.  Module constants, so the hot loop
# dispatches with ``is``/``==`` on ints.  Blocking kinds are the only ones that can be
# disabled.
LOCK = OP_KINDS["LOCK"]
TRYLOCK = OP_KINDS["TRYLOCK"]
UNLOCK = OP_KINDS["UNLOCK"]
MEM = OP_KINDS["MEM"]
RCU_LOCK = OP_KINDS["RCU_LOCK"]
RCU_UNLOCK = OP_KINDS["RCU_UNLOCK"]
PTE_MAP = OP_KINDS["PTE_MAP"]
PTE_UNMAP = OP_KINDS["PTE_UNMAP"]
WAIT = OP_KINDS["WAIT"]
MIGHT_SLEEP = OP_KINDS["MIGHT_SLEEP"]

EXCL = MODES["EXCL"]  # mutex / spinlock
READ = MODES["READ"]  # rwsem read
WRITE = MODES["WRITE"]  # rwsem write

BLOCKING_KINDS = frozenset({LOCK, WAIT})


class Op:
    """One scheduling point.  Plain ``__slots__`` class: it is built on the hot path.

    ``thunk`` is what the step does besides its lock work: a MEM, PTE_MAP or MIGHT_SLEEP
    op's access, or an UNLOCK's *check*: an unlock that dereferences memory the thread
    may no longer own (``up_read(&anon_vma->root->rwsem)``) checks, when the step
    executes and before the release, that the memory is still there (it raises
    ``uaf``); its value is dropped."""

    __slots__ = ("fn", "kind", "label", "lock", "mode", "obj", "subclass", "thunk")

    def __init__(
        self,
        kind: int,
        fn: str,
        label: str,
        obj: str = "",
        lock: Lock | RWSem | None = None,
        mode: int = EXCL,
        thunk: Callable[[], Any] | None = None,
        subclass: int = 0,
    ) -> None:
        self.kind = kind
        self.fn = fn
        self.label = label
        self.obj = obj
        self.lock = lock
        self.mode = mode
        self.thunk = thunk
        self.subclass = subclass

    def __repr__(self) -> str:
        return f"Op({self.fn} {self.label} {self.obj or (self.lock.name if self.lock else '')})"


# --- locks -------------------------------------------------------------------------------------


def lock(fn: str, lk: Lock, subclass: int = 0) -> Op:
    """Blocking mutex/spinlock acquisition (``folio_lock``, ``spin_lock``)."""
    return Op(LOCK, fn, "lock", lk.name, lk, EXCL, None, subclass)


def trylock(fn: str, lk: Lock) -> Op:
    """``folio_trylock`` / ``spin_trylock``: never blocks, result True or False."""
    return Op(TRYLOCK, fn, "trylock", lk.name, lk, EXCL)


def unlock(fn: str, lk: Lock) -> Op:
    return Op(UNLOCK, fn, "unlock", lk.name, lk, EXCL)


def down_read(fn: str, sem: RWSem, subclass: int = 0) -> Op:
    return Op(LOCK, fn, "down_read", sem.name, sem, READ, None, subclass)


def down_write(fn: str, sem: RWSem, subclass: int = 0) -> Op:
    return Op(LOCK, fn, "down_write", sem.name, sem, WRITE, None, subclass)


def down_read_trylock(fn: str, sem: RWSem) -> Op:
    return Op(TRYLOCK, fn, "down_read_trylock", sem.name, sem, READ)


def down_write_trylock(fn: str, sem: RWSem) -> Op:
    return Op(TRYLOCK, fn, "down_write_trylock", sem.name, sem, WRITE)


def up_read(fn: str, sem: RWSem, check: Callable[[], Any] | None = None) -> Op:
    """``up_read``; ``check`` (if any) runs when the step executes, before the release:
    the liveness check of the object the rwsem lives in (see ``Op``)."""
    return Op(UNLOCK, fn, "up_read", sem.name, sem, READ, check)


def up_write(fn: str, sem: RWSem) -> Op:
    return Op(UNLOCK, fn, "up_write", sem.name, sem, WRITE)


def wait_unlocked(fn: str, lk: Lock) -> Op:
    """Sleep until ``lk`` is free without taking it (``folio_wait_locked``)."""
    return Op(WAIT, fn, "wait", lk.name, lk, EXCL)


# --- memory ------------------------------------------------------------------------------------


def read(fn: str, obj: str, thunk: Callable[[], Any]) -> Op:
    """A lock-free read (``READ_ONCE``): ``thunk`` runs when the step executes."""
    return Op(MEM, fn, "read", obj, None, EXCL, thunk)


def write(fn: str, obj: str, thunk: Callable[[], Any]) -> Op:
    """A lock-free store (``WRITE_ONCE``); the thunk performs it and may return a value."""
    return Op(MEM, fn, "write", obj, None, EXCL, thunk)


def atomic(fn: str, obj: str, thunk: Callable[[], Any]) -> Op:
    """An atomic read-modify-write (refcount, mapcount, ``atomic_inc_not_zero``)."""
    return Op(MEM, fn, "atomic", obj, None, EXCL, thunk)


def point(fn: str, label: str, obj: str, thunk: Callable[[], Any] | None = None) -> Op:
    """Any other scheduling point with its own trace label (e.g. a hardware young bit)."""
    return Op(MEM, fn, label, obj, None, EXCL, thunk)


# --- RCU, PTE maps, sleeping -------------------------------------------------------------------


def rcu_read_lock(fn: str) -> Op:
    return Op(RCU_LOCK, fn, "rcu_read_lock", "rcu")


def rcu_read_unlock(fn: str) -> Op:
    return Op(RCU_UNLOCK, fn, "rcu_read_unlock", "rcu")


def pte_map(fn: str, obj: str, thunk: Callable[[], Any] | None = None) -> Op:
    """``pte_offset_map``: enters an RCU read section; no sleeping until ``pte_unmap``."""
    return Op(PTE_MAP, fn, "pte_map", obj, None, EXCL, thunk)


def pte_unmap(fn: str, obj: str) -> Op:
    return Op(PTE_UNMAP, fn, "pte_unmap", obj)


def might_sleep(fn: str, obj: str = "", thunk: Callable[[], Any] | None = None) -> Op:
    """A point that may sleep (allocation, ``split_folio``): illegal in atomic context."""
    return Op(MIGHT_SLEEP, fn, "might_sleep", obj, None, EXCL, thunk)
