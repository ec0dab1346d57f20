"""``--strategy exhaustive``: explore each scenario (given, or drawn from the seeded
generator until the budget ends) up to a preemption bound (fuzzlock.explore); every
finished exploration is a certificate (``HuntResult.certificates``).

Given scenarios are explored at the bound with the whole budget.  Generated scenarios are
a hunt, so they use iterative context bounding (CHESS): each is explored with 0, 1, ... up
to ``preemptions`` preemptions, and gets at most a share of the budget
(``EXHAUSTIVE_SCENARIO_SHARE``): one scenario whose bound-2 state space is too big for the
budget would otherwise eat the whole run while bugs that need fewer preemptions in the
next scenarios go unseen.  Such a scenario keeps the certificate of the highest bound it
finished.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

from fuzzlock import model
from fuzzlock.scenario import Scenario
from fuzzlock.scenarios import RandomSource, gen_scenario
from fuzzlock.search.base import Context, Found, Interrupted, Strategy

#: a generated scenario gets at most this share of an exhaustive hunt's budget ...
EXHAUSTIVE_SCENARIO_SHARE = 0.1
#: ... but never less than this (small budgets: tests, ``detection --quick``)
EXHAUSTIVE_SCENARIO_MIN_SECONDS = 0.5
EXHAUSTIVE_SCENARIO_MIN_SCHEDULES = 200


class ExhaustiveStrategy(Strategy):
    name = "exhaustive"

    def __init__(
        self,
        preemptions: int | None = 2,
        scenarios: list[Scenario] | None = None,
        naive: bool = False,
        compare_naive: bool = False,
    ) -> None:
        self.preemptions = preemptions
        self.scenarios = scenarios
        self.naive = naive
        self.compare_naive = compare_naive
        self.certs: list[Any] = []  # explore.Certificate

    def rounds(self, ctx: Context) -> Generator[Found | None, None, None]:
        from fuzzlock import explore

        stats, preemptions = ctx.stats, self.preemptions
        budget, max_seconds = stats.budget, stats.max_seconds
        certs = self.certs
        rng = random.Random(ctx.seed)
        queue = list(self.scenarios) if self.scenarios is not None else None
        index = 0
        while True:
            if queue is not None:
                if index >= len(queue):
                    return
                sc, name = queue[index], f"scenario {index}"
                bounds: list[int | None] = [preemptions]
                cap_s, cap_n = max_seconds, budget
            else:
                sc_seed = rng.randrange(2**32)
                sc = gen_scenario(RandomSource(random.Random(sc_seed)))
                name = f"generated scenario (seed {sc_seed})"
                bounds = [preemptions] if preemptions is None else list(range(preemptions + 1))
                cap_s = max(
                    EXHAUSTIVE_SCENARIO_MIN_SECONDS, max_seconds * EXHAUSTIVE_SCENARIO_SHARE
                )
                cap_n = max(
                    EXHAUSTIVE_SCENARIO_MIN_SCHEDULES, int(budget * EXHAUSTIVE_SCENARIO_SHARE)
                )
            index += 1
            start_s, start_n = stats.seconds, stats.schedules

            def count(ex: explore.Execution) -> None:
                stats.add(len(ex.steps), _digest(ex), ex.violation is not None)
                if stats.stopped and ex.violation is None:
                    raise Interrupted  # an unfinished exploration: no certificate

            def check_stop(ex: explore.Execution) -> None:
                if stats.stopped:
                    raise Interrupted

            last_complete: explore.Certificate | None = None
            cert: explore.Certificate | None = None
            try:
                for k in bounds:
                    left_s = min(max_seconds - stats.seconds, cap_s - (stats.seconds - start_s))
                    left_n = min(budget - stats.schedules, cap_n - (stats.schedules - start_n))
                    if left_s <= 0 or left_n <= 0:
                        break
                    cert = explore.explore_scenario(
                        sc,
                        ctx.proto,
                        ctx.backend.name,
                        k,
                        por=not self.naive,
                        max_seconds=left_s,
                        max_schedules=left_n,
                        name=name,
                        on_execution=count,
                    )
                    if cert.violation is not None or not cert.complete:
                        break
                    last_complete = cert
            except model.SetupError:
                yield None
                continue
            except Interrupted:
                if last_complete is not None:
                    certs.append(last_complete)
                return
            if last_complete is not None and last_complete is not cert:
                certs.append(last_complete)
            if cert is not None:
                certs.append(cert)
            if cert is not None and cert.violation is not None:
                ex = cert.violation
                yield Found(sc, list(ex.decisions), ex.outcome, ctx.seed, ctx.backend.name)
                return
            if self.compare_naive and not self.naive and cert is not None and cert.complete:
                # the comparison spends what is left of the hunt's budgets, not more: an
                # unbounded naive enumeration can outlast any budget by hours
                left_s = max_seconds - stats.seconds
                left_n = budget - stats.schedules
                if left_s <= 0 or left_n <= 0:
                    ctx.notes.append(f"{name}: naive comparison not run: the budget is spent")
                    yield None
                    continue
                try:
                    base = explore.explore_scenario(
                        sc,
                        ctx.proto,
                        ctx.backend.name,
                        cert.preemptions,
                        por=False,
                        max_seconds=left_s,
                        max_schedules=left_n,
                        name=name + " (naive)",
                        on_execution=check_stop,
                    )
                except Interrupted:
                    return
                certs.append(base)
                if base.complete and cert.schedules:
                    ctx.notes.append(
                        f"{name}: source-DPOR {cert.schedules} schedules vs naive "
                        f"{base.schedules} ({base.schedules / cert.schedules:.1f}x fewer), "
                        f"classes {cert.classes} vs {base.classes}"
                    )
            yield None

    def finish(self, ctx: Context) -> None:
        for c in self.certs:
            ctx.notes.append(f"{c.scenario}: {c.text()}")

    def to_json(self) -> dict[str, Any]:
        return {"certificates": [c.to_json() for c in self.certs]}


def _digest(ex: Any) -> str:
    from fuzzlock import trace

    return trace.digest(ex.events)
