"""Lock semantics: deadlock, lock order, rwsem writer-waiting, trylocks, atomic context."""

from __future__ import annotations

from collections.abc import Sequence

from fuzzlock.sched import Lock, Replay, RWSem, Scheduler, ops
from tests.sched.toy import build

ABBA = [
    [("lock", 0), ("lock", 1), ("unlock", 1), ("unlock", 0)],
    [("lock", 1), ("lock", 0), ("unlock", 0), ("unlock", 1)],
]


def test_abba_deadlock_is_found_and_reported_with_its_cycle() -> None:
    s, _ = build(ABBA)
    # T0 takes L0, then a preemption lets T1 take L1: both then block.
    r = s.run(Replay([0, 1]))
    assert r.outcome == "deadlock"
    v = r.violation
    assert v is not None
    assert sorted(v.detail["cycle"]) == [0, 1]
    assert "T0 waits for L1 held by T1" in v.message
    assert "T1 waits for L0 held by T0" in v.message


def test_abba_inversion_is_lock_order_in_a_schedule_without_deadlock() -> None:
    s, _ = build(ABBA)
    r = s.run(Replay([]))  # T0 runs to completion, then T1: no deadlock happens
    assert r.outcome == "lock.order"
    v = r.violation
    assert v is not None and v.thread == 1
    chain = v.detail["chain"]
    assert any("L0 -> L1" in c for c in chain) and any("L1 -> L0" in c for c in chain)
    assert "DEADLOCK" in v.detail["scenario"]


def test_consistent_lock_order_is_clean_in_every_schedule() -> None:
    prog = [
        [("lock", 0), ("lock", 1), ("write", 0, 1), ("unlock", 1), ("unlock", 0)],
        [("lock", 0), ("lock", 1), ("write", 0, 2), ("unlock", 1), ("unlock", 0)],
    ]
    for d in range(64):
        decisions = [(d >> i) & 1 for i in range(6)]
        s, _ = build(prog)
        assert s.run(Replay(decisions)).outcome == "finished"


def test_trylock_against_the_order_is_not_a_lock_order_violation() -> None:
    prog = [
        [("lock", 0), ("lock", 1), ("unlock", 1), ("unlock", 0)],
        [("lock", 1), ("trylock", 0), ("unlock", 1)],
    ]
    for d in range(16):
        s, _ = build(prog)
        r = s.run(Replay([(d >> i) & 1 for i in range(4)]))
        assert r.outcome == "finished"


def test_lock_taken_by_trylock_is_a_source_of_order_edges() -> None:
    # T1 holds L1 taken by trylock, then *blocks* on L0: that is the edge L1 -> L0.
    w_locks = [Lock("A", "A", True), Lock("B", "B", True)]

    def t0():
        yield ops.lock("t0", w_locks[0])
        yield ops.lock("t0", w_locks[1])
        yield ops.unlock("t0", w_locks[1])
        yield ops.unlock("t0", w_locks[0])

    def t1():
        ok = yield ops.trylock("t1", w_locks[1])
        assert ok
        yield ops.lock("t1", w_locks[0])
        yield ops.unlock("t1", w_locks[0])
        yield ops.unlock("t1", w_locks[1])

    s = Scheduler()
    s.spawn("t0", t0())
    s.spawn("t1", t1())
    assert s.run(Replay([])).outcome == "lock.order"


def _rwsem_program(sem: RWSem, log: list[str]):
    def reader0():
        yield ops.down_read("reader0", sem)
        yield ops.read("reader0", "x", lambda: log.append("r0 inside"))
        yield ops.read("reader0", "x", lambda: None)
        yield ops.up_read("reader0", sem)

    def writer():
        yield ops.down_write("writer", sem)
        yield ops.write("writer", "x", lambda: log.append("w inside"))
        yield ops.up_write("writer", sem)

    def reader2():
        ok = yield ops.down_read_trylock("reader2", sem)
        log.append(f"r2 trylock {ok}")
        if ok:
            yield ops.up_read("reader2", sem)
        yield ops.down_read("reader2", sem)
        yield ops.read("reader2", "x", lambda: log.append("r2 inside"))
        yield ops.up_read("reader2", sem)

    return reader0(), writer(), reader2()


class OrderSpy:
    def __init__(self, decisions: Sequence[int]) -> None:
        self.inner = Replay(decisions)
        self.orders: list[list[int]] = []

    def choose(self, order: Sequence[int], current: int) -> int:
        self.orders.append(list(order))
        return self.inner.choose(order, current)


