"""The C scheduler (native/scheduler.c) against the Python one (fuzzlock/sched/scheduler.py).

Both run the same toy programs (tests/sched/toy.py; tests/native/toy.c on the C side) with the
same decisions; the traces must be identical event for event, and so must the outcome,
the consumed decisions, the preempted steps and the violation (step, thread, function,
message).  A test with a deliberately broken C decision rule proves the comparison can
fail.  Set FUZZLOCK_REQUIRE_NATIVE=1 to make a missing library a failure, not a skip.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from typing import Any, cast

import pytest

from fuzzlock import native
from fuzzlock.sched import RandomChooser, Replay, RunResult, Scheduler, ViolationError, ops
from fuzzlock.sched.scheduler import ThreadBody
from tests import native_toy
from tests.sched.test_locks import ABBA
from tests.sched.toy import Program, ToyWorld, body, build, random_program

pytestmark = pytest.mark.native

SEED = 20261128
N_RANDOM = 6000
N_WILD = 3000


@pytest.fixture(scope="module", autouse=True)
def _need_native() -> None:
    reason = ""
    if not native.native_available():
        reason = native.unavailable_reason()
    else:
        reason = native_toy.unavailable_reason()
    if not reason:
        return
    if os.environ.get("FUZZLOCK_REQUIRE_NATIVE"):
        pytest.fail(f"FUZZLOCK_REQUIRE_NATIVE is set but the C scheduler is unavailable: {reason}")
    pytest.skip(f"C scheduler unavailable: {reason}")


# --------------------------------------------------------------------------- comparison


class Recording:
    """A chooser that records every ``order`` it is asked about (works on both sides)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.orders: list[tuple[list[int], int]] = []

    def choose(self, order: Sequence[int], current: int) -> int:
        self.orders.append((list(order), current))
        return int(self.inner.choose(order, current))


def run_python(
    prog: Program,
    decisions: Sequence[int],
    max_steps: int,
    chooser: Any = None,
    setup: Sequence[tuple[Any, ...]] = (),
) -> RunResult:
    s, w = build(prog, max_steps=max_steps)
    if setup:
        s.run_solo("setup", cast(ThreadBody, body(w, -1, list(setup))))
    return s.run(chooser if chooser is not None else Replay(decisions))


def difference(py: RunResult, c: native_toy.ToyRun) -> str:
    """'' if the runs agree, else a description starting with the first difference."""
    for i, (pe, ce) in enumerate(zip(py.events, c.events)):
        if pe != ce:
            return f"first differing event #{i}: python {pe} != C {ce}"
    if len(py.events) != len(c.events):
        n = min(len(py.events), len(c.events))
        extra = py.events[n : n + 1] or c.events[n : n + 1]
        return (
            f"event counts differ: python {len(py.events)}, C {len(c.events)}; "
            f"first extra event {extra[0]}"
        )
    v = py.violation
    fields = [
        ("outcome", py.outcome, c.outcome),
        ("decisions", py.decisions, c.decisions),
        ("preempted", py.preempted, c.preempted),
        ("steps", py.steps, c.steps),
        ("violation step", v.step if v else None, c.violation_step),
        ("violation thread", v.thread if v else None, c.violation_thread),
        ("violation fn", v.fn if v else None, c.violation_fn),
        ("message", v.message if v else "", c.message),
    ]
    for name, p, cv in fields:
        if p != cv:
            return f"{name}: python {p!r} != C {cv!r}"
    return ""


def check(prog: Program, decisions: Sequence[int] = (), max_steps: int = 10_000) -> RunResult:
    py = run_python(prog, decisions, max_steps)
    c = native_toy.run_toy_detailed(prog, decisions, max_steps)
    diff = difference(py, c)
    assert not diff, f"{diff}\nprogram {prog!r}\ndecisions {list(decisions)!r}"
    # the binding's plain tuple says the same
    assert native_toy.run_toy(prog, decisions, max_steps) == (
        c.outcome,
        c.events,
        c.decisions,
        c.preempted,
        c.violation_step,
        c.violation_thread,
    )
    return py


