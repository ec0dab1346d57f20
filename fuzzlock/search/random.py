"""``--strategy random``: seeded random scenarios, random-walk schedules.

Each decision is "stay" with probability ``1 - preempt`` (``preempt`` drawn per schedule
from ``RANDOM_PREEMPTS``) and else uniform among the enabled threads; on the C model the
same rule runs in C (``predraw_random`` is the rule without ``order``).
"""

from __future__ import annotations

import random
from typing import Any

from fuzzlock.scenario import Scenario
from fuzzlock.sched import RandomChooser
from fuzzlock.search.seeded import SeededStrategy

#: The random strategy's preemption probabilities (one drawn per schedule).
RANDOM_PREEMPTS = (0.05, 0.2, 0.5, 1.0)
#: Pre-drawn decisions are uniform in [0, LCM): lcm(1..16), so ``c % len(order)`` is
#: uniform for up to 16 enabled threads.
LCM = 720720


class RandomStrategy(SeededStrategy):
    name = "random"
    kind = "random"
    preempts = RANDOM_PREEMPTS

    def chooser(self, rng: random.Random, run_seed: int, sc: Scenario) -> Any:
        return RandomChooser(run_seed, preempt=rng.choice(RANDOM_PREEMPTS))


def predraw_random(rng: random.Random, n: int, preempt: float) -> list[int]:
    """``n`` decisions of the random chooser's rule without ``order``: 0 (stay) with
    probability ``1 - preempt``, else uniform."""
    if preempt >= 1.0:
        return [rng.randrange(LCM) for _ in range(n)]
    return [rng.randrange(LCM) if rng.random() < preempt else 0 for _ in range(n)]