def test_waiting_writer_blocks_new_readers_and_fails_their_trylock() -> None:
    sem = RWSem("sem", "sem")
    log: list[str] = []
    s = Scheduler()
    for name, body in zip(("reader0", "writer", "reader2"), _rwsem_program(sem, log)):
        s.spawn(name, body)
    # step 0: T0 down_read.  step 1 (c=1): T1 tries down_write: it is read-held, so T1
    # waits.  From then on T2's trylock must fail and its down_read must not be enabled.
    spy = OrderSpy([0, 1, 1])
    r = s.run(spy)
    assert r.outcome == "finished"
    assert "r2 trylock False" in log
    # the writer got in before reader2's blocking read
    assert log.index("w inside") < log.index("r2 inside")


def test_free_rwsem_admits_a_reader_before_a_pending_writer() -> None:
    sem = RWSem("sem", "sem")
    log: list[str] = []
    s = Scheduler()
    bodies = _rwsem_program(sem, log)
    s.spawn("writer", bodies[1])
    s.spawn("reader2", bodies[2])
    r = s.run(Replay([1]))  # reader2 goes first: the writer is pending but not waiting
    assert r.outcome == "finished"
    assert log[0] == "r2 trylock True"


def test_trylock_never_blocks() -> None:
    lk = Lock("L", "L", sleeps=True)
    results: list[bool] = []

    def holder():
        yield ops.lock("holder", lk)
        yield ops.read("holder", "x", lambda: None)
        yield ops.read("holder", "x", lambda: None)
        yield ops.unlock("holder", lk)

    def trier():
        for _ in range(3):
            ok = yield ops.trylock("trier", lk)
            results.append(ok)
            if ok:
                yield ops.unlock("trier", lk)

    s = Scheduler()
    s.spawn("holder", holder())
    s.spawn("trier", trier())
    spy = OrderSpy([0, 1, 1, 1])
    r = s.run(spy)
    assert r.outcome == "finished"
    assert results[:2] == [False, False]
    # the trier was enabled at every decision while the lock was held
    assert all(1 in o for o in spy.orders[:3])


def idle():
    return
    yield


def test_unlock_of_a_lock_not_held_is_a_violation() -> None:
    lk = Lock("L", "L", sleeps=True)

    def bad():
        yield ops.unlock("bad", lk)

    s = Scheduler()
    s.spawn("bad", bad())
    s.spawn("idle", idle())
    r = s.run(Replay([]))
    assert r.outcome == "unlock-not-held"
    assert r.violation is not None and r.violation.fn == "bad"


def test_sleeping_lock_under_a_spinlock_is_sleep_in_atomic() -> None:
    s, _ = build([[("spin", 0), ("lock", 1), ("unlock", 1), ("spin_unlock", 0)], []])
    r = s.run(Replay([]))
    assert r.outcome == "sleep-in-atomic"
    assert "spinlock S0" in r.violation.message  # type: ignore[union-attr]


def test_sleeping_lock_inside_rcu_or_pte_map_is_sleep_in_atomic() -> None:
    s, _ = build([[("rcu",), ("down_read", 0), ("up_read", 0), ("rcu_unlock",)], []])
    assert s.run(Replay([])).outcome == "sleep-in-atomic"

    lk = Lock("folio", "folio_lock", sleeps=True)

    def mover():
        yield ops.pte_map("move_pages_ptes", "pte:0")
        yield ops.lock("move_pages_ptes", lk)

    s = Scheduler()
    s.spawn("mover", mover())
    r = s.run(Replay([]))
    assert r.outcome == "sleep-in-atomic"
    assert "pte_offset_map" in r.violation.message  # type: ignore[union-attr]


def test_spinlock_under_a_spinlock_and_trylock_in_atomic_context_are_fine() -> None:
    s, _ = build(
        [[("spin", 0), ("spin", 1), ("trylock", 2), ("spin_unlock", 1), ("spin_unlock", 0)], []]
    )
    assert s.run(Replay([])).outcome == "finished"


def test_thread_ending_with_a_lock_held_is_thread_end() -> None:
    s, _ = build([[("lock", 0)], [("write", 0, 1)]])
    r = s.run(Replay([]))
    assert r.outcome == "thread.end"
    assert "holds L0" in r.violation.message  # type: ignore[union-attr]


def test_step_bound_ends_a_livelock() -> None:
    flag = [0]

    def spinner():
        while True:
            v = yield ops.read("spinner", "flag", lambda: flag[0])
            if v:
                return

    s = Scheduler(max_steps=100)
    s.spawn("a", spinner())
    s.spawn("b", spinner())
    r = s.run(Replay([]))
    assert r.outcome == "step-bound" and r.steps == 100 and r.violation is None
