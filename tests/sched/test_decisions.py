"""The decision rule of docs/design.md#decision-rule."""

from __future__ import annotations

import random
from collections.abc import Sequence

from fuzzlock.sched import RandomChooser, Replay
from tests.sched.toy import build, random_program


class Recording:
    """Wraps a chooser and records every ``order`` it was asked about."""

    def __init__(self, inner: Replay | RandomChooser) -> None:
        self.inner = inner
        self.orders: list[list[int]] = []

    def choose(self, order: Sequence[int], current: int) -> int:
        self.orders.append(list(order))
        return self.inner.choose(order, current)


def test_same_decisions_give_the_same_trace_digest_on_1000_random_toy_programs() -> None:
    rng = random.Random(20261128)
    outcomes: set[str] = set()
    for i in range(1000):
        prog = random_program(rng)
        decisions = [rng.randrange(4) for _ in range(rng.randrange(40))]
        s1, _ = build(prog)
        r1 = s1.run(Replay(decisions))
        s2, _ = build(prog)
        r2 = s2.run(Replay(decisions))
        assert r1.digest == r2.digest, f"program {i} diverged"
        assert r1.events == r2.events
        assert r1.outcome == r2.outcome
        # the consumed decisions replay the run exactly, too
        s3, _ = build(prog)
        r3 = s3.run(Replay(r1.decisions))
        assert r3.digest == r1.digest
        outcomes.add(r1.outcome)
    # the generator exercises more than the happy path
    assert "finished" in outcomes
    assert outcomes & {"deadlock", "lock.order"}


def test_random_chooser_runs_replay_from_their_recorded_decisions() -> None:
    rng = random.Random(7)
    for seed in range(200):
        prog = random_program(rng)
        s1, _ = build(prog)
        r1 = s1.run(RandomChooser(seed))
        s2, _ = build(prog)
        r2 = s2.run(Replay(r1.decisions))
        assert r2.digest == r1.digest and r2.outcome == r1.outcome


def test_decision_zero_never_preempts() -> None:
    rng = random.Random(11)
    for _ in range(300):
        prog = random_program(rng)
        s, _ = build(prog)
        r = s.run(Replay([]))
        assert r.preemptions == 0
        assert all(d == 0 for d in r.decisions)


def test_decision_zero_runs_lock_free_threads_one_after_another() -> None:
    # Without locks nothing blocks, so "never preempt" means thread 0 runs to its end,
    # then thread 1, and so on: an independent check of the scheduler's own count.
    rng = random.Random(12)
    for _ in range(300):
        prog = [
            [
                ("write", rng.randrange(3), rng.randrange(9)) if rng.random() < 0.5 else ("read", 0)
                for _ in range(rng.randint(1, 8))
            ]
            for _ in range(rng.randint(2, 5))
        ]
        s, _ = build(prog)
        r = s.run(Replay([]))
        expected = [tid for tid, acts in enumerate(prog) for _ in acts]
        assert [e[1] for e in r.events] == expected


def test_exhausted_decisions_mean_zero() -> None:
    prog = [[("write", 0, 1), ("write", 0, 2), ("write", 0, 3)], [("write", 0, 9), ("read", 0)]]
    s, _ = build(prog)
    r_empty = s.run(Replay([]))
    s, _ = build(prog)
    r_zeros = s.run(Replay([0] * 50))
    assert r_empty.digest == r_zeros.digest
    assert [e[1] for e in r_empty.events] == [0, 0, 0, 1, 1]


def test_decision_picks_order_index_modulo_the_enabled_count() -> None:
    prog = [[("write", 0, 1), ("write", 0, 2)], [("write", 0, 3)], [("write", 0, 4)]]
    # step 0: order [0,1,2]; c=2 -> T2.  step 1: current T2 finished, order starts at
    # the next id after it: [0,1]; c=3 -> 3 % 2 = 1 -> T1.
    s, _ = build(prog)
    r = s.run(Replay([2, 3]))
    assert [e[1] for e in r.events[:2]] == [2, 1]
    assert r.preemptions == 1  # step 0 preempted T0; step 1 T2 had finished


def test_decisions_are_not_consumed_when_one_thread_is_enabled() -> None:
    # T0 holds L0 while T1 is blocked on it: only T0 is enabled for 4 steps.
    prog = [
        [("lock", 0), ("write", 0, 1), ("write", 0, 2), ("write", 0, 3), ("unlock", 0)],
        [("lock", 0), ("unlock", 0)],
    ]
    s, _ = build(prog)
    rec = Recording(Replay([1, 0, 0, 0, 0, 0]))
    r = s.run(rec)
    assert r.outcome == "finished"
    assert all(len(o) >= 2 for o in rec.orders)
    # step 0: T0 and T1 both enabled (decision 1 -> T1 takes L0 first) ...
    assert r.events[0][1] == 1
    assert len(r.decisions) == len(rec.orders)
    # every step with one enabled thread consumed nothing: decisions < steps
    assert len(r.decisions) < r.steps


def test_single_thread_program_consumes_no_decisions() -> None:
    prog = [[("write", 0, i) for i in range(10)], []]
    s, _ = build(prog)
    r = s.run(Replay([5, 5, 5]))
    assert r.decisions == [] and r.steps == 10
