"""The recorded footprints are sound: steps they call independent really commute.

For random model scenarios of every family and random schedules, every pair of adjacent
steps of different threads whose footprints are independent is swapped (the rest of the
schedule kept, thread by thread) and the run must be the same up to that swap: the same
multiset of trace events (every value every step read or returned), thread results and
outcome.  A field left out of the footprint that some step really depends on shows up
here as a changed value."""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

from fuzzlock import model, protocol, scenarios
from fuzzlock.sched import Scheduler
from fuzzlock.sched.footprint import Recorder, independent, tracking

PER_RUN = int(os.environ.get("FL_SWAPS", "12"))  # swaps per run (all: 1000)


class FollowThreads:
    """Runs the given thread sequence step by step (then no preemption)."""

    def __init__(self, seq: Sequence[int]) -> None:
        self.seq = seq
        self.sched: Scheduler | None = None
        self.diverged = False

    def choose(self, order: Sequence[int], current: int) -> int:
        assert self.sched is not None
        k = len(self.sched.step_infos)
        if k < len(self.seq):
            if self.seq[k] in order:
                return list(order).index(self.seq[k])
            self.diverged = True
        return 0


def _run(sc: Any, proto: Any, rec: Recorder, seq: Sequence[int] | None, dec: Any = None) -> Any:
    if seq is None:
        return model.run(sc, proto, decisions=dec, recorder=rec)
    ch = FollowThreads(seq)
    orig_init = Scheduler.__init__

    def init(self: Scheduler, *a: Any, **kw: Any) -> None:
        orig_init(self, *a, **kw)
        ch.sched = self

    Scheduler.__init__ = init  # type: ignore[method-assign]
    try:
        r = model.run(sc, proto, chooser=ch, recorder=rec)
    finally:
        Scheduler.__init__ = orig_init  # type: ignore[method-assign]
    return r, ch.diverged


def _summary(r: Any) -> tuple[Any, ...]:
    ev = Counter((t, fn, op, obj, val) for _s, t, fn, op, obj, val in r.result.events)
    return (r.outcome, tuple(map(tuple, r.results)), frozenset(ev.items()))


def test_independent_adjacent_steps_commute_in_the_model() -> None:
    rng = random.Random(7)
    swaps = 0
    rec = Recorder()
    with tracking(rec):
        for i in range(70):
            fam = scenarios.FAMILIES[i % len(scenarios.FAMILIES)]
            sc = scenarios.gen_scenario(scenarios.RandomSource(random.Random(i)), fam)
            proto = protocol.get(
                rng.choice(["v6.18", "v6.19", "patch2-only"]), {"move.reset_err_on_retry": True}
            )
            try:
                base = _run(sc, proto, rec, None, [rng.randrange(4) for _ in range(60)])
            except model.SetupError:
                continue
            if base.result.violation is not None:
                continue  # a cut-short run: only whole runs are compared
            steps = base.step_infos
            seq = [s.tid for s in steps]
            want = _summary(base)
            cand = [
                k
                for k in range(len(steps) - 1)
                if steps[k].tid != steps[k + 1].tid
                and independent(
                    steps[k].reads, steps[k].writes, steps[k + 1].reads, steps[k + 1].writes
                )
            ]
            for k in rng.sample(cand, min(PER_RUN, len(cand))):
                swapped = [*seq[:k], seq[k + 1], seq[k], *seq[k + 2 :]]
                r, diverged = _run(sc, proto, rec, swapped)
                assert not diverged, f"{fam} scenario {i}: swap at step {k} changed enabledness"
                assert _summary(r) == want, f"{fam} scenario {i}: steps {k},{k + 1} do not commute"
                swaps += 1
    assert swaps >= 150
