"""Choosers: where the scheduler's decisions come from.

A chooser is asked only when two or more threads are enabled.  It gets ``order`` (the
enabled thread ids in round-robin order starting at the current thread) and returns a
non-negative decision ``c``; the scheduler runs ``order[c % len(order)]`` and records
``c``.  Decision 0 means "no preemption" when the current thread is enabled.  Every
chooser's run can be replayed from the recorded decision list with ``Replay``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Protocol


class Chooser(Protocol):
    def choose(self, order: Sequence[int], current: int) -> int: ...


class Replay:
    """Replay a decision list; 0 (no preemption) once it is exhausted."""

    __slots__ = ("decisions", "i")

    def __init__(self, decisions: Sequence[int]) -> None:
        for d in decisions:
            if not isinstance(d, int) or isinstance(d, bool) or d < 0:
                raise ValueError(f"decision {d!r} is not a non-negative integer")
        self.decisions = list(decisions)
        self.i = 0

    def choose(self, order: Sequence[int], current: int) -> int:
        i = self.i
        if i < len(self.decisions):
            self.i = i + 1
            return self.decisions[i]
        return 0


class HypothesisChooser:
    """Draw decisions lazily from Hypothesis (``data.draw`` at decision points).

    Draws come in pairs, one pair per context switch: the thread to switch to (an
    absolute thread id plus one; 0 = stay) and how many further decision points to run
    without switching.  A pair is drawn only when the previous run is used up, so the
    number of draws follows the number of preemptions.  Deleting one pair (a standard
    Hypothesis shrink) removes one preemption and leaves the meaning of the others
    intact (ids are absolute; a switch to the current thread or to a thread that is not
    enabled means no switch), so failing schedules shrink toward fewer preemptions.
    Both draws shrink toward 0 = "stay" and short runs.  (One integer per decision,
    relative to ``order``, shrinks badly: lowering one re-targets all later ones, and a
    deleted draw makes every later decision point consume one more.)

    Runs are at most ``MAX_RUN`` decision points.  With runs of up to 255 (uniform, mean
    128 where a schedule has ~40-100 decision points) half the generated schedules had no
    preemption at all and almost all the rest one; ``fuzzlock detection`` then caught most
    knob bugs in 0-2 of 5 seeds within 10 s.  With runs of up to 7 (about one switch per
    four decision points, like the random strategy's medium preemption rates) it caught
    them in 4-5 of 5, in a median of 0.7-3 s (docs/detection.md).
    """

    MAX_RUN = 7

    __slots__ = ("_run", "_which", "data", "left")

    def __init__(self, data: Any, n_threads: int = 6) -> None:
        from hypothesis import strategies as st  # imported here: Hypothesis is heavy

        self.data = data
        self._which = st.integers(min_value=0, max_value=max(2, n_threads))
        self._run = st.integers(min_value=0, max_value=self.MAX_RUN)
        self.left = 0

    def choose(self, order: Sequence[int], current: int) -> int:
        if self.left > 0:
            self.left -= 1
            return 0
        v = self.data.draw(self._which)
        self.left = self.data.draw(self._run)
        tid = v - 1
        if v == 0 or tid == current or tid not in order:
            return 0
        return order.index(tid)


class RandomChooser:
    """Seeded random walk.  ``preempt`` is the probability of switching away from an
    enabled current thread (1.0 = uniform choice among the enabled threads)."""

    __slots__ = ("preempt", "rng")

    def __init__(self, seed: int, preempt: float = 1.0) -> None:
        self.rng = random.Random(seed)
        self.preempt = preempt

    def choose(self, order: Sequence[int], current: int) -> int:
        n = len(order)
        if order[0] == current and self.preempt < 1.0 and self.rng.random() >= self.preempt:
            return 0
        return self.rng.randrange(n)


class PCTChooser:
    """Probabilistic Concurrency Testing (Burckhardt et al., ASPLOS 2010).

    Threads get distinct random initial priorities ``d .. d+n-1``; ``d-1`` change points
    are drawn among the first ``k`` decision points; at the i-th change point the thread
    that ran last drops to priority ``i`` (below every initial one).  The highest-priority
    enabled thread always runs.  A bug of depth ``d`` is then found with probability at
    least ``1/(n * k^(d-1))`` per run.  Change points count decision points (steps where
    two or more threads are enabled), so ``k`` is the number of decision points.
    """

    __slots__ = ("change", "depth", "k", "n", "prio", "seen")

    def __init__(self, seed: int, n_threads: int, depth: int = 2, k: int = 200) -> None:
        if depth < 1:
            raise ValueError("PCT depth must be >= 1")
        rng = random.Random(seed)
        self.n = n_threads
        self.depth = depth
        self.k = k
        initial = list(range(depth, depth + n_threads))
        rng.shuffle(initial)
        self.prio = initial
        points = rng.sample(range(1, k + 1), min(depth - 1, k))
        # decision-point index -> new priority (1 for the first change point, ...)
        self.change = {p: i + 1 for i, p in enumerate(sorted(points))}
        self.seen = 0

    @staticmethod
    def miss_probability_bound(n: int, k: int, d: int) -> float:
        """The per-run detection bound 1/(n k^(d-1)) for a depth-d bug."""
        return 1.0 / (n * k ** (d - 1))

    def choose(self, order: Sequence[int], current: int) -> int:
        self.seen += 1
        newp = self.change.get(self.seen)
        if newp is not None and 0 <= current < self.n:
            self.prio[current] = newp
        best = max(range(len(order)), key=lambda i: self.prio[order[i]])
        return best