# --------------------------------------------------------------------------- programs

_LOCKY = ["lock", "unlock", "trylock", "spin", "spin_unlock", "down_read", "up_read",
          "down_write", "up_write"]  # fmt: skip


def wild_program(rng: random.Random) -> Program:
    """Any action anywhere: unbalanced unlocks, sleeping under spinlocks and RCU, recursive
    read locks, threads ending with locks held.  Exercises every violation path."""
    prog: Program = []
    for _ in range(rng.randint(1, 5)):
        acts: list[tuple[Any, ...]] = []
        for _ in range(rng.randint(0, 10)):
            r = rng.random()
            if r < 0.6:
                kind = rng.choice(_LOCKY)
                acts.append((kind, rng.randrange(2 if kind.endswith(("read", "write")) else 3)))
            elif r < 0.7:
                acts.append((rng.choice(["rcu", "rcu_unlock"]),))
            elif r < 0.8:
                acts.append(("write", rng.randrange(3), rng.randrange(-5, 5)))
            else:
                acts.append((rng.choice(["read", "inc"]), rng.randrange(3)))
        prog.append(acts)
    return prog


def random_decisions(rng: random.Random) -> list[int]:
    r = rng.random()
    if r < 0.1:
        return []
    if r < 0.2:  # large decisions: the rule is c % len(order), not a clamp
        return [rng.randrange(2**62) for _ in range(rng.randrange(30))]
    return [rng.randrange(4) for _ in range(rng.randrange(40))]


# --------------------------------------------------------------------------- tests


def test_random_toy_programs_give_identical_traces() -> None:
    rng = random.Random(SEED)
    outcomes: dict[str, int] = {}
    preemptions = 0
    for _ in range(N_RANDOM):
        prog = random_program(rng)
        max_steps = 10_000 if rng.random() < 0.9 else rng.randrange(0, 12)
        py = check(prog, random_decisions(rng), max_steps)
        outcomes[py.outcome] = outcomes.get(py.outcome, 0) + 1
        preemptions += py.preemptions
    assert {"finished", "deadlock", "lock.order", "step-bound"} <= set(outcomes), outcomes
    assert preemptions > N_RANDOM


def test_wild_toy_programs_give_identical_traces_and_violations() -> None:
    rng = random.Random(SEED + 1)
    outcomes: set[str] = set()
    for _ in range(N_WILD):
        prog = wild_program(rng)
        py = check(prog, random_decisions(rng), rng.choice([10_000, 10_000, 25]))
        outcomes.add(py.outcome)
    expected = {"finished", "deadlock", "lock.order", "sleep-in-atomic", "unlock-not-held",
                "thread.end"}  # fmt: skip
    assert expected <= outcomes, outcomes


def test_the_chooser_is_asked_the_same_questions() -> None:
    """A Python chooser through the C callback: same ``order`` and ``current`` at every
    decision point (enabledness and round-robin order agree, not only the outcome)."""
    rng = random.Random(SEED + 2)
    for seed in range(300):
        prog = random_program(rng) if seed % 2 else wild_program(rng)
        rec_py = Recording(RandomChooser(seed))
        py = run_python(prog, (), 10_000, rec_py)
        rec_c = Recording(RandomChooser(seed))
        c = native_toy.run_toy_detailed(prog, chooser=rec_c)
        assert rec_c.orders == rec_py.orders, f"program {prog!r}"
        assert not difference(py, c), difference(py, c)


def test_an_exception_in_the_chooser_aborts_the_run_and_propagates() -> None:
    class Boom:
        def choose(self, order: Sequence[int], current: int) -> int:
            raise KeyError("boom")

    prog = [[("write", 0, 1)], [("write", 0, 2)]]
    with pytest.raises(KeyError, match="boom"):
        native_toy.run_toy_detailed(prog, chooser=Boom())


