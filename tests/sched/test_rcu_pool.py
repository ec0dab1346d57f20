"""RCU read sections and the SLAB_TYPESAFE_BY_RCU-like pool."""

from __future__ import annotations

from typing import Any

import attrs

from fuzzlock.sched import Replay, RWSem, Scheduler, TypesafePool, ops


@attrs.define
class Obj:
    slot: int
    gen: int
    lock: RWSem
    value: str

    def trace_repr(self) -> str:
        return f"anon_vma:{self.slot}#{self.gen}"


def make_pool(s: Scheduler) -> TypesafePool:
    return TypesafePool(s, "anon_vma", lambda i: RWSem(f"anon_vma:{i}.rwsem", "anon_vma->rwsem"))


def alloc(pool: TypesafePool, value: str) -> Obj:
    return pool.alloc(lambda slot, gen, lock: Obj(slot, gen, lock, value))


def two_threads(reader_body: Any, freer_body: Any) -> Scheduler:
    s = Scheduler()
    s.spawn("reader", reader_body)
    s.spawn("freer", freer_body)
    return s


def test_freed_slots_are_reused_lowest_first_and_keep_their_lock() -> None:
    s = Scheduler()
    pool = make_pool(s)
    a, b, c = alloc(pool, "a"), alloc(pool, "b"), alloc(pool, "c")
    lock_b = b.lock
    pool.free(c, "t")
    pool.free(b, "t")
    d = alloc(pool, "d")
    assert (d.slot, d.gen) == (1, 2)
    assert d.lock is lock_b
    assert alloc(pool, "e").slot == 2 and a.slot == 0


def test_rcu_reader_touching_a_freed_and_reused_slot_sees_the_new_object() -> None:
    s = Scheduler()
    pool = make_pool(s)
    old = alloc(pool, "old")
    seen: list[str] = []

    def reader():
        yield ops.rcu_read_lock("reader")
        yield ops.read("reader", "ptr", lambda: None)  # picked up the pointer to `old`
        obj = yield ops.read("reader", "anon_vma:0.value", lambda: pool.deref(old, "reader"))
        seen.append(obj.value)
        yield ops.rcu_read_unlock("reader")

    def freer():
        yield ops.write("freer", "anon_vma:0", lambda: pool.free(old, "freer"))
        yield ops.write("freer", "anon_vma:0", lambda: alloc(pool, "new"))

    s.spawn("reader", reader())
    s.spawn("freer", freer())
    # reader enters RCU, then the freer frees and reuses the slot, then the reader looks
    r = s.run(Replay([0, 1, 1, 1]))
    assert r.outcome == "finished", r.violation
    assert seen == ["new"]


def test_touching_a_freed_slot_after_the_grace_period_is_uaf() -> None:
    s = Scheduler()
    pool = make_pool(s)
    old = alloc(pool, "old")

    def reader():
        yield ops.rcu_read_lock("reader")
        yield ops.rcu_read_unlock("reader")  # left the section: the grace period may end
        yield ops.read("reader", "anon_vma:0.value", lambda: pool.deref(old, "reader").value)

    def freer():
        yield ops.write("freer", "anon_vma:0", lambda: pool.free(old, "freer"))
        yield ops.write("freer", "anon_vma:0", lambda: alloc(pool, "new"))

    s.spawn("reader", reader())
    s.spawn("freer", freer())
    r = s.run(Replay([0, 1, 1]))
    assert r.outcome == "uaf"
    assert r.violation is not None and r.violation.thread == 0


def test_reader_whose_rcu_section_began_after_the_free_is_not_protected() -> None:
    s = Scheduler()
    pool = make_pool(s)
    old = alloc(pool, "old")

    def reader():
        yield ops.read("reader", "ptr", lambda: None)
        yield ops.rcu_read_lock("reader")
        yield ops.read("reader", "anon_vma:0.value", lambda: pool.deref(old, "reader").value)
        yield ops.rcu_read_unlock("reader")

    def freer():
        yield ops.write("freer", "anon_vma:0", lambda: pool.free(old, "freer"))

    s.spawn("reader", reader())
    s.spawn("freer", freer())
    r = s.run(Replay([0, 1]))  # the free happens before the reader's rcu_read_lock
    assert r.outcome == "uaf"


def test_freed_but_unreused_memory_is_still_readable_inside_the_covering_section() -> None:
    s = Scheduler()
    pool = make_pool(s)
    old = alloc(pool, "old")
    seen: list[Any] = []

    def reader():
        yield ops.rcu_read_lock("reader")
        v = yield ops.read("reader", "anon_vma:0", lambda: pool.deref(old, "reader").value)
        seen.append((v, pool.is_live(old)))
        yield ops.rcu_read_unlock("reader")

    def freer():
        yield ops.write("freer", "anon_vma:0", lambda: pool.free(old, "freer"))

    s.spawn("reader", reader())
    s.spawn("freer", freer())
    r = s.run(Replay([0, 1]))
    assert r.outcome == "finished"
    assert seen == [("old", False)]


def test_double_free_is_uaf() -> None:
    s = Scheduler()
    pool = make_pool(s)
    old = alloc(pool, "old")

    def freer():
        yield ops.write("freer", "anon_vma:0", lambda: pool.free(old, "freer"))
        yield ops.write("freer", "anon_vma:0", lambda: pool.free(old, "freer"))

    s.spawn("freer", freer())
    assert s.run(Replay([])).outcome == "uaf"


def test_rcu_unlock_without_lock_is_unlock_not_held() -> None:
    def bad():
        yield ops.rcu_read_unlock("bad")

    s = Scheduler()
    s.spawn("bad", bad())
    assert s.run(Replay([])).outcome == "unlock-not-held"
