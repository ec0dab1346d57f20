"""Choosers find a depth-2 ordering bug; Hypothesis shrinks it to few preemptions."""

from __future__ import annotations

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzzlock.sched import (
    HypothesisChooser,
    PCTChooser,
    RandomChooser,
    Replay,
    RunResult,
    Scheduler,
    ops,
)
from fuzzlock.sched.result import ViolationError

PAD = 6


def depth2_program() -> Scheduler:
    """T0 publishes x=1 and retracts it PAD steps later; T1 reads x after PAD steps of
    its own and must never see 1.  The bug needs T0's publish < T1's read < T0's
    retract: two ordering constraints, a bug of depth 2.  T2 is a distraction."""
    x = [0]
    s = Scheduler()

    def publisher():
        yield ops.write("publish", "x", lambda: x.__setitem__(0, 1))
        for _ in range(PAD):
            yield ops.read("publisher_work", "pad", lambda: None)
        yield ops.write("retract", "x", lambda: x.__setitem__(0, 0))

    def observer():
        for _ in range(PAD):
            yield ops.read("observer_work", "pad", lambda: None)
        v = yield ops.read("observe", "x", lambda: x[0])
        if v == 1:
            raise ViolationError("toy.order", "observe", "observer saw the transient x=1")

    def distraction():
        for _ in range(PAD):
            yield ops.read("distraction", "pad", lambda: None)

    s.spawn("publisher", publisher())
    s.spawn("observer", observer())
    s.spawn("distraction", distraction())
    return s


def test_depth2_bug_is_absent_without_preemption() -> None:
    assert depth2_program().run(Replay([])).outcome == "finished"


def test_pct_depth2_finds_the_ordering_bug() -> None:
    found = []
    for seed in range(400):
        r = depth2_program().run(PCTChooser(seed, n_threads=3, depth=2, k=30))
        if r.outcome == "toy.order":
            found.append(seed)
    # the bound promises >= 1/(n k) = 1/90 per run; demand a comfortable fraction of it
    assert len(found) >= 400 // 90, found
    # and a PCT run replays from its recorded decisions
    r = depth2_program().run(PCTChooser(found[0], n_threads=3, depth=2, k=30))
    assert depth2_program().run(Replay(r.decisions)).digest == r.digest


def test_pct_depth1_never_preempts_a_running_thread_needlessly() -> None:
    # depth 1 = no change points: a fixed priority order, never the bug.
    for seed in range(50):
        assert depth2_program().run(PCTChooser(seed, 3, depth=1, k=30)).outcome == "finished"


def test_pct_bound_formula() -> None:
    assert PCTChooser.miss_probability_bound(3, 30, 2) == pytest.approx(1 / 90)


def test_random_chooser_finds_the_ordering_bug() -> None:
    assert any(
        depth2_program().run(RandomChooser(seed)).outcome == "toy.order" for seed in range(300)
    )


def test_hypothesis_chooser_finds_it_and_shrinks_to_at_most_two_preemptions() -> None:
    failing: list[RunResult] = []

    @settings(
        max_examples=2000,
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def prop(data: st.DataObject) -> None:
        r = depth2_program().run(HypothesisChooser(data, n_threads=3))
        if r.outcome == "toy.order":
            failing.append(r)
        assert r.outcome == "finished"

    with pytest.raises(AssertionError):
        prop()
    # Hypothesis replays the shrunk example last
    minimal = failing[-1]
    assert minimal.preemptions <= 2, minimal.decisions
    # the shrunk decision list is short and replays to the same violation
    again = depth2_program().run(Replay(minimal.decisions))
    assert again.outcome == "toy.order" and again.digest == minimal.digest
    assert hypothesis.__version__  # the chooser works with the installed Hypothesis