# --- the cases of tests/sched/test_locks.py and test_decisions.py, explicitly


def test_abba_deadlock() -> None:
    py = check(ABBA, [0, 1])
    assert py.outcome == "deadlock"
    assert "T0 waits for L1 held by T1" in py.violation.message  # type: ignore[union-attr]


def test_abba_lock_order_without_deadlock() -> None:
    py = check(ABBA, [])
    assert py.outcome == "lock.order" and py.violation.thread == 1  # type: ignore[union-attr]


def test_rwsem_waiting_writer_blocks_new_readers() -> None:
    # the toy form of test_waiting_writer_blocks_new_readers_and_fails_their_trylock:
    # T0 read-holds R0, T1's down_write finds it taken and waits, T2's down_read is then
    # not enabled although only readers hold R0.
    prog: Program = [
        [("down_read", 0), ("read", 0), ("read", 0), ("up_read", 0)],
        [("down_write", 0), ("write", 0, 1), ("up_write", 0)],
        [("down_read", 0), ("read", 0), ("up_read", 0)],
    ]
    for decisions in ([0, 1, 1], [0, 1, 1, 1, 1], [0, 2, 1], [1, 1, 1], [2, 2, 2, 2]):
        check(prog, decisions)
    py = check(prog, [0, 1, 1])
    ev = [(e[1], e[3]) for e in py.events]
    assert ev.index((1, "write")) < ev.index((2, "down_read"))
    # free rwsem: a reader may go before a pending writer
    check([prog[1], prog[2]], [1])


