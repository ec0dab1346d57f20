"""Checking an exploration against naive enumeration, in one call.

A *target* is something to explore: a toy program or a model scenario, on the Python or
the C backend (``PyToy``, ``NativeToy``, ``Model``).  ``check_against_naive(target, k)``
explores it twice under the same bound (None: no bound) -- source-DPOR (``por=True``,
with sleep sets when unbounded) and naive enumeration of every schedule -- and asserts
that both finish and find the same Mazurkiewicz classes (by signature) and the same set
of end states.  Classes are compared among the runs that finished or deadlocked: a run
that a violation cuts short ends at a point that depends on the order of independent
steps (naive enumeration also runs the other threads' independent steps before the
violating one, each such prefix a class of its own), so there only the violation's id
is compared, as an end state.  A reduction that prunes a
class it should have explored (a sleep set that never wakes, a missed race, a footprint
that misses a conflict) shows up as a missing class or end state.

``check_covers(naive, target)`` is for targets whose unbounded naive enumeration is too
big to finish: the unbounded source-DPOR search must reach every class and end state
that a naive enumeration under a bound reached.

End states: for a run that finished or deadlocked, what the program left behind (toys:
the shared variables and what each thread did and saw -- its ops, objects and values in
its own order; the model: the thread results and the
final world, ghost mapping ids up to renaming); for a run cut short by a violation or
the step bound, just its outcome (where it stops depends on the schedule).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import attrs

from fuzzlock import explore, native
from fuzzlock.explore import Execution, Runner
from fuzzlock.sched import Replay
from fuzzlock.sched.footprint import Recorder
from tests import native_toy
from tests.sched import toy

FINAL = ("finished", "deadlock")
EndState = Callable[[Execution], Any]


@attrs.define
class Explored:
    """One exploration: its certificate, the classes of its runs that finished or
    deadlocked (by signature) and the end states it reached."""

    cert: explore.Certificate
    classes: set[Any]
    ends: set[Any]


class Target:
    """Something to explore; ``session()`` gives a runner and the end state of a run
    (called right after the run, before the next one)."""

    name = "?"

    def session(self) -> AbstractContextManager[tuple[Runner, EndState]]:
        raise NotImplementedError


def explored(target: Target, bound: int | None, por: bool, max_schedules: int | None) -> Explored:
    classes: set[Any] = set()
    ends: set[Any] = set()
    with target.session() as (runner, end_state):

        def keep(ex: Execution) -> None:
            if ex.outcome in FINAL:
                classes.add(explore.class_signature(ex.steps))
            ends.add(end_state(ex))

        cert = explore.explore(
            runner,
            bound,
            por=por,
            max_schedules=max_schedules,
            on_execution=keep,
            stop_on_violation=False,
            backend=type(target).__name__,
        )
    return Explored(cert, classes, ends)


def same_as_naive(naive: Explored, dpor: Explored, where: str) -> None:
    """Both finished, with the same classes (count and signatures) and end states."""
    assert naive.cert.complete, f"{where}: naive enumeration did not finish"
    assert dpor.cert.complete, f"{where}: source-DPOR did not finish"
    assert dpor.classes == naive.classes, (
        f"{where}: source-DPOR found {len(dpor.classes)} classes of complete runs, naive "
        f"enumeration {len(naive.classes)} ({len(naive.classes - dpor.classes)} missed)"
    )
    assert dpor.ends == naive.ends, (
        f"{where}: source-DPOR missed end states {naive.ends - dpor.ends}, "
        f"has extra {dpor.ends - naive.ends}"
    )


def check_against_naive(
    target: Target, bound: int | None, max_naive: int = 20_000
) -> tuple[Explored, Explored]:
    """Explore ``target`` by naive enumeration and by source-DPOR under ``bound``, assert
    ``same_as_naive``; (naive, dpor)."""
    naive = explored(target, bound, False, max_naive)
    dpor = explored(target, bound, True, None)
    same_as_naive(naive, dpor, f"{target.name}, bound {bound}")
    return naive, dpor


def check_covers(naive: Explored, target: Target) -> Explored:
    """The unbounded source-DPOR search (sleep sets on) of ``target`` reaches every class
    and end state of ``naive`` (a finished naive enumeration under some bound)."""
    where = f"{target.name}, unbounded vs naive bound {naive.cert.preemptions}"
    assert naive.cert.complete, f"{where}: naive enumeration did not finish"
    full = explored(target, None, True, None)
    assert full.cert.complete and full.cert.sleep_sets, where
    assert naive.classes <= full.classes, (
        f"{where}: the unbounded search ({len(full.classes)} classes of complete runs) misses "
        f"{len(naive.classes - full.classes)} of naive enumeration's {len(naive.classes)}"
    )
    assert naive.ends <= full.ends, f"{where}: missed end states {naive.ends - full.ends}"
    return full


# --- toy programs ----------------------------------------------------------------------------


def _toy_end(outcome: str, events: Sequence[Any], nthreads: int, variables: Sequence[int]) -> Any:
    if outcome not in FINAL:
        return (outcome,)
    seen = tuple(tuple(e[3:] for e in events if e[1] == t) for t in range(nthreads))
    return (outcome, tuple(variables), seen)


@attrs.define
class PyToy(Target):
    """A toy program (tests/sched/toy.py) on the Python scheduler; each shared variable
    is one cell (``Scheduler.mem_object_cells``)."""

    prog: toy.Program
    name: str = "python toy"
    max_steps: int = 500

    @contextmanager
    def session(self) -> Iterator[tuple[Runner, EndState]]:
        last: list[Any] = []

        def run(decisions: Sequence[int]) -> Execution:
            s, w = toy.build(self.prog, max_steps=self.max_steps)
            s.recorder = Recorder()
            s.mem_object_cells = True
            r = s.run(Replay(decisions))
            last[:] = [w]
            return Execution(s.step_infos, r.decisions, r.outcome, r.violation, r.events)

        def end(ex: Execution) -> Any:
            return _toy_end(ex.outcome, ex.events, len(self.prog), last[0].vars)

        yield run, end


@attrs.define
class NativeToy(Target):
    """The same toy program on the C scheduler (tests/native/toy.c), footprints from the
    instrumented build."""

    prog: toy.Program
    name: str = "C toy"
    max_steps: int = 500

    @contextmanager
    def session(self) -> Iterator[tuple[Runner, EndState]]:
        # no lockdep cells, as for the model (explore.scenario_runner) and the Python toys
        with native_toy.ToyFootprints(native_toy.encode_toy(self.prog), lockdep_cells=False) as tf:

            def run(decisions: Sequence[int]) -> Execution:
                r, steps = tf.run(decisions, max_steps=self.max_steps)
                return Execution(_infos(steps), r.decisions, r.outcome, r.message or None, r.events)

            def end(ex: Execution) -> Any:
                return _toy_end(ex.outcome, ex.events, len(self.prog), tf.vars()[:3])

            yield run, end


def _infos(steps: Sequence[native.StepInfo]) -> list[Any]:
    from fuzzlock.sched.footprint import UNIVERSAL, StepInfo

    return [
        StepInfo(s.tid, s.order, s.decided, frozenset(), frozenset({UNIVERSAL}))
        if s.writes is native.ALL_CELLS
        else StepInfo(s.tid, s.order, s.decided, s.reads, s.writes)
        for s in steps
    ]


# --- model scenarios -------------------------------------------------------------------------


@attrs.define
class Model(Target):
    """A scenario under a protocol on one backend, explored with the runner that
    ``--strategy exhaustive`` uses (``explore.scenario_runner``)."""

    sc: Any
    proto: Any
    backend: str
    name: str = "scenario"

    @contextmanager
    def session(self) -> Iterator[tuple[Runner, EndState]]:
        with explore.scenario_runner(self.sc, self.proto, self.backend) as (runner, state):

            def end(ex: Execution) -> Any:
                if ex.outcome not in FINAL:
                    return (ex.outcome,)
                results = tuple(map(tuple, ex.payload.results))
                # the backend's dump of the final world (the C model: its digest)
                return (ex.outcome, results, state(ex))

            yield runner, end
