"""``--strategy hypothesis`` (the default): Hypothesis draws the scenario and, lazily,
every scheduling decision (generate phase only: no ``target()`` hill climbing), and shrinks
a failure; fuzzlock's delta debugging then minimizes it further.

On a batched backend (the C model) the model calls the HypothesisChooser back at each
decision point, and then runs a batch of ``HYPOTHESIS_NATIVE_BATCH`` seeded random
schedules of the same scenario in one call (the seed is drawn by Hypothesis too, so the
example stays deterministic and shrinks); a violation found there is confirmed on the
reference like the seeded strategies'.

Why the batch: Hypothesis spends ~5 ms of its own per example, which capped the strategy
at ~170 schedules/s on native while the C model runs ~20,000; bugs that need one
interleaving in thousands (R5, ``anon_vma.free_handshake=false``) were caught by
``random`` in under a second and by ``hypothesis`` not in 30 s (docs/detection.md).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Generator

from fuzzlock import backends, model
from fuzzlock.search import seeded
from fuzzlock.search.base import (
    DIFFERENTIAL,
    Context,
    Found,
    Interrupted,
    Strategy,
    confirm_on_reference,
)
from fuzzlock.search.random import RANDOM_PREEMPTS

#: Seeded random schedules the C model runs after each native Hypothesis example.
#: Measured (scripts/hypothesis_batch.py, 3 seeds, median seconds to the first violation,
#: one run on the shared 2-vCPU VM): v6.19 free_handshake=false none in 30 s / 13.5 s /
#: 4.5 s for batch 0 / 32 / 128; v6.18 recheck_src_after_sleep=false 10.0 / 0.48 / 0.20 s;
#: v6.19 cow.reuse_lock=none 3.19 / 0.23 / 0.30 s; v6.19 recheck_dst_under_ptl=false 2.90
#: / 1.50 / 2.05 s.
HYPOTHESIS_NATIVE_BATCH = 128


class _Stop(Exception):
    pass


class HypothesisStrategy(Strategy):
    """One round: Hypothesis runs its own loop (it owns the generate/shrink phases)."""

    name = "hypothesis"

    def rounds(self, ctx: Context) -> Generator[Found | None, None, None]:
        yield self._search(ctx)

    def _search(self, ctx: Context) -> Found | None:
        from hypothesis import HealthCheck, Phase, given, reject, settings
        from hypothesis import seed as hseed
        from hypothesis import strategies as st

        from fuzzlock.scenarios import HypothesisSource, gen_scenario
        from fuzzlock.sched import HypothesisChooser

        stats, proto, backend, seed = ctx.stats, ctx.proto, ctx.backend, ctx.seed
        budget = stats.budget
        failures: list[Found] = []
        deadline = time.monotonic() + stats.max_seconds
        # the batch after each example on a batched backend (at most budget /
        # BUDGET_SCENARIOS schedules, as for the seeded strategies, so a small schedule
        # budget still tries many scenarios)
        per = 0
        if backend.batched:
            per = min(HYPOTHESIS_NATIVE_BATCH, max(0, budget // seeded.BUDGET_SCENARIOS - 1))

        @settings(
            max_examples=min(budget, 10**6),
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            # no Phase.target: with max_examples this large its first hill-climbing pass
            # may take up to max_examples // 8 examples; targeting "preemptions in critical
            # sections" spent whole budgets polishing one scenario and caught fewer knob
            # bugs than plain generation (docs/detection.md)
            phases=[Phase.generate, Phase.shrink],
            report_multiple_bugs=False,
        )
        @hseed(seed)
        @given(st.data())
        def prop(data: st.DataObject) -> None:
            if stats.stopped:  # also while shrinking: the last failure so far is kept
                raise Interrupted
            if not failures and (time.monotonic() > deadline or stats.schedules >= budget):
                raise _Stop
            sc = gen_scenario(HypothesisSource(data))
            chooser = HypothesisChooser(data, n_threads=len(sc.threads))
            try:
                r = backend.run(sc, proto, chooser=chooser)
            except model.SetupError:
                reject()
            if not r.violated and per > 0:
                stats.add(r.steps, r.digest, False)
                run_seed = data.draw(st.integers(0, 2**64 - 1), label="batch seed")
                spec = backends.BatchSpec("random", run_seed, per, RANDOM_PREEMPTS)
                try:
                    b = batcher.run(sc, proto, spec)
                except (backends.Unsupported, model.SetupError):
                    return  # outside the slice: the chooser's schedule was the example
                stats.add_batch(b.runs, b.steps, b.hashes, b.violation is not None)
                if b.violation is None:
                    return
                v = b.violation
                failures.append(Found(sc, v.trimmed_decisions(), v.outcome, seed, backend.name))
                raise AssertionError(v.outcome)
            if not failures or len(failures) < 10_000:
                stats.add(r.steps, r.digest, r.violated)
            if r.violated:
                failures.append(Found(sc, r.trimmed_decisions(), r.outcome, seed, backend.name))
                raise AssertionError(r.outcome)

        with backend.batches() as batcher:
            try:
                prop()
            except _Stop:
                return None
            except (AssertionError, Interrupted):
                pass
            except Exception as e:  # a Hypothesis wrapper of _Stop (e.g. flaky) ends it too
                if not failures:
                    spent = time.monotonic() > deadline or stats.schedules >= budget
                    if not spent:  # the budget did not end it: say what did
                        print(
                            f"fuzzlock: hypothesis ended the search: {type(e).__name__}",
                            file=sys.stderr,
                        )
                    return None
        if not failures:
            return None
        # Hypothesis replays the shrunk example last; keep the original invariant
        first = failures[0].outcome
        found = [f for f in failures if f.outcome == first][-1]
        if found.on != backends.REFERENCE:
            run = backend.run(found.scenario, proto, found.decisions)
            msg = confirm_on_reference(
                found.scenario, proto, found.decisions, found.outcome, run.events
            )
            if msg is not None:
                return Found(found.scenario, found.decisions, DIFFERENTIAL, seed, found.on, msg)
        return found
