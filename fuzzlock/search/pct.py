"""``--strategy pct``: seeded random scenarios, PCT schedules (Burckhardt et al., depth 2
and 3); prints the PCT bound.  On the C model the batches run ``PCTChooser``'s C port (bit
for bit), or preemption-bounded random schedules of PCT's depth (``predraw_pct``'s rule)
on a library without it."""

from __future__ import annotations

import random
from typing import Any

from fuzzlock.scenario import Scenario
from fuzzlock.sched import PCTChooser
from fuzzlock.search.base import Context
from fuzzlock.search.random import LCM
from fuzzlock.search.seeded import SeededStrategy

#: PCT depths (one drawn per schedule).
PCT_DEPTHS = (2, 3)


class PCTStrategy(SeededStrategy):
    name = "pct"
    kind = "pct"
    depths = PCT_DEPTHS

    def __init__(self, batch: int | None = None) -> None:
        super().__init__(batch)
        self.ks: list[int] = []  # each schedule's number of decisions
        self.exact = True

    def chooser(self, rng: random.Random, run_seed: int, sc: Scenario) -> Any:
        depth = rng.choice(PCT_DEPTHS)
        return PCTChooser(run_seed, len(sc.threads), depth=depth, k=self.pct_k())

    def batch_kind(self, ctx: Context) -> str:
        kind: str = getattr(ctx.backend, "pct_kind", lambda: "pct")()
        self.exact = kind == "pct"
        return kind

    def pct_k(self) -> int:
        return max(max(self.ks[-50:], default=60), 1)

    def ran(self, ndecisions: list[int]) -> None:
        self.ks.extend(ndecisions)

    def finish(self, ctx: Context) -> None:
        if self.ks:
            k = max(self.ks)
            n = 6
            schedules = ctx.stats.schedules
            for d in PCT_DEPTHS:
                p = PCTChooser.miss_probability_bound(n, k, d)
                miss = (1 - p) ** (schedules / 2)
                ctx.notes.append(
                    f"PCT depth {d}: per-run bound 1/(n k^(d-1)) = 1/({n}*{k}^{d - 1}) = "
                    f"{p:.2e}; a depth-{d} bug in one scenario is missed in {schedules // 2} "
                    f"runs with probability <= {miss:.3f}"
                )
        if not self.exact:
            ctx.notes.append(
                "native pct: the C loop draws preemption-bounded random schedules of PCT's "
                "depth (not PCT's priority schedules), so the bound above holds for the "
                "schedules that ran on Python"
            )
        super().finish(ctx)


def predraw_pct(rng: random.Random, n: int, n_threads: int, depth: int, k: int) -> list[int]:
    """A preemption-bounded schedule of PCT's depth: a random first thread, then ``depth - 1``
    preemptions at random decision points among the first ``k``."""
    out = [0] * max(n, 1)
    out[0] = rng.randrange(LCM)
    for p in rng.sample(range(1, max(k, depth) + 1), depth - 1):
        if p < len(out):
            out[p] = rng.randrange(1, max(n_threads, 2))
    return out