def test_rwsem_reader_behind_a_waiting_writer_deadlocks_with_the_same_cycle() -> None:
    # T0 read-holds R0 and wants L0; T1 holds L0 and waits to write R0; T2 reads R0.
    prog = [
        [("down_read", 0), ("lock", 0), ("unlock", 0), ("up_read", 0)],
        [("lock", 0), ("down_write", 0), ("up_write", 0), ("unlock", 0)],
        [("down_read", 0), ("up_read", 0)],
    ]
    for d in range(3**5):
        decisions = [(d // 3**i) % 3 for i in range(5)]
        check(prog, decisions)


def test_sleep_in_atomic() -> None:
    assert check([[("spin", 0), ("lock", 1), ("unlock", 1), ("spin_unlock", 0)], []]).outcome == (
        "sleep-in-atomic"
    )
    assert check([[("rcu",), ("down_read", 0), ("up_read", 0), ("rcu_unlock",)], []]).outcome == (
        "sleep-in-atomic"
    )
    # spinlock under spinlock and trylock in atomic context are fine
    prog = [[("spin", 0), ("spin", 1), ("trylock", 2), ("spin_unlock", 1), ("spin_unlock", 0)], []]
    assert check(prog).outcome == "finished"


def test_unlock_not_held_thread_end_and_step_bound() -> None:
    assert check([[("unlock", 0)], []]).outcome == "unlock-not-held"
    assert check([[("rcu_unlock",)], []]).outcome == "unlock-not-held"
    assert check([[("down_read", 0), ("up_write", 0)], []]).outcome == "unlock-not-held"
    assert check([[("lock", 0)], [("write", 0, 1)]]).outcome == "thread.end"
    assert check([[("rcu",)], [("write", 0, 1)]]).outcome == "thread.end"
    prog: Program = [[("write", 0, i) for i in range(10)], [("read", 0)] * 10]
    py = check(prog, [1, 0, 1], max_steps=7)
    assert py.outcome == "step-bound" and py.steps == 7


def test_decision_rule_cases() -> None:
    check([[("write", 0, 1), ("write", 0, 2)], [("write", 0, 3)], [("write", 0, 4)]], [2, 3])
    check([[("write", 0, i) for i in range(10)], []], [5, 5, 5])
    check([[("lock", 0), ("write", 0, 1), ("unlock", 0)], [("lock", 0), ("unlock", 0)]], [1])
    check([], [])
    check([[], [], []], [1, 2])
    big = 2**63 - 1
    check([[("inc", 0)] * 3, [("inc", 0)] * 3, [("inc", 1)] * 3], [big, big - 1, 7, big])


# --- the comparison itself


def test_the_differential_check_detects_a_broken_decision_rule() -> None:
    """With fl_debug_flip_decision_rule the C side picks order[(c+1) % n]: the comparison
    must notice, and its message must show the first differing event."""
    rng = random.Random(SEED + 3)
    progs = [(random_program(rng), random_decisions(rng)) for _ in range(50)]
    old = native_toy.debug_flip_decision_rule(True)
    try:
        diffs = [
            difference(run_python(p, d, 10_000), native_toy.run_toy_detailed(p, d))
            for p, d in progs
        ]
    finally:
        native_toy.debug_flip_decision_rule(old)
    found = [d for d in diffs if d]
    assert len(found) > len(progs) // 2
    assert any(d.startswith("first differing event #") for d in found)
    # and with the rule restored they agree again
    assert not any(
        difference(run_python(p, d, 10_000), native_toy.run_toy_detailed(p, d)) for p, d in progs
    )


# --- malformed input never crashes the C side


@pytest.mark.parametrize(
    "encoded, words",
    [
        ([], "empty"),
        ([17], "threads"),
        ([-1], "threads"),
        ([1], "flags"),
        ([1, 2], "flags"),
        ([1, 0], "setup: no action count"),
        ([1, 0, 0], "thread 0: no action count"),
        ([1, 0, 0, 1, 99, 0, 0], "thread 0 action 0: bad action code"),
        ([0, 0, 1, 99, 0, 0], "setup action 0: bad action code"),
        ([1, 0, 0, 1, -1, 0, 0], "action code"),
        ([1, 0, 0, 1, 24, 0, 0], "action code"),
        ([1, 0, 0, 1, 0, 3, 0], "out of range"),  # lock L3
        ([1, 0, 0, 1, 5, 2, 0], "out of range"),  # down_read R2
        ([1, 0, 0, 1, 9, -1, 0], "out of range"),  # read var-1
        ([1, 0, 0, 1, 12, 1, 0], "out of range"),  # rcu takes no index
        ([1, 0, 0, 1, 20, 2, 0], "out of range"),  # down_read_trylock R2
        ([1, 0, 0, 1, 0, 0, 5], "unexpected value"),
        ([1, 0, 0, 2, 0, 0, 0], "do not fit"),
        ([1, 0, 0, 2**62, 0, 0, 0], "do not fit"),
        ([1, 0, 0, -3], "do not fit"),
        ([1, 0, 0, 0, 7], "trailing"),
    ],
)
def test_malformed_toy_programs_are_refused_with_a_message(encoded: list[int], words: str) -> None:
    with pytest.raises(native.NativeError, match=words):
        native_toy.run_toy_encoded(encoded)


def test_binding_refuses_what_c_cannot_represent() -> None:
    with pytest.raises(ValueError):
        native_toy.run_toy([[("frobnicate", 0)]])
    with pytest.raises(ValueError):
        native_toy.run_toy([[("write", 0, 2**64)]])
    with pytest.raises(ValueError):
        native_toy.run_toy([[("write", 0, 1)]], [-1])
    with pytest.raises(ValueError):
        native_toy.run_toy([[("write", 0, 1)]], max_steps=-1)


def test_many_threads_and_deep_nesting() -> None:
    prog = [[("down_read", 1)] * 200 + [("up_read", 1)] * 200 for _ in range(16)]
    check(prog, list(range(300)))
    with pytest.raises(native.NativeError, match="threads"):
        native_toy.run_toy([[]] * 17)


def test_a_value_c_cannot_hold_is_an_error_not_a_wrong_trace() -> None:
    with pytest.raises(native.NativeError, match="overflows"):
        native_toy.run_toy([[("write", 0, 2**63 - 1), ("inc", 0)]])


def test_concurrent_runs_from_several_python_threads_agree() -> None:
    # ctypes releases the GIL: several OS threads run C schedules at once (one scheduler
    # each, the current scheduler is thread-local).
    from concurrent.futures import ThreadPoolExecutor

    rng = random.Random(SEED + 4)
    jobs = [(random_program(rng), random_decisions(rng)) for _ in range(400)]
    expected = [native_toy.run_toy(p, d) for p, d in jobs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda job: native_toy.run_toy(*job), jobs))
    assert got == expected


# --- the setup phase: Scheduler.run_solo against fl_sched_run_solo


def check_with_setup(
    prog: Program,
    setup: list[tuple[Any, ...]],
    decisions: Sequence[int] = (),
    ext: bool = False,
    checks: bool = False,
    max_steps: int = 10_000,
) -> str:
    """Compare a run with a setup (and, with ``ext``, extended actions); returns the
    outcome, or 'setup-blocks'.  A setup violation is the C run's outcome (no events,
    step 0, thread -1); in Python run_solo raises it."""
    try:
        if ext:
            py = run_python_ext(prog, decisions, max_steps, setup, checks)
        else:
            py = run_python(prog, decisions, max_steps, setup=setup)
    except ViolationError as e:
        c = native_toy.run_toy_detailed(prog, decisions, max_steps, setup=setup, checks=checks)
        assert (c.outcome, c.events, c.violation_fn, c.message) == (e.id, [], e.fn, e.message)
        assert (c.violation_step, c.violation_thread) == (0, -1)
        return e.id
    except RuntimeError as e:
        with pytest.raises(native.NativeError) as info:
            native_toy.run_toy_detailed(prog, decisions, max_steps, setup=setup, checks=checks)
        assert str(e) in str(info.value)
        return "setup-blocks"
    c = native_toy.run_toy_detailed(prog, decisions, max_steps, setup=setup, checks=checks)
    diff = difference(py, c)
    assert not diff, f"{diff}\nsetup {setup!r}\nprogram {prog!r}\ndecisions {decisions!r}"
    return py.outcome


def test_setup_runs_alone_first_and_its_effects_are_seen() -> None:
    setup: list[tuple[Any, ...]] = [
        ("lock", 0),
        ("write", 1, 42),
        ("inc", 1),
        ("down_write", 0),
        ("up_write", 0),
        ("unlock", 0),
        ("rcu",),
        ("rcu_unlock",),
    ]
    prog: Program = [[("read", 1), ("lock", 0), ("unlock", 0)], [("inc", 1)]]
    assert check_with_setup(prog, setup, [1]) == "finished"
    c = native_toy.run_toy_detailed(prog, [0], setup=setup)
    assert c.events[0][2:] == ("t0", "read", "var1", "43")
    # lockdep ignores the setup: L1 -> L0 there, L0 -> L1 in a thread is no cycle
    setup = [("lock", 1), ("lock", 0), ("unlock", 0), ("unlock", 1)]
    assert check_with_setup([ABBA[0], []], setup) == "finished"


def test_setup_violations_and_a_blocking_setup() -> None:
    assert check_with_setup([[]], [("lock", 0)]) == "thread.end"
    assert check_with_setup([[]], [("unlock", 2)]) == "unlock-not-held"
    assert check_with_setup([[]], [("spin", 0), ("lock", 0)]) == "sleep-in-atomic"
    assert check_with_setup([[]], [("lock", 0), ("lock", 0)]) == "setup-blocks"
    assert check_with_setup([[]], [("down_read", 1), ("down_write", 1)]) == "setup-blocks"


def test_random_setups_give_identical_results() -> None:
    rng = random.Random(SEED + 5)
    outcomes: set[str] = set()
    for i in range(800):
        setup = random_program(rng)[0] if i % 2 else wild_program(rng)[0]
        prog = random_program(rng) if i % 3 else wild_program(rng)
        outcomes.add(check_with_setup(prog, setup, random_decisions(rng)))
    assert {"finished", "thread.end", "unlock-not-held", "setup-blocks"} <= outcomes, outcomes


# --- extended actions: every op kind, subclasses, string values, hooks, body violations


def ext_body(w: ToyWorld, tid: int, actions: list[tuple[Any, ...]]) -> ThreadBody:
    """tests/sched/toy.py body() plus the extended actions of tests/native/toy.c."""
    fn = f"t{tid}"
    for a in actions:
        kind = a[0]
        if kind == "wait":
            yield ops.wait_unlocked(fn, w.locks[a[1]])
        elif kind == "pte_map":

            def pte(v: int = a[1]) -> int:
                return w.vars[v]

            yield ops.pte_map(fn, f"pte:{a[1]}", pte)
        elif kind == "pte_unmap":
            yield ops.pte_unmap(fn, f"pte:{a[1]}")
        elif kind == "might_sleep":
            yield ops.might_sleep(fn, "alloc")
        elif kind == "lock_nested":
            yield ops.lock(fn, w.locks[a[1]], subclass=1)
        elif kind == "spin_nested":
            yield ops.lock(fn, w.spins[a[1]], subclass=1)
        elif kind == "down_read_trylock":
            ok = yield ops.down_read_trylock(fn, w.sems[a[1]])
            if ok:
                yield ops.up_read(fn, w.sems[a[1]])
        elif kind == "down_write_trylock":
            ok = yield ops.down_write_trylock(fn, w.sems[a[1]])
            if ok:
                yield ops.up_write(fn, w.sems[a[1]])
        elif kind == "fail":
            raise ViolationError("toy.fail", fn, f"{fn} fails")
        elif kind == "peek":

            def peek(v: int = a[1]) -> str:
                return f"x{w.vars[v]}"

            yield ops.point(fn, "peek", f"var{a[1]}", peek)
        else:
            yield from cast(ThreadBody, body(w, tid, [a]))


def run_python_ext(
    prog: Program,
    decisions: Sequence[int],
    max_steps: int,
    setup: Sequence[tuple[Any, ...]] = (),
    checks: bool = False,
) -> RunResult:
    s = Scheduler(max_steps=max_steps)
    w = ToyWorld()
    for tid, actions in enumerate(prog):
        s.spawn(f"toy{tid}", ext_body(w, tid, list(actions)))
    if checks:
        sentinel = native_toy.TOY_SENTINEL

        def check_step(sched: Scheduler, t: Any) -> None:
            if w.vars[2] == sentinel:
                raise ViolationError(
                    "toy.check", f"t{t.tid}", f"var2 is {sentinel} after a step of T{t.tid}"
                )

        def check_end(sched: Scheduler) -> None:
            if w.vars[1] == sentinel:
                raise ViolationError("toy.end-check", "end", f"var1 is {sentinel} at the end")

        s.check_step = check_step
        s.check_end = check_end
    if setup:
        s.run_solo("setup", ext_body(w, -1, list(setup)))
    return s.run(Replay(decisions))


_EXT_KINDS = [*_LOCKY, "wait", "pte_map", "pte_unmap", "might_sleep", "lock_nested",
              "spin_nested", "down_read_trylock", "down_write_trylock", "peek", "rcu",
              "rcu_unlock", "read", "inc"]  # fmt: skip


def ext_action(rng: random.Random) -> tuple[Any, ...]:
    r = rng.random()
    if r < 0.01:
        return ("fail",)
    if r < 0.12:
        return ("write", rng.randrange(3), rng.choice([1, 2, native_toy.TOY_SENTINEL]))
    kind = rng.choice(_EXT_KINDS)
    if kind in ("rcu", "rcu_unlock", "might_sleep"):
        return (kind,)
    sem = kind.startswith(("down", "up"))
    return (kind, rng.randrange(2 if sem else 3))


def ext_program(rng: random.Random) -> Program:
    if rng.random() < 0.5:  # well-formed toy threads with extended actions sprinkled in
        prog = random_program(rng)
        for acts in prog:
            for _ in range(rng.randrange(3)):
                acts.insert(rng.randrange(len(acts) + 1), ext_action(rng))
        return prog
    return [[ext_action(rng) for _ in range(rng.randint(0, 10))] for _ in range(rng.randint(1, 5))]


def test_extended_actions_cover_every_op_kind_identically() -> None:
    rng = random.Random(SEED + 6)
    outcomes: dict[str, int] = {}
    labels: set[str] = set()
    for i in range(3000):
        prog = ext_program(rng)
        setup = [ext_action(rng) for _ in range(rng.randrange(4))] if i % 4 == 0 else []
        checks = i % 3 != 0
        max_steps = 10_000 if i % 5 else rng.randrange(20)
        out = check_with_setup(prog, setup, random_decisions(rng), True, checks, max_steps)
        outcomes[out] = outcomes.get(out, 0) + 1
        if out not in ("setup-blocks",) and not setup:
            labels.update(e[3] for e in native_toy.run_toy_detailed(prog, (), checks=checks).events)
    expected = {"finished", "deadlock", "lock.order", "sleep-in-atomic", "unlock-not-held",
                "thread.end", "step-bound", "toy.fail", "toy.check", "toy.end-check"}  # fmt: skip
    assert expected <= set(outcomes), outcomes
    assert {"wait", "pte_map", "pte_unmap", "might_sleep", "down_read_trylock",
            "down_write_trylock", "peek"} <= labels, labels  # fmt: skip


def test_test_locks_rwsem_trylock_case_exactly() -> None:
    # test_waiting_writer_blocks_new_readers_and_fails_their_trylock, with its trylock
    prog: Program = [
        [("down_read", 0), ("read", 0), ("read", 0), ("up_read", 0)],
        [("down_write", 0), ("write", 0, 1), ("up_write", 0)],
        [("down_read_trylock", 0), ("down_read", 0), ("read", 0), ("up_read", 0)],
    ]
    check_with_setup(prog, [], [0, 1, 1], ext=True)
    c = native_toy.run_toy_detailed(prog, [0, 1, 1])
    assert ("t2", "down_read_trylock", "R0", "0") in [e[2:] for e in c.events]
    # test_free_rwsem_admits_a_reader_before_a_pending_writer
    check_with_setup(prog[1:], [], [1], ext=True)
    c = native_toy.run_toy_detailed(prog[1:], [1])
    assert c.events[0][1:] == (1, "t1", "down_read_trylock", "R0", "1")


def test_nested_subclass_is_its_own_lockdep_node() -> None:
    # L0 then L0/1 (double_pt_lock style) in both threads: no cycle, no lock.order
    same: Program = [[("lock", 0), ("lock_nested", 1), ("unlock", 1), ("unlock", 0)]] * 2
    assert check_with_setup(same, [], [], ext=True) == "finished"
    # L1/1 -> L0 in one thread, L0 -> L1/1 in the other: a cycle through the subclass node
    inv: Program = [
        [("lock_nested", 1), ("lock", 0), ("unlock", 0), ("unlock", 1)],
        [("lock", 0), ("lock_nested", 1), ("unlock", 1), ("unlock", 0)],
    ]
    assert check_with_setup(inv, [], [], ext=True) == "lock.order"
    # pte_map then a sleeping lock is sleep-in-atomic; a spinlock is fine
    assert check_with_setup([[("pte_map", 0), ("lock", 0)]], [], ext=True) == "sleep-in-atomic"
    ok: Program = [[("pte_map", 0), ("spin", 0), ("spin_unlock", 0), ("pte_unmap", 0)]]
    assert check_with_setup(ok, [], ext=True) == "finished"
