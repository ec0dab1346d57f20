"""The seeded strategies' search (``random`` and ``pct``, fuzzlock.search.random and
fuzzlock.search.pct): seeded random scenarios from ``fuzzlock.scenarios``, each run under
schedules drawn by the strategy's chooser.

On a backend that runs schedules in batches (``Backend.batched``: the C model), each
generated scenario gets one batch of up to ``NATIVE_BATCH`` schedules (fewer under a small
schedule budget: ``BUDGET_SCENARIOS``) in one call, whose decisions the backend draws with
the strategy's rule; the batch stops at the first violation, which is replayed on the
reference (``differential`` on disagreement).  Distinct traces are then counted by
``trace.hash64`` (the same traces as the sha256 digest, up to 64-bit collisions).  A
scenario outside the backend's slice runs its (remaining) schedules on the reference with
the strategy's Python chooser (counted: ``HuntResult.python_runs``).  On the reference
itself each scenario runs one schedule.
"""

from __future__ import annotations

import abc
import random
from collections.abc import Generator, Iterator
from typing import Any

from fuzzlock import backends, model
from fuzzlock.scenario import Scenario
from fuzzlock.scenarios import RandomSource, gen_scenario
from fuzzlock.search.base import Context, Found, Strategy, confirmed

#: Schedules per generated scenario on a batched backend: one call runs them.  Larger
#: batches amortize generating, encoding and loading a scenario (~0.3 ms, several C runs'
#: worth); smaller ones keep scenarios diverse.  Batches of 4 to 32 caught patch2-only and
#: the single-knob settings of the corpus equally fast (64 and more slower; README
#: "Performance"); 32 runs the most steps/s.
NATIVE_BATCH = 32
#: Under a schedule budget (``max_schedules``) a batch is at most budget / this many
#: schedules, so a hunt of N schedules still tries ~min(N, 1000) scenarios: a budget counts
#: schedules, and some bugs need the right scenario more than the right interleaving.
BUDGET_SCENARIOS = 1000


class SeededStrategy(Strategy):
    """A seeded scenario per round, then one schedule (reference) or a batch (batched
    backend).  Subclasses give the chooser and the batch rule."""

    #: ``BatchSpec.kind`` of this strategy's batches, and its choices
    kind = "random"
    preempts: tuple[float, ...] = (1.0,)
    depths: tuple[int, ...] = (2,)

    def __init__(self, batch: int | None = None) -> None:
        self.batch = batch
        self.outside: dict[str, int] = {}

    @abc.abstractmethod
    def chooser(self, rng: random.Random, run_seed: int, sc: Scenario) -> Any:
        """The Python chooser of one schedule on the reference (draws from ``rng``)."""

    def batch_kind(self, ctx: Context) -> str:
        return self.kind

    def pct_k(self) -> int:
        """PCT's bound on a schedule's decisions, for the next batch."""
        return 60

    def ran(self, ndecisions: list[int]) -> None:
        """Each schedule's number of decisions, after it ran."""

    def rounds(self, ctx: Context) -> Generator[Found | None, None, None]:
        if ctx.backend.batched:
            yield from self._batched(ctx)
            return
        rng = random.Random(ctx.seed)
        while True:
            sc = gen_scenario(RandomSource(random.Random(rng.randrange(2**32))))
            chooser = self.chooser(rng, rng.randrange(2**32), sc)
            try:
                r = ctx.backend.run(sc, ctx.proto, chooser=chooser)
            except model.SetupError:
                # the setup alone breaks this protocol (a knob broken even sequentially):
                # no interleaving to explore; the threads' ops will show it
                yield None
                continue
            ctx.stats.add(r.steps, r.digest, r.violated)
            self.ran([len(r.decisions)])
            if r.violated:
                yield Found(sc, r.trimmed_decisions(), r.outcome, ctx.seed)
                return
            yield None

    def _batched(self, ctx: Context) -> Iterator[Found | None]:
        stats = ctx.stats
        per = self.batch
        if per is None:
            per = min(NATIVE_BATCH, max(1, stats.budget // BUDGET_SCENARIOS))
        if per < 1:
            raise ValueError(f"batch {per}: expected >= 1")
        kind = self.batch_kind(ctx)
        rng = random.Random(ctx.seed)
        with ctx.backend.batches() as batcher, ctx.reference.batches() as fallback:
            while True:
                sc = gen_scenario(RandomSource(random.Random(rng.randrange(2**32))))
                spec = backends.BatchSpec(
                    kind,
                    rng.randrange(2**32),
                    min(per, stats.budget - stats.schedules),
                    preempts=self.preempts,
                    depths=self.depths,
                    pct_k=max(self.pct_k(), 1),
                    deadline=stats.deadline,
                    stop=stats.stop,
                )
                try:
                    b = batcher.run(sc, ctx.proto, spec)
                except model.SetupError:
                    yield None
                    continue
                except backends.Unsupported as e:
                    why = str(e).split(": ", 1)[-1]
                else:
                    stats.add_batch(b.runs, b.steps, b.hashes, b.violation is not None)
                    self.ran(b.ndecisions)
                    if b.violation is not None:
                        yield confirmed(ctx, sc, b.violation)
                        return
                    if b.error is None:
                        yield None
                        continue
                    why = b.error.split(": ", 1)[-1]
                    spec = _less(spec, b.runs)
                # outside the backend's slice: the (remaining) schedules run on the reference
                self.outside[why] = self.outside.get(why, 0) + 1
                f = fallback.run(sc, ctx.proto, spec)
                stats.add_batch(f.runs, f.steps, f.hashes, f.violation is not None)
                stats.fallback += f.runs
                self.ran(f.ndecisions)
                if f.violation is not None:
                    yield Found(sc, f.violation.trimmed_decisions(), f.violation.outcome, ctx.seed)
                    return
                yield None

    def finish(self, ctx: Context) -> None:
        if self.outside:
            top = sorted(self.outside.items(), key=lambda kv: -kv[1])[:3]
            ctx.notes.append(
                "ran on Python (outside the C slice): " + "; ".join(f"{n}x {why}" for why, n in top)
            )


def _less(spec: backends.BatchSpec, runs: int) -> backends.BatchSpec:
    import attrs

    return attrs.evolve(spec, runs=spec.runs - runs)
